// Routes whose handler runs on the request's own event loop: for hot paths that never block (the AI gateway's /v1).
// A Vapor async handler runs in a task on Swift's concurrency pool, and each thing it awaits that completes on an
// event loop (the request's body, the HTTP client's answer) hops from the loop to the pool and back; on a small
// machine those hops were the largest part of the gateway's own time. Such a handler's task prefers the request's
// loop (`EventLoopTaskExecutor`): it starts there, and what completes there resumes it without a hop.
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

/// A route's handler run in a task that prefers the request's event loop, its body collected first (up to `maxBody`).
struct OnEventLoopResponder: Responder {
    let maxBody: Int
    let handler: @Sendable (Request) async throws -> Response

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
            Task(executorPreference: EventLoopTaskExecutor.of(loop)) { [handler] in
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
