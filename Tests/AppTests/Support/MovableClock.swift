// The platform's clock as a test moves it: set on the application, still until `advance` moves it on.
import Foundation
import NIOConcurrencyHelpers
import Vapor
@testable import App

final class MovableClock: Sendable {
    private let now = NIOLockedValueBox(Date())

    init(_ app: Application) {
        let now = self.now
        app.clock = PlatformClock { now.withLockedValue { $0 } }
    }

    func advance(_ seconds: TimeInterval) { now.withLockedValue { $0 = $0.addingTimeInterval(seconds) } }
}
