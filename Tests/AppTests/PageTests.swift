import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct PageTests {
    /// Every link and form in every template leads to a route the platform has (a page, an API download, a static
    /// file): a renamed path cannot leave a template pointing nowhere. Links a view-model gives (`#(path)/…`,
    /// `#(notice.link)`) come from `SitePath` and are checked by the compiler.
    @Test func everyLinkInEveryTemplateLeadsToARoute() async throws {
        try await withTestApp { app in
            let resources = try PlatformResources.locate()
            let templates = try FileManager.default.contentsOfDirectory(atPath: resources.views).filter { $0.hasSuffix(".leaf") }
            #expect(templates.count >= 20)
            let routes = app.routes.all.map { route in route.path.map { component -> String? in
                if case .parameter = component { return nil }
                return component.description
            } }
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: resources.publicFiles))
            var checked = 0
            for template in templates {
                let text = try String(contentsOfFile: resources.views + template, encoding: .utf8)
                let links = text.matches(of: /(?:href|action)="(\/[^"]*)"/).map { String($0.output.1) }
                for link in links {
                    let path = link.split(separator: "?")[0].replacing(/#[^(].*$/, with: "")
                    let segments = path.split(separator: "/").map { $0.hasPrefix("#(") ? "#" : String($0) }
                    let known = segments.count == 1 && files.contains(segments[0]) || segments.isEmpty && routes.contains { $0.isEmpty }
                        || routes.contains { route in
                            route.count == segments.count && zip(route, segments).allSatisfy { pattern, segment in pattern == nil ? segment == "#" || UUID(uuidString: segment) != nil : pattern == segment }
                        }
                    #expect(known, "\(template): \(link) leads to no route")
                    checked += 1
                }
            }
            #expect(checked >= 80)
        }
    }

    @Test func landingPageListsProgrammesInTheBaseLayout() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            try await app.testing().test(.GET, "/") { res async throws in
                #expect(res.status == .ok)
                #expect(res.headers.contentType == .html)
                let html = res.body.string
                #expect(html.contains(#"<html lang="en">"#))
                #expect(html.contains(#"<link rel="stylesheet" href="/styles.css">"#))
                #expect(html.contains("Cloud &amp; AI Empowerment Programme"))
                #expect(html.contains("Nimbus Cloud"))
                #expect(!html.contains("student1@demo.test"))  // no people on a public page
            }
        }
    }

    @Test func stylesheetIsServed() async throws {
        try await withTestApp { app in
            try await app.testing().test(.GET, "styles.css") { res async throws in
                #expect(res.status == .ok)
                #expect(res.body.string.contains("font"))
            }
        }
    }

    @Test func unknownAPIRouteAnswersJSON404() async throws {
        try await withTestApp { app in
            try await app.testing().test(.GET, "api/v1/nothing/here") { res async throws in
                #expect(res.status == .notFound)
                #expect(res.headers.contentType == .json)
                let body = try res.content.decode(ErrorBody.self)
                #expect(body.error.type == "not_found_error")
                #expect(!body.error.message.isEmpty)
            }
        }
    }

    @Test func unknownPageAnswersHTML404WithoutInternals() async throws {
        try await withTestApp { app in
            try await app.testing().test(.GET, "no/such/page") { res async throws in
                #expect(res.status == .notFound)
                #expect(res.headers.contentType == .html)
                #expect(res.body.string.contains("<h1>404"))
                #expect(!res.body.string.contains("Abort"))
                #expect(!res.body.string.contains(".swift"))
            }
        }
    }
}
