import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct PageTests {
    /// Templates spell no path of the platform's: every link and form action comes from the page's view-model
    /// (made from `SitePath`); only the static files (the stylesheet) are named in a template.
    @Test func templatesTakeTheirLinksFromTheirViewModels() throws {
        let resources = try PlatformResources.locate()
        let templates = try FileManager.default.contentsOfDirectory(atPath: resources.views).filter { $0.hasSuffix(".leaf") }
        #expect(templates.count >= 20)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: resources.publicFiles))
        for template in templates {
            let text = try String(contentsOfFile: resources.views + template, encoding: .utf8)
            for match in text.matches(of: /(?:href|action)="\/([^"]*)"/) {
                #expect(files.contains(String(match.output.1)), "\(template) spells the path /\(match.output.1): give it from the view-model")
            }
        }
    }

    /// Every page the demo's people can reach from their dashboard, followed link by link, answers, and every link
    /// and form on it leads to a route the platform has: a view-model cannot hand a template a path to nowhere.
    @Test func everyLinkOnEveryReachablePageLeadsToARoute() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            #expect(try await DemoData.loadLabs(app: app) == 2)
            let routes = app.routes.all.map { route in (route.method, route.path.map { component -> String? in
                if case .parameter = component { return nil }
                return component.description
            }) }
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: try PlatformResources.locate().publicFiles))
            /// The methods the platform answers at a link's path (none: it leads nowhere).
            func methods(for link: String) -> Set<String> {
                let segments = link.split(separator: "?")[0].split(separator: "#", omittingEmptySubsequences: false)[0].split(separator: "/").map(String.init)
                if segments.count == 1 && files.contains(segments[0]) { return ["GET"] }
                return Set(routes.filter { _, pattern in
                    pattern.count == segments.count && zip(pattern, segments).allSatisfy { $0 == nil ? UUID(uuidString: $1) != nil : $0 == $1 }
                }.map(\.0.rawValue))
            }
            var pages = 0, links = 0
            for email in ["admin@demo.test", "instructor@demo.test", "student1@demo.test", "mentor@partner.test"] {
                let browser = try Browser(app)
                try await browser.signIn(email)
                var queue = ["/dashboard"], seen: Set<String> = ["/dashboard"]
                while let next = queue.first, pages < 400 {
                    queue.removeFirst()
                    let response = try await browser.get(next)
                    #expect(response.status == .ok, "\(email): GET \(next) answered \(response.status)")
                    pages += 1
                    for match in response.body.string.matches(of: /(?:href|action)="(\/[^"]*)"/) {
                        let link = String(match.output.1).replacingOccurrences(of: "&amp;", with: "&")
                        links += 1
                        let isForm = match.output.0.hasPrefix("action")
                        #expect(methods(for: link).contains(isForm ? "POST" : "GET") || isForm && methods(for: link).contains("GET"),
                                "\(email): \(next) links to \(link), which no route answers")
                        let path = String(link.split(separator: "#", omittingEmptySubsequences: false)[0])
                        let isPage = !path.hasPrefix("/api/") && !path.hasSuffix(".csv") && !path.hasSuffix(".zip") && !path.hasSuffix(".css")
                        if isPage, !isForm, methods(for: path).contains("GET"), !seen.contains(path) {
                            seen.insert(path)
                            queue.append(path)
                        }
                    }
                }
            }
            #expect(pages >= 20 && links >= 100, "\(pages) pages, \(links) links")
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

    /// Static files answer GET and HEAD only: any other method goes on to the routes (here none: 404), with no look
    /// at the file system and never the file.
    @Test func staticFilesAreForGetAndHeadOnly() async throws {
        try await withTestApp { app in
            try await app.testing().test(.HEAD, "styles.css") { res async throws in
                #expect(res.status == .ok)
            }
            for method in [HTTPMethod.POST, .PUT, .DELETE] {
                try await app.testing().test(method, "styles.css") { res async throws in
                    #expect(res.status == .notFound, "\(method)")
                    #expect(!res.body.string.contains("font"), "\(method): the stylesheet was served")
                }
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
