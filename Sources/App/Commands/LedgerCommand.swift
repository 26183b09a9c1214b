// `campuscloud ledger …`: what a programme manager (or a script) does with credits from the server's shell:
// record a grant, allocate to a course or project, see the balances, export a statement as CSV.
import ArgumentParser
import Fluent
import Foundation
import Ledger
import Vapor

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Grant and allocate credits, show balances, export statements.",
        subcommands: [Grant.self, Allocate.self, Balance.self, Statement.self, Bench.self])

    struct ProgrammeOption: ParsableArguments {
        @ArgumentParser.Option(help: "The programme: its id or its exact name.") var programme: String
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record the partner's grant into the programme pool.")
        @OptionGroup var place: ProgrammeOption
        @ArgumentParser.Option(help: "Credits, e.g. 5000 or 12.5.") var amount: String
        @ArgumentParser.Option(help: "What the grant is (shown on statements).") var memo: String?
        @ArgumentParser.Option(help: "Run it again with the same key and nothing moves twice.") var key: String?

        func run() async throws {
            let amount = try LedgerCommand.credits(self.amount)
            try await LedgerCommand.withLedger { app, ledger in
                let programme = try await LedgerCommand.programme(place.programme, on: app.db)
                try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                          amount: amount, memo: memo ?? "grant from \(programme.partnerOrganisation)",
                                          key: key.map { "programme:\(programme.id!):\($0)" })
                say("Granted \(amount) credits to \(programme.name); the pool has \(Credits(micro: try await ledger.pool(of: programme).balance)) free.")
            }
        }
    }

    struct Allocate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move credits from the pool to a course's or project's allocation.")
        @OptionGroup var place: ProgrammeOption
        @ArgumentParser.Option(help: "The course's code (e.g. CS101).") var course: String?
        @ArgumentParser.Option(help: "The project's id or exact title.") var project: String?
        @ArgumentParser.Option(help: "Credits, e.g. 500.") var amount: String
        @ArgumentParser.Option(help: "The allocation expires on this day (YYYY-MM-DD); the remainder returns to the pool.") var expires: String?

        func validate() throws {
            guard (course == nil) != (project == nil) else { throw ValidationError("Give exactly one of --course and --project.") }
            if let expires, InputChecks.parseDay(expires) == nil { throw ValidationError("--expires must be a date written YYYY-MM-DD.") }
        }

        func run() async throws {
            let amount = try LedgerCommand.credits(self.amount)
            try await LedgerCommand.withLedger { app, ledger in
                let programme = try await LedgerCommand.programme(place.programme, on: app.db)
                let target: LedgerPlace
                if let course {
                    guard let found = try await Course.query(on: app.db).filter(\.$programme.$id == programme.requireID()).filter(\.$code == course).first() else {
                        throw StartupError.message("\(programme.name) has no course \(course).")
                    }
                    target = .course(found)
                } else {
                    let projects = try await ResearchProject.query(on: app.db).filter(\.$programme.$id == programme.requireID()).all()
                    guard let found = projects.first(where: { $0.id?.uuidString.lowercased() == project!.lowercased() || $0.title == project! }) else {
                        throw StartupError.message("\(programme.name) has no project \(project!).")
                    }
                    target = .project(found)
                }
                let allocation = try await ledger.allocation(of: target)
                if let expires {
                    allocation.expiresAt = InputChecks.parseDay(expires)
                    try await allocation.save(on: app.db)
                }
                try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: allocation, amount: amount,
                                          memo: "allocation to \(target.name)")
                say("Allocated \(amount) credits to \(target.name); the pool has \(Credits(micro: try await ledger.pool(of: programme).balance)) free.")
            }
        }
    }

    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the pool and every allocation: free, held, spent (members' use included).")
        @OptionGroup var place: ProgrammeOption

        func run() async throws {
            try await LedgerCommand.withLedger { app, _ in
                let programme = try await LedgerCommand.programme(place.programme, on: app.db)
                let view = try await CreditsViews.programme(programme, on: app.db)
                let rows = [("programme pool", view.pool)] + view.allocations.map { ($0.name, $0.balance) }
                let width = max(24, rows.map(\.0.count).max() ?? 0)
                say("\(programme.name): granted \(view.granted)")
                say("account".padding(toLength: width, withPad: " ", startingAt: 0) + "        free        held       spent   used")
                for (name, balance) in rows {
                    let cells = [balance.free, balance.held, balance.spent].map { String(describing: $0).leftPadded(to: 12) }.joined()
                    say(name.padding(toLength: width, withPad: " ", startingAt: 0) + cells + "\(balance.usedPercent)%".leftPadded(to: 7))
                }
            }
        }
    }

    struct Statement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every entry of the programme (or of one account) as CSV.")
        @OptionGroup var place: ProgrammeOption
        @ArgumentParser.Option(help: "Only this account (its id, as the API shows it).") var account: String?

        func run() async throws {
            try await LedgerCommand.withLedger { app, _ in
                let programme = try await LedgerCommand.programme(place.programme, on: app.db)
                let accountID = try account.map { text -> UUID in
                    guard let id = UUID(uuidString: text) else { throw StartupError.message("'\(text)' is not an account id.") }
                    return id
                }
                FileHandle.standardOutput.write(Data(try await LedgerStatements.csv(programme: programme, account: accountID, on: app.db).utf8))
            }
        }
    }

    /// bench/ledger's driver: reserve+settle pairs from many concurrent clients through `LedgerStore` (what the API
    /// handlers call), then a race of all clients for one small allowance to measure overshoot. Creates its own
    /// programme, course and people, so it can run on any database, and prints one JSON line.
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Measure the ledger (for bench/ledger).", shouldDisplay: false)
        @ArgumentParser.Option(help: "Concurrent clients.") var clients = 64
        @ArgumentParser.Option(help: "Seconds to measure.") var seconds = 10.0
        @ArgumentParser.Option(help: "Credits in the allowance every client races for at the end.") var cap = 100
        @ArgumentParser.Option(help: "How long a hold lives unsettled (the crash test kills the process and waits them out).") var holdSeconds = LedgerStore.defaultHoldLifetime

        func run() async throws {
            try await PlatformRuntime.withApplication { app in
                try await PlatformRuntime.ensureMigrated(app, apply: true)
                let run = UUID().uuidString.prefix(8).lowercased()
                let programme = Programme(name: "ledger bench \(run)", partnerOrganisation: "Bench", startsOn: Date(), endsOn: Date(), description: "")
                try await programme.create(on: app.db)
                let course = Course(programmeID: try programme.requireID(), code: "BENCH-\(run)", title: "Bench", term: "now", startsOn: Date(), endsOn: Date())
                try await course.create(on: app.db)
                let ledger = app.ledger
                try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                          amount: Credits(whole: 10_000_000), memo: "bench")
                try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)),
                                          amount: Credits(whole: 10_000_000), memo: "bench")
                var allowances: [LedgerAccount] = []
                for index in 0...clients {
                    let user = User(email: "bench-\(run)-\(index)@bench.invalid", displayName: "Bench \(index)", passwordHash: nil)
                    try await user.create(on: app.db)
                    try await CourseMember(courseID: course.requireID(), userID: user.requireID(), role: .student).create(on: app.db)
                    allowances.append(try await ledger.setAllowance(of: user, in: .course(course), to: Credits(whole: index == clients ? Int64(cap) : 100_000), actor: nil))
                }
                let price = Credits.parse("0.01")!, lifetime = holdSeconds
                // Throughput: each client spends from its own allowance, pair after pair, until the time is up.
                let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
                let started = ContinuousClock.now, batchesBefore = app.ledgerBatches?.counts ?? LedgerBatches.Counts()
                let pairs = try await withThrowingTaskGroup(of: Int.self) { group in
                    for client in 0..<clients {
                        let account = allowances[client]
                        group.addTask {
                            var done = 0
                            while ContinuousClock.now < deadline {
                                let hold = try await ledger.reserve(account, amount: price, reason: "bench", key: "bench:\(run):\(client):\(done)", lifetime: lifetime)
                                _ = try await ledger.settle(hold.requireID(), actual: price)
                                done += 1
                            }
                            return done
                        }
                    }
                    return try await group.reduce(0, +)
                }
                let elapsed = ContinuousClock.now - started
                let batches = app.ledgerBatches?.counts ?? LedgerBatches.Counts()
                let perBatch = batches.batches > batchesBefore.batches
                    ? Double(batches.done - batchesBefore.done) / Double(batches.batches - batchesBefore.batches) : 0
                let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                // Overshoot: every client races for the last allowance, one credit at a time, until it is refused.
                let shared = allowances[clients]
                let won = try await withThrowingTaskGroup(of: Int.self) { group in
                    for client in 0..<clients {
                        group.addTask {
                            var won = 0
                            while true {
                                do {
                                    let hold = try await ledger.reserve(shared, amount: Credits(whole: 1), reason: "race", key: "race:\(run):\(client):\(won)", lifetime: lifetime)
                                    _ = try await ledger.settle(hold.requireID(), actual: Credits(whole: 1))
                                    won += 1
                                } catch is LedgerRefusal {
                                    return won
                                }
                            }
                        }
                    }
                    return try await group.reduce(0, +)
                }
                let spent = try await LedgerAccount.find(shared.requireID(), on: app.db)!.spent
                let overshoot = Credits(micro: spent) - Credits(whole: Int64(cap))
                say(#"{"clients": \#(clients), "pairs": \#(pairs), "seconds": \#(String(format: "%.3f", elapsedSeconds)), "pairs_per_second": \#(String(format: "%.1f", Double(pairs) / elapsedSeconds)), "batches": \#(batches.batches - batchesBefore.batches), "done_per_batch": \#(String(format: "%.1f", perBatch)), "failed_batches": \#(batches.failed - batchesBefore.failed), "race_won": \#(won), "cap": \#(cap), "overshoot": "\#(overshoot)"}"#)
            }
        }
    }

    static func credits(_ text: String) throws -> Credits {
        guard let amount = Credits.parse(text), amount > .zero else {
            throw ValidationError("'\(text)' is not an amount of credits above zero (write 500 or 12.5).")
        }
        return amount
    }

    static func programme(_ text: String, on db: any Database) async throws -> Programme {
        if let id = UUID(uuidString: text), let programme = try await Programme.find(id, on: db) { return programme }
        if let programme = try await Programme.query(on: db).filter(\.$name == text).first() { return programme }
        throw StartupError.message("There is no programme '\(text)'.")
    }

    /// Runs with the application and its ledger; the ledger's refusals become one sentence and exit code 1.
    static func withLedger(_ body: (Application, LedgerStore) async throws -> Void) async throws {
        try await PlatformRuntime.withApplication { app in
            try await PlatformRuntime.ensureMigrated(app, apply: false)
            do {
                try await body(app, app.ledger)
            } catch let refusal as LedgerRefusal {
                throw StartupError.message(refusal.description)
            } catch let abort as any AbortError {
                throw StartupError.message(abort.reason)
            }
        }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
