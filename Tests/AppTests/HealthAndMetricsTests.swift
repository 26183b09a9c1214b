import Testing
import Foundation
import Vapor
import VaporTesting
import FluentPostgresDriver
@testable import App
import Sandbox

@Suite struct HealthAndMetricsTests {
    @Test func healthAnswersOkWhenTheDatabaseAnswers() async throws {
        try await withTestApp { app in
            try await app.testing().test(.GET, "healthz") { res async throws in
                #expect(res.status == .ok)
                let body = try res.content.decode(HealthStatus.self)
                #expect(body.status == "ok")
                #expect(body.database == "ok")
            }
        }
    }

    @Test func healthAnswers503WhenPostgresIsUnreachable() async throws {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let unreachable = try DatabaseURL.parse("postgres://cc:secret-pw@127.0.0.1:1/campuscloud")
        try await withTestApp(migrate: false, database: unreachable) { app in
            try await app.testing().test(.GET, "healthz") { res async throws in
                #expect(res.status == .serviceUnavailable)
                let body = try res.content.decode(HealthStatus.self)
                #expect(body.database == "unreachable")
                #expect(body.reason?.isEmpty == false)
                #expect(!res.body.string.contains("secret-pw"))
            }
        }
    }

    @Test func metricsCountRequestsByRouteAndStatusInPrometheusFormat() async throws {
        try await withTestApp { app in
            let tester = try app.testing()
            try await tester.test(.GET, "healthz") { _ in }
            try await tester.test(.GET, "healthz") { _ in }
            try await tester.test(.GET, "api/v1/no-such-thing") { _ in }
            try await tester.test(.GET, "metrics") { res async throws in
                #expect(res.status == .ok)
                #expect(res.headers.contentType?.description.hasPrefix("text/plain") == true)
                let text = res.body.string
                #expect(text.contains(#"http_requests_total{method="GET",route="/healthz",status="200"} 2"#))
                #expect(text.contains(#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#))
                #expect(text.contains("# TYPE http_request_duration_seconds histogram"))
                #expect(text.contains(#"http_request_duration_seconds_count{method="GET",route="/healthz"} 2"#))
                // Every sample line has the exposition format's shape: name{labels} value
                let sample = try Regex(#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+]+|\+Inf|NaN$"#)
                for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                    #expect(line.wholeMatch(of: sample) != nil, "not a Prometheus sample line: \(line)")
                }
            }
        }
    }
}

@Suite struct SandboxMetricsTests {
    @Test func theApplicationsSandboxRunsJobsAndCountsThemInMetrics() async throws {
        try await withTestApp { app in
            let result = try await app.sandbox.run(SandboxJob(command: ["python3", "-c", "print(sum(range(10)))"]))
            #expect(result.status == .ok)
            #expect(result.stdout == "45\n")
            try await app.testing().test(.GET, "metrics") { res async throws in
                #expect(res.body.string.contains(#"sandbox_jobs_total{status="ok"} 1"#))
                #expect(res.body.string.contains("sandbox_wall_seconds_total"))
            }
        }
    }

    @Test func sandboxJobsAreCountedWithTheirSeconds() throws {
        let metrics = PlatformMetrics()
        let result = SandboxResult(status: .timeout, exitCode: nil, signal: 9, cpuMs: 1500, wallMs: 2000, maxRssKb: 1,
                                   stdout: "", stderr: "", truncated: false, outputFiles: [], skippedOutputs: [])
        metrics.recordSandboxJob(result)
        metrics.recordSandboxJob(result)
        let text = metrics.exposition()
        #expect(text.contains(#"sandbox_jobs_total{status="timeout"} 2"#))
        #expect(text.contains("sandbox_cpu_seconds_total 3"))
        #expect(text.contains("sandbox_wall_seconds_total 4"))
    }
}

@Suite struct TestDatabaseTests {
    /// CI runs the suite twice; this proves the second run really talks to PostgreSQL.
    @Test func eachTestGetsTheDatabaseKindTheRunAskedFor() async throws {
        try await withTestApp { app in
            let dialect = try #require(app.db as? any SQLDatabase).dialect.name
            #expect(dialect == (TestDatabase.isPostgres ? "postgresql" : "sqlite"))
        }
    }

    @Test func testsDoNotShareADatabase() async throws {
        try await withTestApp { first in
            try await User(email: "only-here@test", displayName: "A", passwordHash: nil).create(on: first.db)
            try await withTestApp { second in
                let users = try await User.query(on: second.db).count()
                #expect(users == 0)
            }
        }
    }
}
