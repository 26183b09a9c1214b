// Finds the page templates and static files shipped inside the App module's resource bundle.
import Foundation
import Vapor

struct PlatformResources {
    let views: String
    let publicFiles: String

    static func locate() throws -> PlatformResources {
        // The bundle holds the copied `Resources` folder (`.copy("Resources")` in Package.swift). Foundation's
        // `resourceURL` differs between platforms, so start from the bundle itself.
        let root = Bundle.module.bundleURL.appendingPathComponent("Resources")
        let views = root.appendingPathComponent("Views").path + "/"
        guard FileManager.default.fileExists(atPath: views) else { throw StartupError.resourcesMissing(views) }
        return PlatformResources(views: views, publicFiles: root.appendingPathComponent("Public").path + "/")
    }
}

/// The static files (`Public/`) for GET and HEAD only: every other request (an API call, a model request) goes
/// straight on, without a look at the file system first.
struct StaticFilesMiddleware: Middleware {
    let files: FileMiddleware

    init(publicDirectory: String) { files = FileMiddleware(publicDirectory: publicDirectory) }

    /// Other requests go on from the event loop, without a task (see `RequestMetricsMiddleware`).
    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        guard request.method == .GET || request.method == .HEAD else { return next.respond(to: request) }
        return files.respond(to: request, chainingTo: next)
    }
}
