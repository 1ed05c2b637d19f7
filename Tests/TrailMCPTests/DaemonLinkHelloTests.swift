import Foundation
import Logging
import Synchronization
import Testing
import TrailClient
import TrailProtocol
@testable import TrailMCP

/// A daemon on a Unix socket that answers every request line with an empty
/// result (a hello for `trail.hello`) and records the methods it was asked;
/// `test.hangup` makes it close that connection without answering.
final class SocketDaemon: Sendable {
    let path: String
    private let listener: Int32
    private let log = Mutex<[String]>([])

    init() throws {
        let dir = "/tmp/trail-mcp-link-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/d.sock"
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        listener = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    var methods: [String] { log.withLock { $0 } }

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 { return }
            Thread.detachNewThread { [self] in serve(c) }
        }
    }

    private func serve(_ fd: Int32) {
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            pending += buffer[0..<n]
            while let end = pending.firstIndex(of: 10) {
                let line = Array(pending[..<end])
                pending.removeSubrange(...end)
                guard let request = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let method = request["method"] as? String, let id = request["id"] as? Int else { continue }
                log.withLock { $0.append(method) }
                if method == "test.hangup" {
                    close(fd)
                    return
                }
                let result = method == "trail.hello"
                    ? #"{"server":"traild","version":"0.1.0","protocol":1,"limits":{},"semantic":{"model":"all-MiniLM-L6-v2","dims":384}}"#
                    : "{}"
                let answer = Array(#"{"jsonrpc":"2.0","id":\#(id),"result":\#(result)}"#.utf8) + [10]
                _ = answer.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            }
        }
        close(fd)
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }
}

@Suite("Daemon link: hello")
struct DaemonLinkHelloTests {
    @Test("hello is asked once per connection, and again after the daemon hung up")
    func oncePerConnection() async throws {
        let daemon = try SocketDaemon()
        defer { daemon.stop() }
        let link = DaemonLink(socket: SocketLocation(path: daemon.path, source: .flag), logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let first = try await link.hello()
        #expect(first["semantic"]?["model"] == "all-MiniLM-L6-v2")
        _ = try await link.hello()
        _ = try await link.call("trail.stats", [:], idempotent: true)
        #expect(daemon.methods == ["trail.hello", "trail.stats"])
        // The daemon hangs up (a restart): the write is not sent again, and the next hello asks the new connection.
        await #expect(throws: TrailClientError.connectionClosed) { try await link.call("test.hangup", [:], idempotent: false) }
        _ = try await link.hello()
        _ = try await link.hello()
        #expect(daemon.methods == ["trail.hello", "trail.stats", "test.hangup", "trail.hello"])
        await link.close()
    }
}
