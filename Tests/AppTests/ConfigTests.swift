import Testing
import Foundation
@testable import App

@Suite struct ConfigTests {
    @Test func defaultsGiveSQLiteInTheWorkingDirectory() throws {
        let config = try AppConfig.parse(environment: [:])
        #expect(config.database == .sqliteFile(path: "campuscloud.sqlite"))
        #expect(config.dataDirectory == "campuscloud-data")
        #expect(config.logLevel == .info)
        #expect(config.secret == nil)
    }

    @Test func postgresURLSelectsPostgreSQL() throws {
        let config = try AppConfig.parse(environment: ["DATABASE_URL": "postgres://cc:pw@db.example.edu:6543/campus"])
        guard case .postgres(_, let host, let port, let database) = config.database else {
            Issue.record("expected PostgreSQL, got \(config.database)")
            return
        }
        #expect(host == "db.example.edu")
        #expect(port == 6543)
        #expect(database == "campus")
        #expect(try AppConfig.parse(environment: ["DATABASE_URL": "postgresql://h/db"]).database.isPostgres)
    }

    @Test func sqliteForms() throws {
        #expect(try DatabaseURL.parse("sqlite:///var/lib/cc/db.sqlite") == .sqliteFile(path: "/var/lib/cc/db.sqlite"))
        #expect(try DatabaseURL.parse("sqlite::memory:") == .sqliteMemory)
    }

    @Test func everyVariableIsRead() throws {
        let config = try AppConfig.parse(environment: [
            "CAMPUSCLOUD_DATA_DIR": "/srv/cc", "LOG_LEVEL": "DEBUG", "CAMPUSCLOUD_SECRET": String(repeating: "k", count: 32),
            "CAMPUSCLOUD_DB_CONNECTIONS": "40", "CAMPUSCLOUD_AI_WRITE_TIMEOUT": "15", "CAMPUSCLOUD_UNSAFE_WEAK_SANDBOX": "1",
            "CAMPUSCLOUD_SANDBOX_UIDS": "61000-61999", "CAMPUSCLOUD_LAB_SESSIONS": "0", "CAMPUSCLOUD_LAB_HOMES": "/mnt/homes",
            "CAMPUSCLOUD_PUBLIC_URL": "https://cc.example.edu", "CAMPUSCLOUD_LABS_URL": "https://labs.cc.example.edu",
            "CAMPUSCLOUD_TOKEN_LEEWAY": "5",
        ])
        #expect(config.labsURL?.absoluteString == "https://labs.cc.example.edu" && config.tokenLeeway == 5)
        #expect(config.sandboxUIDs == 61_000...61_999 && config.labSessions == 0 && config.labHomes == "/mnt/homes")
        #expect(SandboxService.configuration(for: config).uidRange == 61_000...61_999)
        #expect(LabHost.homesFolder(config) == "/mnt/homes")
        let defaults = try AppConfig.parse(environment: ["CAMPUSCLOUD_DATA_DIR": "/srv/cc"])
        #expect(defaults.sandboxUIDs == 60_000...60_999 && defaults.labSessions == 100 && LabHost.homesFolder(defaults) == "/srv/cc/lab-homes")
        #expect(config.databaseConnections == 40)
        #expect(config.aiWriteTimeout == 15 && config.unsafeWeakSandbox)
        #expect(try AppConfig.parse(environment: [:]).unsafeWeakSandbox == false)
        #expect(config.dataDirectory == "/srv/cc")
        #expect(config.logLevel == .debug)
        #expect(config.secret == String(repeating: "k", count: 32))
    }

    @Test(arguments: [
        (["DATABASE_URL": "mysql://h/db"], "DATABASE_URL", "mysql"),
        (["DATABASE_URL": "sqlite://"], "DATABASE_URL", "names no file"),
        (["DATABASE_URL": "postgres://user@host"], "DATABASE_URL", "names no database"),
        (["LOG_LEVEL": "loud"], "LOG_LEVEL", "'loud'"),
        (["CAMPUSCLOUD_SECRET": "short"], "CAMPUSCLOUD_SECRET", "too short"),
        (["CAMPUSCLOUD_DB_CONNECTIONS": "0"], "CAMPUSCLOUD_DB_CONNECTIONS", "from 1 to 1000"),
        (["CAMPUSCLOUD_AI_WRITE_TIMEOUT": "0"], "CAMPUSCLOUD_AI_WRITE_TIMEOUT", "from 1 to 3600"),
        (["CAMPUSCLOUD_TOKEN_LEEWAY": "601"], "CAMPUSCLOUD_TOKEN_LEEWAY", "from 0 to 600"),
        (["CAMPUSCLOUD_TOKEN_LEEWAY": "a minute"], "CAMPUSCLOUD_TOKEN_LEEWAY", "from 0 to 600"),
        (["CAMPUSCLOUD_UNSAFE_WEAK_SANDBOX": "yes please"], "CAMPUSCLOUD_UNSAFE_WEAK_SANDBOX", "development only"),
        (["CAMPUSCLOUD_SANDBOX_UIDS": "0-99999"], "CAMPUSCLOUD_SANDBOX_UIDS", "61000-61999"),
        (["CAMPUSCLOUD_SANDBOX_UIDS": "61000"], "CAMPUSCLOUD_SANDBOX_UIDS", "61000-61999"),
        (["CAMPUSCLOUD_LAB_SESSIONS": "-1"], "CAMPUSCLOUD_LAB_SESSIONS", "from 0"),
        (["CAMPUSCLOUD_LAB_HOMES": "homes"], "CAMPUSCLOUD_LAB_HOMES", "absolute path"),
        (["CAMPUSCLOUD_LABS_URL": "https://labs.cc.example.edu"], "CAMPUSCLOUD_LABS_URL", "needs CAMPUSCLOUD_PUBLIC_URL"),
        (["CAMPUSCLOUD_LABS_URL": "https://cc.example.edu", "CAMPUSCLOUD_PUBLIC_URL": "https://cc.example.edu/"], "CAMPUSCLOUD_LABS_URL", "host name of their own"),
        (["CAMPUSCLOUD_LABS_URL": "labs", "CAMPUSCLOUD_PUBLIC_URL": "https://cc.example.edu"], "CAMPUSCLOUD_LABS_URL", "not an http(s) address"),
        (["CAMPUSCLOUD_LABS_URL": "https://cc.example.edu:8443", "CAMPUSCLOUD_PUBLIC_URL": "https://cc.example.edu"], "CAMPUSCLOUD_LABS_URL", "host name of their own"),
        (["CAMPUSCLOUD_LABS_URL": "https://example.edu", "CAMPUSCLOUD_PUBLIC_URL": "https://cc.example.edu"], "CAMPUSCLOUD_LABS_URL", "host name of their own"),
        (["CAMPUSCLOUD_LABS_URL": "http://labs.cc.example.edu", "CAMPUSCLOUD_PUBLIC_URL": "https://cc.example.edu"], "CAMPUSCLOUD_LABS_URL", "give an https address"),
    ])
    func badValuesStopStartUpWithOneSentence(environment: [String: String], variable: String, mention: String) {
        #expect {
            try AppConfig.parse(environment: environment)
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.variable == variable && error.description.contains(mention) && error.description.hasSuffix(".")
        }
    }

    @Test func descriptionNeverShowsSecretOrPassword() throws {
        let secret = String(repeating: "z", count: 40)
        let config = try AppConfig.parse(environment: ["DATABASE_URL": "postgres://cc:hunter2@db/campus", "CAMPUSCLOUD_SECRET": secret])
        #expect(!config.description.contains("hunter2"))
        #expect(!config.description.contains(secret))
        #expect(config.description.contains("db"))
    }

    @Test func secretIsGeneratedOnceAndKeptPrivate() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cc-secret-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let config = AppConfig(database: .sqliteMemory, dataDirectory: folder)
        let first = try SecretStore.resolve(config)
        let second = try SecretStore.resolve(config)
        #expect(first == second)
        #expect(first.utf8.count >= AppConfig.minimumSecretLength)
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/secret")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        var given = config
        given.secret = String(repeating: "g", count: 32)
        #expect(try SecretStore.resolve(given) == given.secret)
    }
}
