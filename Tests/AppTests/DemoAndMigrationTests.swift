import Testing
import Fluent
import Vapor
import Ledger
@testable import App

@Suite struct DemoAndMigrationTests {
    private func counts(_ db: any Database) async throws -> [Int] {
        [try await User.query(on: db).count(), try await Programme.query(on: db).count(),
         try await Course.query(on: db).count(), try await CourseMember.query(on: db).count(),
         try await ProgrammeMember.query(on: db).count(), try await ResearchProject.query(on: db).count(),
         try await ProjectMember.query(on: db).count()]
    }

    @Test func demoDataHasTheAdvertisedPeopleAndPlaces() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            // 30 students + admin, instructor, TA, mentor; 1 programme; 2 courses; CS101 (instructor, TA, 30) + CS340 (instructor, 15).
            #expect(try await counts(app.db) == [34, 1, 2, 48, 2, 1, 3])
            let mentor = try #require(try await User.query(on: app.db).filter(\.$email == "mentor@partner.test").first())
            #expect(try Bcrypt.verify(DemoData.password, created: mentor.passwordHash ?? ""))
            let admin = try #require(try await User.query(on: app.db).filter(\.$email == "admin@demo.test").first())
            #expect(admin.isAdmin)
        }
    }

    @Test func loadingTheDemoTwiceAddsNothingTwice() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let before = try await counts(app.db)
            let accounts = try await LedgerAccount.query(on: app.db).sort(\.$naturalKey).all().map { [$0.balance, $0.held, $0.spent] }
            let entries = try await LedgerEntry.query(on: app.db).count()
            let second = try await DemoData.load(on: app.db, passwordHash: "unused")
            #expect(second.created == 0)
            #expect(try await counts(app.db) == before)
            #expect(try await LedgerAccount.query(on: app.db).sort(\.$naturalKey).all().map { [$0.balance, $0.held, $0.spent] } == accounts)
            #expect(try await LedgerEntry.query(on: app.db).count() == entries)
        }
    }

    /// The demo's credits: the grant, allocations, allowances in use, a price list and an alert, all conserved.
    @Test func theDemoHasCreditsInUse() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let programme = try #require(try await Programme.query(on: app.db).first())
            let view = try await CreditsViews.programme(programme, on: app.db)
            #expect(view.granted == Credits(whole: 5000))
            #expect(view.allocations.map(\.name) == ["Automated feedback for programming courses with LLMs", "CS101 Introduction to Programming",
                                                    "CS340 Cloud Computing"])
            #expect(view.allocations[1].balance.spent == Credits(whole: 117))  // 1.5 × (1 + … + 12)
            #expect(Set(try await LedgerPrice.query(on: app.db).all().map(\.meter)) == ["sandbox_cpu_second", "sandbox_wall_second", "lab_hour", "lab_cpu_hour",
                                                                                 "lab_memory_gb_hour", "slurm_core_hour", "slurm_memory_gb_hour", "slurm_gpu_hour",
                                                                                 "model_input_tokens:campuscloud-tutor",
                                                                                 "model_output_tokens:campuscloud-tutor"])
            #expect(try await Notice.query(on: app.db).filter(\.$threshold == 80).count() >= 2)  // students 11 and 12
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    @Test func demoRefusesADatabaseWithOtherData() async throws {
        try await withTestApp { app in
            try await User(email: "registrar@university.edu", displayName: "Registrar", passwordHash: nil).create(on: app.db)
            await #expect(throws: StartupError.self) {
                try await app.loadDemoData()
            }
            // Nothing was written: still one user, no programme, no marker.
            #expect(try await User.query(on: app.db).count() == 1)
            #expect(try await Programme.query(on: app.db).count() == 0)
            #expect(try await PlatformSetting.query(on: app.db).count() == 0)
        }
    }

    @Test func migrationsGoUpDownAndUpAgain() async throws {
        try await withTestApp(migrate: false) { app in
            try await PlatformRuntime.ensureMigrated(app, apply: true)
            #expect(try await app.migrator.previewPrepareBatch().get().isEmpty)
            #expect(try await User.query(on: app.db).count() == 0)

            try await app.migrator.revertAllBatches().get()
            await #expect(throws: (any Error).self) { try await User.query(on: app.db).count() }
            #expect(try await app.migrator.previewPrepareBatch().get().count == Migrations.all.count)

            try await app.migrator.prepareBatch().get()
            try await app.loadDemoData()
            #expect(try await User.query(on: app.db).count() == 34)
        }
    }

    @Test func serveRefusesPendingMigrationsUnlessAsked() async throws {
        try await withTestApp(migrate: false) { app in
            await #expect(throws: StartupError.self) {
                try await PlatformRuntime.ensureMigrated(app, apply: false)
            }
            let pending = try await app.migrator.previewPrepareBatch().get()
            #expect(pending.count == Migrations.all.count)
        }
    }
}
