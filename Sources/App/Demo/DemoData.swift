// The demo data set: one programme with an industry partner, two courses, staff, 30 students and a research
// project with a partner mentor. Loading is idempotent (each record is found by its natural key before it is
// created) and refuses a database that holds anything but demo data.
import Fluent
import Ledger
import Vapor

public enum DemoData {
    public static let password = "campuscloud-demo"
    static let programmeName = "Cloud & AI Empowerment Programme"
    static let partner = "Nimbus Cloud"
    static let studentCount = 30

    public struct Person: Sendable {
        public var email: String
        public var name: String
        public var isAdmin = false
    }

    public static let admin = Person(email: "admin@demo.test", name: "Ada Admin", isAdmin: true)
    public static let instructor = Person(email: "instructor@demo.test", name: "Ines Instructor")
    public static let ta = Person(email: "ta@demo.test", name: "Tom Assistant")
    public static let mentor = Person(email: "mentor@partner.test", name: "Maya Mentor (Nimbus Cloud)")
    public static let students = (1...studentCount).map { Person(email: "student\($0)@demo.test", name: "Student \($0)") }
    public static var everyone: [Person] { [admin, instructor, ta, mentor] + students }

    public struct LoadResult: Sendable, Equatable {
        public var created: Int
    }

    /// Loads the data set; returns how many records it created (0 when everything was already there).
    /// `passwordHash` is computed once by the caller and shared by every demo account (one fixed password).
    @discardableResult
    public static func load(on db: any Database, passwordHash: String, credits: Bool = true) async throws -> LoadResult {
        try await db.transaction { db in
            try await ensureDemoDatabase(db)
            var created = 0
            func count<T>(_ pair: (T, Bool)) -> T { if pair.1 { created += 1 }; return pair.0 }

            var users: [String: UUID] = [:]
            for person in everyone {
                let user = count(try await findOrCreate(User.query(on: db).filter(\.$email == person.email), on: db) {
                    User(email: person.email, displayName: person.name, passwordHash: passwordHash, isAdmin: person.isAdmin)
                })
                users[person.email] = try user.requireID()
            }

            let start = date(2026, 9, 1), end = date(2028, 8, 31)
            let programme = count(try await findOrCreate(Programme.query(on: db).filter(\.$name == programmeName), on: db) {
                Programme(name: programmeName, partnerOrganisation: partner, startsOn: start, endsOn: end,
                          description: "Nimbus Cloud grants cloud credits, compute and AI-model access; the university turns them into teaching tools and joint research.")
            })
            let programmeID = try programme.requireID()
            created += try await ensure(ProgrammeMember.query(on: db).filter(\.$programme.$id == programmeID).filter(\.$user.$id == users[admin.email]!), on: db) {
                ProgrammeMember(programmeID: programmeID, userID: users[admin.email]!, role: .manager)
            }
            created += try await ensure(ProgrammeMember.query(on: db).filter(\.$programme.$id == programmeID).filter(\.$user.$id == users[mentor.email]!), on: db) {
                ProgrammeMember(programmeID: programmeID, userID: users[mentor.email]!, role: .partnerContact)
            }

            let term = "2026 Autumn"
            let intro = count(try await findOrCreate(Course.query(on: db).filter(\.$code == "CS101").filter(\.$term == term), on: db) {
                Course(programmeID: programmeID, code: "CS101", title: "Introduction to Programming", term: term,
                       startsOn: date(2026, 9, 14), endsOn: date(2026, 12, 18))
            })
            let cloud = count(try await findOrCreate(Course.query(on: db).filter(\.$code == "CS340").filter(\.$term == term), on: db) {
                Course(programmeID: programmeID, code: "CS340", title: "Cloud Computing", term: term,
                       startsOn: date(2026, 9, 14), endsOn: date(2026, 12, 18))
            })
            // CS101: every student; CS340: the second half of the class. The instructor teaches both; the TA helps in CS101.
            var rosters: [(Course, String, CourseRole)] = [(intro, instructor.email, .instructor), (intro, ta.email, .ta), (cloud, instructor.email, .instructor)]
            for (index, student) in students.enumerated() {
                rosters.append((intro, student.email, .student))
                if index >= studentCount / 2 { rosters.append((cloud, student.email, .student)) }
            }
            let existingCourseMembers = try await CourseMember.query(on: db).all()
            let present = Set(existingCourseMembers.map { "\($0.$course.id)/\($0.$user.id)" })
            var joined: [UUID] = []
            for (course, email, role) in rosters {
                let courseID = try course.requireID(), userID = users[email]!
                if present.contains("\(courseID)/\(userID)") { continue }
                let member = CourseMember(courseID: courseID, userID: userID, role: role)
                try await member.create(on: db)
                joined.append(try member.requireID())
                created += 1
            }
            // The demo's people have been in their courses since the term began (both courses start together).
            if !joined.isEmpty { try await CourseMember.query(on: db).filter(\.$id ~~ joined).set(\.$joinedAt, to: intro.startsOn).update() }

            let project = count(try await findOrCreate(ResearchProject.query(on: db).filter(\.$title == "Automated feedback for programming courses with LLMs"), on: db) {
                ResearchProject(programmeID: programmeID, title: "Automated feedback for programming courses with LLMs",
                                summary: "Can model-generated hints on failing tests help CS101 students without giving answers away?", status: "active")
            })
            let projectID = try project.requireID()
            for (email, role) in [(instructor.email, ProjectRole.pi), (ta.email, .member), (mentor.email, .mentor)] {
                created += try await ensure(ProjectMember.query(on: db).filter(\.$project.$id == projectID).filter(\.$user.$id == users[email]!), on: db) {
                    ProjectMember(projectID: projectID, userID: users[email]!, role: role)
                }
            }

            if credits { created += try await loadCredits(programme: programme, courses: (intro, cloud), project: project, users: users, on: db) }

            if try await PlatformSetting.find(PlatformSetting.demoDatasetKey, on: db) == nil {
                try await PlatformSetting(key: PlatformSetting.demoDatasetKey, value: "1").create(on: db)
                created += 1
            }
            return LoadResult(created: created)
        }
    }

    /// A database is the demo's when it is empty or was created by the demo. Anything else is refused untouched.
    static func ensureDemoDatabase(_ db: any Database) async throws {
        if try await PlatformSetting.find(PlatformSetting.demoDatasetKey, on: db) != nil { return }
        let users = try await User.query(on: db).count()
        let programmes = try await Programme.query(on: db).count()
        if users > 0 || programmes > 0 { throw StartupError.notDemoDatabase(users: users) }
    }

    private static func findOrCreate<M: Model>(_ query: QueryBuilder<M>, on db: any Database, make: () -> M) async throws -> (M, Bool) {
        if let existing = try await query.first() { return (existing, false) }
        let model = make()
        try await model.create(on: db)
        return (model, true)
    }

    private static func ensure<M: Model>(_ query: QueryBuilder<M>, on db: any Database, make: () -> M) async throws -> Int {
        try await findOrCreate(query, on: db, make: make).1 ? 1 : 0
    }

    private static func date(_ year: Int, _ month: Int, _ day: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day))!
    }
}

extension DemoData {
    /// Before any migration touches it: a database with applied migrations must already be the demo's.
    static func refuseForeignDatabase(_ app: Application) async throws {
        try await app.migrator.setupIfNeeded().get()
        let applied = try await app.migrator.previewRevertAllBatches().get()
        if applied.isEmpty { return }
        try await ensureDemoDatabase(app.db)
    }

    /// The partner's grant, allocations to both courses and the project, default allowances, a price list, and a
    /// term's worth of use (student 3 is near their cap), so the credits pages show something real. Every step has
    /// a key, so loading again moves nothing twice.
    static func loadCredits(programme: Programme, courses: (intro: Course, cloud: Course), project: ResearchProject,
                            users: [String: UUID], on db: any Database) async throws -> Int {
        // The term began eight weeks ago: the grant then, allocations the next day, use spread over the weeks since
        // (so the burn-down has a shape).
        var ledger = LedgerStore(db: db, gate: nil)
        let termStart = Date().addingTimeInterval(-56 * 86_400)
        func on(day: Int) -> LedgerStore {
            var dated = ledger
            dated.clock = { termStart.addingTimeInterval(Double(day) * 86_400) }
            return dated
        }
        ledger = on(day: 0)
        let alreadyGranted = try await LedgerEntry.query(on: db).filter(\.$idempotencyKey == "demo:grant").first() != nil
        try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                  amount: Credits(whole: 5000), memo: "Nimbus Cloud credits, first tranche", key: "demo:grant")
        let pool = try await ledger.pool(of: programme)
        for (place, amount, key) in [(LedgerPlace.course(courses.intro), 1200, "demo:cs101"), (.course(courses.cloud), 800, "demo:cs340"),
                                     (.project(project), 1500, "demo:project")] as [(LedgerPlace, Int64, String)] {
            let allocation = try await ledger.allocation(of: place)
            if allocation.expiresAt == nil {
                allocation.expiresAt = programme.endsOn
                try await allocation.save(on: db)
            }
            try await on(day: 1).transfer(.allocate, from: pool, to: allocation, amount: Credits(whole: amount), memo: "allocation to \(place.name)", key: key)
        }
        _ = try await ledger.setDefaultAllowance(in: .course(courses.intro), to: Credits(whole: 20), actor: nil)
        _ = try await ledger.setDefaultAllowance(in: .course(courses.cloud), to: Credits(whole: 30), actor: nil)
        if try await LedgerPrice.query(on: db).count() == 0 {
            for (meter, price) in [(Meter.sandboxCPUSecond, "0.01"), (.sandboxWallSecond, "0.002"), (.labHour, "1"), (.labCPUHour, "0.5"), (.labMemoryGBHour, "0.1"),
                                   (.slurmCoreHour, "3.6"), (.slurmMemoryGBHour, "0.5"), (.slurmGPUHour, "36"),
                                   (.modelInput("campuscloud-tutor"), "0.5"), (.modelOutput("campuscloud-tutor"), "1.5")] {
                try await LedgerPrice(meter: meter.name, price: Credits.parse(price)!.micro, effectiveFrom: programme.startsOn).create(on: db)
            }
        }
        // A term of autograder runs: student n has used 1.5 × n credits of CS101's 20 (student 12 is at 90%).
        for index in 1...12 {
            guard let userID = users["student\(index)@demo.test"], let user = try await User.find(userID, on: db) else { continue }
            let dated = on(day: 2 + index * 4)
            let allowance = try await dated.allowance(of: user, in: .course(courses.intro))
            let used = Credits(micro: Int64(index) * 1_500_000)
            let hold = try await dated.reserve(allowance, amount: used, reason: "autograder runs", key: "demo:use:\(index)")
            _ = try await dated.settle(hold.requireID(), actual: used)
        }
        if let taID = users[ta.email], let assistant = try await User.find(taID, on: db) {
            _ = try await ledger.setAllowance(of: assistant, in: .project(project), to: Credits(whole: 200), actor: nil)
            let allowance = try await ledger.allowance(of: assistant, in: .project(project))
            let hold = try await on(day: 30).reserve(allowance, amount: Credits(whole: 45), reason: "batch evaluation of hint quality", key: "demo:project-use")
            _ = try await on(day: 30).settle(hold.requireID(), actual: Credits(whole: 45))
        }
        try await LedgerAlerts.scan(on: db)
        return alreadyGranted ? 0 : 1
    }
}
