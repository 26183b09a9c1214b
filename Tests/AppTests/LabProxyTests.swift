// The WebSocket relay to a lab when the lab is not there (issue 20): JupyterLab's page reconnects its terminal and
// kernel sockets the moment a session stops, so the relay dials a socket that refuses. That must be an error for
// that one request, never the platform's end (a promise left pending stopped the whole server in a debug build: the
// browser test saw the platform refuse connections right after "Stop the lab").
import Foundation
import Glibc
import NIOCore
import NIOPosix
import Testing
import Vapor
@testable import App

@Suite struct LabProxyTests {
    /// A socket bound to `address` that never listens: connecting to it is refused.
    private static func refusing(_ address: inout some Any, family: Int32, length: Int) throws -> Int32 {
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor >= 0)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(length)) } }
        try #require(bound == 0, "bind: \(String(cString: strerror(errno)))")
        return descriptor
    }

    /// A relayed lab's pages are kept by no cache (the next person at a shared computer must not see the last one's
    /// JupyterLab), and nothing of it by a shared cache.
    @Test func relayedLabAnswersAreNeverSharedOrKeptAsPages() {
        func caching(_ type: String?, _ given: String?) -> String? {
            var headers = HTTPHeaders()
            if let type { headers.add(name: .contentType, value: type) }
            if let given { headers.add(name: .cacheControl, value: given) }
            LabProxy.privateCaching(&headers)
            return headers.first(name: .cacheControl)
        }
        #expect(caching("text/html; charset=utf-8", "max-age=3600") == "no-store")
        #expect(caching("text/html", nil) == "no-store")
        #expect(caching("application/javascript", "public, max-age=31536000, immutable") == "private, max-age=31536000, immutable")
        #expect(caching("application/json", nil) == "private")
        #expect(caching("application/json", "no-store, no-cache") == "no-store")
    }

    @Test func aLabThatRefusesTheConnectionIsABadGatewayAndThePlatformGoesOn() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cc-proxy-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }

        // A Unix socket that exists and refuses (the lab's program has just ended), one that is gone, and a TCP port
        // (a lab host) that refuses.
        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        let path = folder + "/lab.sock"
        withUnsafeMutableBytes(of: &unix.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let unixSocket = try Self.refusing(&unix, family: AF_UNIX, length: MemoryLayout<sockaddr_un>.size)
        defer { close(unixSocket) }
        var inet = sockaddr_in()
        inet.sin_family = sa_family_t(AF_INET)
        inet.sin_addr.s_addr = inet_addr("127.0.0.1")
        let tcpSocket = try Self.refusing(&inet, family: AF_INET, length: MemoryLayout<sockaddr_in>.size)
        defer { close(tcpSocket) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &inet) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(tcpSocket, $0, &length) } }
        let port = Int(UInt16(bigEndian: inet.sin_port))

        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        for target: LabProxy.Target in [.unix(path), .unix(folder + "/gone.sock"), .tcp(host: "127.0.0.1", port: port)] {
            for _ in 0..<3 {
                await #expect(throws: (any Error).self, "\(target)") {
                    _ = try await LabProxy.connect(to: target, uri: "/terminals/websocket/1", headers: [:], pipe: LabProxy.Pipe(), on: eventLoop)
                }
            }
        }
        // What the attempts left behind is gone by now (a pending promise would have stopped this process here).
        try await Task.sleep(for: .milliseconds(300))
        let alive = try await eventLoop.submit { 42 }.get()
        #expect(alive == 42)
    }
}
