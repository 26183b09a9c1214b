// While the platform serves, expired holds are voided and expired allocations return their remainder every
// minute (the ledger is also correct without it: an expired account takes no new credits; the sweep returns what
// is left and frees holds nobody settled).
import Foundation
import NIOConcurrencyHelpers
import Vapor

final class LedgerSweeper: LifecycleHandler, Sendable {
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)
    let interval: Duration

    init(interval: Duration = .seconds(60)) { self.interval = interval }

    func didBootAsync(_ application: Application) async throws {
        let interval = self.interval
        task.withLockedValue { current in
            current = Task { [application] in
                while !Task.isCancelled {
                    do {
                        let swept = try await application.ledger.expire()
                        try await LedgerAlerts.scan(on: application.db, now: application.clock.now())
                        if swept.holds + swept.accounts > 0 {
                            application.logger.info("Ledger expiry: voided \(swept.holds) hold(s), returned \(swept.accounts) expired account(s) to their parents")
                        }
                    } catch {
                        application.logger.warning("Ledger expiry sweep failed: \(String(describing: error)); retrying next time")
                    }
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    func shutdownAsync(_ application: Application) async {
        let current = task.withLockedValue { current in
            defer { current = nil }
            return current
        }
        current?.cancel()
        await current?.value
    }
}
