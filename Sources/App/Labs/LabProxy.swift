// A JupyterLab session in the browser: everything below the session's address (/labs/sessions/{id}/…) is relayed to
// the JupyterLab in its sandbox — HTTP through the shared HTTP client over the session's Unix socket, WebSockets
// (kernels, terminals) frame by frame over a WebSocket of our own to that socket. JupyterLab has no token of its own
// (its socket is its only door, see LabHost.Endpoint), and the platform's session cookie is never passed on. Only the session's owner
// gets through (404 for anyone else); a request that could change something must come from the platform's own
// pages (its Origin), since the forms' CSRF field cannot ride on JupyterLab's own requests.
import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Vapor
import WebSocketKit

enum LabProxy {
    static let maxBody: ByteCount = "100mb"
    /// Request headers never passed on: hop-by-hop ones, the platform's identity, and what the proxy sets itself.
    static let droppedRequestHeaders: Set<String> = ["host", "connection", "keep-alive", "upgrade", "transfer-encoding", "content-length",
                                                     "authorization", "origin", "referer", "proxy-authorization", "te", "trailer",
                                                     "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "x-csrf-token"]
    static let droppedResponseHeaders: Set<String> = ["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"]

    @Sendable static func relay(req: Request) async throws -> Response {
        let (session, _) = try await req.labSession()
        let id = try session.requireID()
        guard session.status == .running, let endpoint = await req.application.labHost.endpoint(of: id), endpoint.kind == .jupyterlab else {
            throw Refusal("This session is not running on this lab host; open it again from the lab's page.")
        }
        let upgrade = req.headers.first(name: .upgrade)?.lowercased() == "websocket"
        if upgrade || ![.GET, .HEAD].contains(req.method) {
            // Running a cell, saving, opening a terminal: the person is here (an open tab's polling is GETs).
            if !upgrade { endpoint.activity.mark(req.now) }
            guard let origin = req.headers.first(name: "Origin"), LabSessionController.isOwnOrigin(origin, req) else {
                throw Abort(.forbidden, reason: "The lab answers requests from the platform's own pages only.")
            }
        }
        // JupyterLab serves below the session's address exactly as the platform spells it (its base URL): a link
        // spelling the id in lower case reaches the same session.
        let prefix = SitePath.labProxy(.id(id)).url
        let path = req.url.path.lowercased().hasPrefix(prefix.lowercased()) ? prefix + req.url.path.dropFirst(prefix.count) : req.url.path
        let uri = path + (req.url.query.map { "?" + $0 } ?? "")
        var headers = HTTPHeaders()
        for (name, value) in req.headers where !droppedRequestHeaders.contains(name.lowercased()) && name.lowercased() != "cookie" {
            headers.add(name: name, value: value)
        }
        // JupyterLab's own cookies pass; the platform's session cookie does not.
        let cookies = req.headers[.cookie].flatMap { $0.split(separator: ";") }.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix(req.application.sessions.configuration.cookieName + "=") }
        if !cookies.isEmpty { headers.add(name: .cookie, value: cookies.joined(separator: "; ")) }
        headers.add(name: .host, value: "localhost")
        if upgrade { return try await webSocket(req, endpoint: endpoint, uri: uri, headers: headers, clock: req.application.clock) }

        let response: HTTPClientResponse
        do {
            guard let socket = try endpoint.open() else { return starting(req) }
            // Each request on a connection of its own (Connection: close): the path names a descriptor of this
            // moment, which must never match a pooled connection to another session's lab.
            var request = HTTPClientRequest(url: "http+unix://\(socket.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)\(uri)")
            request.method = req.method
            request.headers = headers
            request.headers.replaceOrAdd(name: .connection, value: "close")
            if let body = req.body.data { request.body = .bytes(body) }
            response = try await req.application.http.client.shared.execute(request, timeout: .seconds(300))
        } catch let refused as LabSocketRefused {
            throw Abort(.badGateway, reason: refused.description)
        } catch {
            throw Abort(.badGateway, reason: "The lab did not answer (it may still be starting; reload in a few seconds).")
        }
        var answer = HTTPHeaders()
        for (name, value) in response.headers where !droppedResponseHeaders.contains(name.lowercased()) { answer.add(name: name, value: value) }
        let body = response.body
        return Response(status: response.status, headers: answer, body: .init(asyncStream: { writer in
            do {
                for try await chunk in body { try await writer.writeBuffer(chunk) }
                try await writer.write(.end)
            } catch {
                try await writer.write(.error(error))
            }
        }))
    }

    /// The answer while JupyterLab has not opened its socket yet (it takes seconds to start): 503 with Retry-After,
    /// and for a page (the session page's frame, a tab) one that says so and loads again by itself.
    static func starting(_ req: Request) -> Response {
        var headers: HTTPHeaders = ["Retry-After": "1", "Cache-Control": "no-store"]
        guard req.method == .GET, req.headers.first(name: .accept)?.contains("text/html") == true else {
            headers.contentType = .plainText
            return Response(status: .serviceUnavailable, headers: headers, body: .init(string: "The lab is starting; try again in a second.\n"))
        }
        headers.contentType = .html
        let page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="1">\
            <title>Starting your lab…</title></head><body style="font-family: sans-serif; padding: 2rem">\
            <p>Starting your lab… this page opens it as soon as it is ready.</p></body></html>
            """
        return Response(status: .serviceUnavailable, headers: headers, body: .init(string: page))
    }

    /// Opens the lab's side first (so the browser is told the subprotocol the lab chose), then joins the two.
    private static func webSocket(_ req: Request, endpoint: LabHost.Endpoint, uri: String, headers: HTTPHeaders, clock: PlatformClock) async throws -> Response {
        let pipe = Pipe()
        let upstream: (WebSocket, HTTPResponseHead)
        do {
            guard let socket = try endpoint.open() else { throw Abort(.badGateway) }
            upstream = try await connect(socket: socket.path, uri: uri, headers: headers, pipe: pipe, on: req.eventLoop)
        } catch {
            throw Abort(.badGateway, reason: "The lab did not open the connection.")
        }
        var answer = HTTPHeaders()
        if let chosen = upstream.1.headers.first(name: "Sec-WebSocket-Protocol") { answer.add(name: "Sec-WebSocket-Protocol", value: chosen) }
        let lab = upstream.0
        // The handlers are set in the upgrade itself, on the connection's event loop, before its first frame is read:
        // JupyterLab asks its kernel for information the moment a socket opens, and a frame read earlier would be lost.
        let upgraded: @Sendable (Request, WebSocket) -> Void = { _, browser in
            // What the browser sends (code to run, keys in a terminal) is the person being here.
            browser.onText { _, text in endpoint.activity.mark(clock.now()); lab.send(text) }
            browser.onBinary { _, buffer in endpoint.activity.mark(clock.now()); lab.send(raw: buffer.readableBytesView, opcode: .binary) }
            browser.onClose.whenComplete { _ in _ = lab.close() }
            pipe.attach(browser)
            lab.onClose.whenComplete { _ in _ = browser.close() }
        }
        let headers = answer
        let shouldUpgrade: @Sendable (Request) -> EventLoopFuture<HTTPHeaders?> = { request in request.eventLoop.makeSucceededFuture(headers) }
        return req.webSocket(maxFrameSize: .init(integerLiteral: 1 << 24), shouldUpgrade: shouldUpgrade, onUpgrade: upgraded)
    }

    /// Whether a kernel of the session's JupyterLab is running code (its own answer, over its socket).
    static func kernelsBusy(_ endpoint: LabHost.Endpoint, session: UUID, app: Application) async -> Bool {
        guard let socket = try? endpoint.open() else { return false }
        var request = HTTPClientRequest(url: "http+unix://\(socket.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)\(SitePath.labProxy(.id(session)).url)api/kernels")
        request.headers.add(name: .host, value: "localhost")
        request.headers.add(name: .connection, value: "close")
        guard let response = try? await app.http.client.shared.execute(request, timeout: .seconds(5)), response.status == .ok,
              let body = try? await response.body.collect(upTo: 1 << 20),
              let kernels = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [[String: Any]] else { return false }
        return kernels.contains { ($0["execution_state"] as? String) == "busy" }
    }

    /// What the lab sends, held until the browser's side stands, then sent on in order.
    final class Pipe: Sendable {
        enum Message: Sendable { case text(String), binary(ByteBuffer) }
        private let state = NIOLockedValueBox<(browser: WebSocket?, pending: [Message])>((nil, []))

        func send(_ message: Message) {
            state.withLockedValue { state in
                if let browser = state.browser { Self.deliver(message, to: browser) } else { state.pending.append(message) }
            }
        }

        func attach(_ browser: WebSocket) {
            state.withLockedValue { state in
                for message in state.pending { Self.deliver(message, to: browser) }
                (state.browser, state.pending) = (browser, [])
            }
        }

        private static func deliver(_ message: Message, to browser: WebSocket) {
            switch message {
            case .text(let text): browser.send(text)
            case .binary(let buffer): browser.send(raw: buffer.readableBytesView, opcode: .binary)
            }
        }
    }

    /// A WebSocket to the lab over its Unix socket: the HTTP upgrade request, then WebSocketKit's framing.
    private static func connect(socket: String, uri: String, headers: HTTPHeaders, pipe: Pipe, on eventLoop: any EventLoop) async throws -> (WebSocket, HTTPResponseHead) {
        let opened = eventLoop.makePromise(of: (WebSocket, HTTPResponseHead).self)
        let channel = try await ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 24, automaticErrorHandling: true) { channel, head in
                    WebSocket.client(on: channel, config: .init()) { lab in
                        lab.onText { _, text in pipe.send(.text(text)) }
                        lab.onBinary { _, buffer in pipe.send(.binary(buffer)) }
                        opened.succeed((lab, head))
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let requester = UpgradeRequest(uri: uri, headers: headers, failed: opened)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in context.pipeline.removeHandler(requester, promise: nil) }))
                    try channel.pipeline.syncOperations.addHandler(requester)
                }
            }
            .connect(unixDomainSocketPath: socket).get()
        channel.closeFuture.whenComplete { _ in opened.fail(Abort(.badGateway)) }
        // A lab that accepts but never answers the upgrade is given up on (only then: an open connection stays).
        let giveUp = eventLoop.scheduleTask(in: .seconds(30)) { opened.fail(Abort(.gatewayTimeout)); channel.close(promise: nil) }
        opened.futureResult.whenSuccess { _ in giveUp.cancel() }
        return try await opened.futureResult.get()
    }

    /// Sends the upgrade request once connected; any answer that reaches it was not an upgrade.
    private final class UpgradeRequest: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        let uri: String
        let headers: HTTPHeaders
        let failed: EventLoopPromise<(WebSocket, HTTPResponseHead)>

        init(uri: String, headers: HTTPHeaders, failed: EventLoopPromise<(WebSocket, HTTPResponseHead)>) {
            (self.uri, self.headers, self.failed) = (uri, headers, failed)
        }

        func channelActive(context: ChannelHandlerContext) {
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data) { failed.fail(Abort(.badGateway, reason: "The lab answered \(head.status.code).")) }
            context.close(promise: nil)
        }
    }
}
