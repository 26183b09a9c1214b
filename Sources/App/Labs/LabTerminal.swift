// A terminal lab's shell, in the browser: inside the sandbox a small program (`TerminalServer`, run by the host's
// python3) starts bash on a pseudo-terminal and serves it on a Unix socket in the session's folder; the platform
// bridges the person's WebSocket to that socket (`TerminalBridge`), framing what the browser types and resizes.
// Only the session's owner reaches it (404 for anyone else), and only from the platform's own pages (the
// WebSocket's Origin must be the platform's: a page elsewhere cannot drive a student's shell with their cookie).
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Vapor
import WebSocketKit

enum TerminalServer {
    /// Frames from the platform: kind (0 input, 1 resize: rows and columns as two big-endian UInt16), length (UInt32
    /// big-endian), body. Output goes back unframed. The shell ending ends the program, and so the session.
    static let program = #"""
import fcntl, os, pty, select, socket, struct, sys, termios
path = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv("/bin/bash", ["bash", "-l"])
try:
    os.unlink(path)
except FileNotFoundError:
    pass
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o600)
server.listen(8)
clients = {}
while True:
    ready, _, _ = select.select([server, fd] + list(clients), [], [])
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        for client in list(clients):
            try:
                client.sendall(data)
            except OSError:
                clients.pop(client)
                client.close()
    if server in ready:
        client, _ = server.accept()
        clients[client] = b""
    for client in [c for c in ready if c in clients]:
        try:
            chunk = client.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            clients.pop(client)
            client.close()
            continue
        buffer = clients[client] + chunk
        while len(buffer) >= 5:
            kind, size = buffer[0], struct.unpack(">I", buffer[1:5])[0]
            if len(buffer) < 5 + size:
                break
            body, buffer = buffer[5:5 + size], buffer[5 + size:]
            if kind == 0:
                os.write(fd, body)
            elif kind == 1 and size == 4:
                rows, cols = struct.unpack(">HH", body)
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        clients[client] = buffer
"""#

    static func frame(kind: UInt8, _ body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(kind)
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
        return buffer
    }

    /// What the browser sends as text: {"input": "ls\r"} or {"resize": [rows, cols]}.
    struct Message: Decodable {
        var input: String?
        var resize: [Int]?
    }

    static func frames(for text: String) -> [ByteBuffer] {
        guard let message = try? JSONDecoder().decode(Message.self, from: Data(text.utf8)) else { return [] }
        var frames: [ByteBuffer] = []
        if let input = message.input, !input.isEmpty { frames.append(frame(kind: 0, Array(input.utf8))) }
        if let size = message.resize, size.count == 2, (1...1000).contains(size[0]), (1...1000).contains(size[1]) {
            var body: [UInt8] = []
            for value in size { body += [UInt8(value >> 8), UInt8(value & 0xFF)] }
            frames.append(frame(kind: 1, body))
        }
        return frames
    }
}

/// Relays the terminal's output to the WebSocket.
private final class TerminalOutput: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let socket: WebSocket

    init(_ socket: WebSocket) { self.socket = socket }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        socket.send(raw: bytes.readableBytesView, opcode: .binary)
    }

    func channelInactive(context: ChannelHandlerContext) {
        _ = socket.close()
    }
}

enum TerminalBridge {
    /// Connects the WebSocket to the terminal's socket (waiting up to 30 s for the program to make it: a cold
    /// sandbox on a busy machine takes seconds). What the
    /// browser sends before the connection stands is kept, in order, and delivered once it does.
    /// `typed` is called for each keystroke the person sends (not for resizes). Call it from the upgrade itself, on
    /// the WebSocket's event loop: the handlers are set before the first frame is read (a frame that came before
    /// them would be lost), and what arrives before the terminal's socket is reached waits in the relay.
    static func attach(_ socket: WebSocket, to endpoint: LabHost.Endpoint, on eventLoop: any EventLoop, logger: Logger, typed: @escaping @Sendable () -> Void) {
        let relay = Relay()
        socket.onText { _, text in
            let frames = TerminalServer.frames(for: text)
            if frames.contains(where: { $0.getInteger(at: $0.readerIndex, as: UInt8.self) == 0 }) { typed() }
            relay.deliver(frames)
        }
        socket.onBinary { _, buffer in
            typed()
            relay.deliver([TerminalServer.frame(kind: 0, Array(buffer.readableBytesView))])
        }
        socket.onClose.whenComplete { _ in relay.close() }
        Task { await connect(socket, relay: relay, to: endpoint, on: eventLoop, logger: logger) }
    }

    /// Reaches the terminal's socket (waiting up to 30 s for the program to make it: a cold sandbox on a busy
    /// machine takes seconds), then lets the relay write.
    private static func connect(_ socket: WebSocket, relay: Relay, to endpoint: LabHost.Endpoint, on eventLoop: any EventLoop, logger: Logger) async {
        var channel: (any Channel)?
        var refused = false
        for _ in 0..<300 where channel == nil && !socket.isClosed && !refused {
            do {
                if let lab = try endpoint.open() {
                    channel = try? await ClientBootstrap(group: eventLoop)
                        .connectTimeout(.seconds(10))
                        .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(TerminalOutput(socket)) } }
                        .connect(unixDomainSocketPath: lab.path).get()
                }
            } catch {
                logger.warning("Lab terminal in \(endpoint.folder): \(error)")
                refused = true
            }
            if channel == nil && !refused { try? await Task.sleep(for: .milliseconds(100)) }
        }
        guard let channel else {
            logger.warning("The lab terminal in \(endpoint.folder) did not answer.")
            try? await socket.close(code: .unexpectedServerError)
            return
        }
        relay.connect(channel)
    }

    /// The browser's frames on their way to the terminal: queued until the connection stands, then written in order.
    final class Relay: Sendable {
        private let state = NIOLockedValueBox<(channel: (any Channel)?, pending: [ByteBuffer], closed: Bool)>((nil, [], false))

        func deliver(_ frames: [ByteBuffer]) {
            state.withLockedValue { state in
                if let channel = state.channel { for frame in frames { channel.writeAndFlush(frame, promise: nil) } } else { state.pending += frames }
            }
        }

        func connect(_ channel: any Channel) {
            state.withLockedValue { state in
                guard !state.closed else { channel.close(promise: nil); return }
                for frame in state.pending { channel.writeAndFlush(frame, promise: nil) }
                (state.channel, state.pending) = (channel, [])
            }
        }

        func close() {
            state.withLockedValue { state in
                state.closed = true
                state.channel?.close(promise: nil)
            }
        }
    }
}
