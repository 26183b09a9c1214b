// Finds the page templates and static files shipped inside the App module's resource bundle.
import Foundation

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
