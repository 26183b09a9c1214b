// A JupyterLab session in the browser: everything below the session's address (/labs/sessions/{id}/…) is relayed to
// the JupyterLab in its sandbox — HTTP through the shared HTTP client over the session's Unix socket, WebSockets
// (kernels, terminals) frame by frame over a WebSocket of our own to that socket. A session on a lab host on another
// machine is relayed the same way to that host (HTTP and WebSockets over TCP, with the session's key, see LabHosts),
// which relays it to the socket. JupyterLab has no token of its own
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
                                                     "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "x-csrf-token",
                                                     "x-campuscloud-lab-key"]
    /// Response headers never passed back: hop-by-hop ones, and those that would reach past the lab into the
    /// platform's own origin (clearing its storage, a service worker for all of it; the session cookie is filtered).
    static let droppedResponseHeaders: Set<String> = ["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade",
                                                      "clear-site-data", "service-worker-allowed"]

    @Sendable static func relay(req: Request) async throws -> Response {
        let (session, _) = try await req.labSession()
        if req.application.platformConfig.labsURL != nil {
            // JupyterLab is on its own origin (LabOrigin): a link to it here opens it there.
            guard [.GET, .HEAD].contains(req.method), !isUpgrade(req) else { throw Abort(.notFound) }
            return req.redirect(to: .openLab(.id(try session.requireID())))
        }
        return try await relay(req, session: session) { LabSessionController.isOwnOrigin($0, req) }
    }

    /// Relays to the session's JupyterLab, wherever it runs, once the caller is known to be its owner; a request that
    /// could change something must come from an origin `ownOrigin` accepts.
    static func relay(_ req: Request, session: LabSession, ownOrigin: (String) -> Bool) async throws -> Response {
        let id = try session.requireID()
        guard session.status == .running, let link = try await LabHosts.link(of: session, app: req.application) else {
            throw Refusal("This session is not running; open it again from the lab's page.")
        }
        if isUpgrade(req) || ![.GET, .HEAD].contains(req.method) {
            guard let origin = req.headers.first(name: "Origin"), ownOrigin(origin) else {
                throw Abort(.forbidden, reason: "The lab answers requests from the platform's own pages only.")
            }
        }
        if let target = link.relayTarget(id) { return try await forward(req, to: target) }
        guard let endpoint = await req.application.labHost.endpoint(of: id), endpoint.kind == .jupyterlab else {
            throw Refusal("This session is not running on this lab host; open it again from the lab's page.")
        }
        return try await forward(req, session: id, to: endpoint)
    }

    /// The same below a lab host's own address (`campuscloud worker --labs`), for the web tier, with the session's key.
    @Sendable static func relayOnHost(req: Request) async throws -> Response {
        let id = try LabHostRoutes.authorize(req, .relay)
        guard let endpoint = await req.application.labHost.endpoint(of: id), endpoint.kind == .jupyterlab else { throw Abort(.notFound) }
        return try await forward(req, session: id, to: endpoint)
    }

    static func isUpgrade(_ req: Request) -> Bool { req.headers.first(name: .upgrade)?.lowercased() == "websocket" }

    /// The request's headers that may go on: none of the hop-by-hop ones, the platform's identity, session cookie or
    /// labs-origin cookie (JupyterLab's own cookies pass).
    static func passedHeaders(_ req: Request) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in req.headers where !droppedRequestHeaders.contains(name.lowercased()) && name.lowercased() != "cookie" {
            headers.add(name: name, value: value)
        }
        let cookies = req.headers[.cookie].flatMap { $0.split(separator: ";") }.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { cookie in
                !([req.application.sessions.configuration.cookieName] + LabOrigin.cookieNames).contains { cookie.hasPrefix($0 + "=") }
            }
        if !cookies.isEmpty { headers.add(name: .cookie, value: cookies.joined(separator: "; ")) }
        return headers
    }

    /// Relays to the session's program on this host, over its Unix socket.
    static func forward(_ req: Request, session id: UUID, to endpoint: LabHost.Endpoint) async throws -> Response {
        let upgrade = isUpgrade(req)
        // Running a cell, saving, opening a terminal: the person is here (an open tab's polling is GETs).
        if !upgrade && ![.GET, .HEAD].contains(req.method) { endpoint.activity.mark(req.now) }
        // JupyterLab serves below the session's address exactly as the platform spells it (its base URL): a link
        // spelling the id in lower case reaches the same session.
        let prefix = SitePath.labProxy(.id(id)).url
        let path = req.url.path.lowercased().hasPrefix(prefix.lowercased()) ? prefix + req.url.path.dropFirst(prefix.count) : req.url.path
        let uri = path + (req.url.query.map { "?" + $0 } ?? "")
        var headers = passedHeaders(req)
        headers.add(name: .host, value: "localhost")
        if upgrade {
            guard let socket = try? endpoint.open() else { throw Abort(.badGateway, reason: "The lab did not open the connection.") }
            let response = try await webSocket(req, to: .unix(socket.path), uri: uri, headers: headers) { endpoint.activity.mark($0) }
            _ = socket.path  // the descriptor its path names stays open until the connection stands
            return response
        }
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
        return relayed(response, req)
    }

    /// Relays to the session's lab host on another machine (which relays to the program), with the session's key.
    static func forward(_ req: Request, to target: (address: URL, key: String)) async throws -> Response {
        var headers = passedHeaders(req)
        headers.add(name: LabHosts.keyHeader, value: target.key)
        let uri = req.url.path + (req.url.query.map { "?" + $0 } ?? "")
        if isUpgrade(req) {
            guard let host = target.address.host, let port = target.address.port ?? (target.address.scheme == "https" ? 443 : 80) as Int? else {
                throw Abort(.badGateway, reason: "The lab host's address is not usable.")
            }
            headers.add(name: .host, value: host + ":\(port)")
            return try await webSocket(req, to: .tcp(host: host, port: port), uri: uri, headers: headers, activity: nil)
        }
        var request = HTTPClientRequest(url: target.address.absoluteString.trimmingSuffix("/") + uri)
        request.method = req.method
        request.headers = headers
        if let body = req.body.data { request.body = .bytes(body) }
        do {
            return relayed(try await req.application.http.client.shared.execute(request, timeout: .seconds(300)), req)
        } catch {
            throw Abort(.badGateway, reason: "The lab host did not answer (reload in a few seconds; if it lasts, stop the session and start it again).")
        }
    }

    /// A person's lab is theirs alone: no shared cache keeps any of it, and a browser keeps none of its pages (on a
    /// shared computer the next person signed in must not be shown the last one's JupyterLab from the cache); its
    /// scripts and styles may stay in that browser's own cache.
    static func privateCaching(_ headers: inout HTTPHeaders) {
        let html = headers.first(name: .contentType)?.lowercased().hasPrefix("text/html") ?? false
        let given = headers.first(name: .cacheControl)?.lowercased() ?? ""
        if html || given.contains("no-store") {
            headers.replaceOrAdd(name: .cacheControl, value: "no-store")
            return
        }
        let kept = given.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "public" && $0 != "private" }
        headers.replaceOrAdd(name: .cacheControl, value: (["private"] + kept).joined(separator: ", "))
    }

    /// The program's answer on its way to the browser, streamed.
    private static func relayed(_ response: HTTPClientResponse, _ req: Request) -> Response {
        var answer = HTTPHeaders()
        for (name, value) in response.headers where !droppedResponseHeaders.contains(name.lowercased()) {
            // The lab's own cookies pass; none named like the platform's, none for a whole domain.
            if name.lowercased() == "set-cookie" {
                let cookie = value.trimmingCharacters(in: .whitespaces), lowered = cookie.lowercased()
                let cookieName = lowered.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if cookieName.isEmpty || cookieName.contains("campuscloud") || lowered.split(separator: ";").dropFirst()
                    .contains(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("domain") }) { continue }
            }
            answer.add(name: name, value: value)
        }
        privateCaching(&answer)
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

    /// Where a relayed WebSocket goes: a program's Unix socket on this host, or a lab host on another machine.
    enum Target { case unix(String), tcp(host: String, port: Int) }

    /// Opens the lab's side first (so the browser is told the subprotocol the lab chose), then joins the two.
    /// `activity` is told of each frame the browser sends (what it sends — code to run, keys — is the person being here).
    static func webSocket(_ req: Request, to target: Target, uri: String, headers: HTTPHeaders,
                          activity: (@Sendable (Date) -> Void)?) async throws -> Response {
        let pipe = Pipe()
        let upstream: (WebSocket, HTTPResponseHead)
        do {
            upstream = try await connect(to: target, uri: uri, headers: headers, pipe: pipe, on: req.eventLoop)
        } catch {
            throw Abort(.badGateway, reason: "The lab did not open the connection.")
        }
        var answer = HTTPHeaders()
        if let chosen = upstream.1.headers.first(name: "Sec-WebSocket-Protocol") { answer.add(name: "Sec-WebSocket-Protocol", value: chosen) }
        let lab = upstream.0, clock = req.application.clock
        // The handlers are set in the upgrade itself, on the connection's event loop, before its first frame is read:
        // JupyterLab asks its kernel for information the moment a socket opens, and a frame read earlier would be lost.
        let upgraded: @Sendable (Request, WebSocket) -> Void = { _, browser in
            browser.onText { _, text in activity?(clock.now()); lab.send(text) }
            browser.onBinary { _, buffer in activity?(clock.now()); lab.send(raw: buffer.readableBytesView, opcode: .binary) }
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
    static func connect(to target: Target, uri: String, headers: HTTPHeaders, pipe: Pipe, on eventLoop: any EventLoop) async throws -> (WebSocket, HTTPResponseHead) {
        let opened = eventLoop.makePromise(of: (WebSocket, HTTPResponseHead).self)
        let bootstrap = ClientBootstrap(group: eventLoop)
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
        let channel: any Channel
        do {
            channel = switch target {
            case .unix(let path): try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tcp(let host, let port): try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            // Every promise is completed: one left pending traps when it goes (NIO's leak check stops the process in
            // debug builds). A browser reconnecting to a lab that is stopping gets here (its socket refuses).
            opened.fail(error)
            throw error
        }
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
