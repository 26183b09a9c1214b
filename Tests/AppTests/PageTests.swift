import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct PageTests {
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
