// Routes whose handler runs on the request's own event loop: for hot paths that never block (the AI gateway's /v1).
// A Vapor async handler runs in a task on Swift's concurrency pool, and each thing it awaits that completes on an
// event loop (the request's body, the HTTP client's answer) hops from the loop to the pool and back; on a small
// machine those hops were the largest part of the gateway's own time. Such a handler's task prefers the request's
// loop (`EventLoopTaskExecutor`): it starts there, and what completes on that loop resumes it without a hop (what
// completes on another loop is handed to it, one hop instead of two). A request with a large body is the exception:
// reading it whole is work that would hold up the loop's other connections, so its handler runs on the pool as any
// other (`smallBody`); so does work a handler hands off itself (`offTheLoop`).
import NIOConcurrencyHelpers
import NIOCore
import Vapor

/// An event loop as a Swift task executor. One per loop, kept for the process's life (a task refers to its preferred
/// executor without owning it).
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    private init(_ loop: any EventLoop) { self.loop = loop }

    private static let all = NIOLockedValueBox<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    static func of(_ loop: any EventLoop) -> EventLoopTaskExecutor {
        all.withLockedValue { all in
            let key = ObjectIdentifier(loop)
            if let known = all[key] { return known }
            let made = EventLoopTaskExecutor(loop)
            all[key] = made
            return made
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job), executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}

/// A route's handler run in a task that prefers the request's event loop, its body collected first (up to `maxBody`);
/// with a body over `smallBody`, on the concurrency pool.
struct OnEventLoopResponder: Responder {
    let maxBody: Int
    let handler: @Sendable (Request) async throws -> Response

    /// The largest body whose handling stays on the loop (a chat request is a few kilobytes).
    static let smallBody = 64 * 1024

    func respond(to request: Request) -> EventLoopFuture<Response> {
        let loop = request.eventLoop
        let body: EventLoopFuture<Void>
        if request.body.data != nil {
            body = loop.makeSucceededVoidFuture()
        } else if loop.inEventLoop {
            body = request.body.collect(max: maxBody).map { _ in }
        } else {
            body = loop.flatSubmit { request.body.collect(max: maxBody).map { _ in } }
        }
        return body.flatMap {
            let promise = loop.makePromise(of: Response.self)
            let small = (request.body.data?.readableBytes ?? 0) <= Self.smallBody
            Task(executorPreference: small ? EventLoopTaskExecutor.of(loop) : nil) { [handler] in
                do { promise.succeed(try await handler(request)) } catch { promise.fail(error) }
            }
            return promise.futureResult
        }
    }
}

extension RoutesBuilder {
    /// `on(method, path, body: .collect(maxSize:), use:)`, with the handler on the request's event loop
    /// (`OnEventLoopResponder`). Only for handlers that never block the thread: it serves other connections too.
    @discardableResult
    func onEventLoop(_ method: HTTPMethod, _ path: PathComponent..., maxBody: ByteCount,
                     use handler: @escaping @Sendable (Request) async throws -> Response) -> Route {
        let route = Route(method: method, path: path, responder: OnEventLoopResponder(maxBody: maxBody.value, handler: handler),
                          requestType: Request.self, responseType: Response.self)
        add(route)
        return route
    }
}

/// `work` on the concurrency pool, whatever executor the caller's task prefers: for work a handler on the event loop
/// (`OnEventLoopResponder`) must not do there, such as reading a large answer whole.
func offTheLoop<T: Sendable>(_ work: @Sendable () throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(globalConcurrentExecutor) { try work() }
}

/// Blocking work (child processes waited on, a large copy) on a thread of its own: neither an event loop nor a
/// thread of Swift's concurrency pool (a few, shared by every task) is held while it runs.
func onItsOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
