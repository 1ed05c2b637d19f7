import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TrailCore
import TrailProtocol
@testable import TrailClient

/// A stand-in daemon on a Unix socket: each request line received is handed
/// to `script` with every request so far; the lines it returns are sent back
/// as they are. `nil` closes the connection.
final class ScriptedDaemon: Sendable {
    typealias Script = @Sendable (_ requests: [JSONValue]) -> [String]?

    let path: String
    private let channel: any Channel

    init(_ script: @escaping Script) async throws {
        let dir = "/tmp/trail-client-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/d.sock"
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxBytes: 1 << 20)))
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(script: script))
                }
            }
            .bind(unixDomainSocketPath: path)
            .get()
    }

    func stop() async {
        try? await channel.close()
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }
}

final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = LineFrame
    typealias OutboundOut = ByteBuffer
    let script: ScriptedDaemon.Script
    var requests: [JSONValue] = []

    init(script: @escaping ScriptedDaemon.Script) { self.script = script }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case let .line(line) = unwrapInboundIn(data), let request = try? JSONReader.parse(line) else { return }
        requests.append(request)
        guard let lines = script(requests) else {
            context.close(promise: nil)
            return
        }
        for l in lines { context.write(wrapOutboundOut(ByteBuffer(string: l + "\n")), promise: nil) }
        context.flush()
    }
}

func answer(_ id: JSONValue?, _ result: String) -> String {
    "{\"jsonrpc\":\"2.0\",\"id\":\(id.map { String(decoding: JSONWriter.bytes($0), as: UTF8.self) } ?? "null"),\"result\":\(result)}"
}

@Suite("Connection", .serialized)
struct ConnectionTests {
    @Test("pipelined calls are matched by id when answers come out of order")
    func outOfOrder() async throws {
        let daemon = try await ScriptedDaemon { requests in
            // Hold the first; answer both once the second arrives, second first.
            guard requests.count == 2 else { return [] }
            return [answer(requests[1]["id"], #"{"n":2}"#), answer(requests[0]["id"], #"{"n":1}"#)]
        }
        defer { Task { await daemon.stop() } }
        let c = try await TrailConnection.connect(path: daemon.path)
        let answers = await c.pipeline([(method: "one", params: nil), (method: "two", params: ["x": 1])])
        #expect(try answers[0].get()["n"] == 1)
        #expect(try answers[1].get()["n"] == 2)
        await c.close()
    }

    @Test("concurrent calls from many tasks each get their own answer")
    func concurrent() async throws {
        let daemon = try await ScriptedDaemon { requests in
            let r = requests.last!
            return [answer(r["id"], "{\"echo\":\(String(decoding: JSONWriter.bytes(r["params"]?["n"] ?? .null), as: UTF8.self))}")]
        }
        defer { Task { await daemon.stop() } }
        let c = try await TrailConnection.connect(path: daemon.path)
        try await withThrowingTaskGroup(of: (Int, JSONValue).self) { group in
            for n in 0..<50 { group.addTask { (n, try await c.call("echo", ["n": .int(n)])) } }
            for try await (n, result) in group { #expect(result["echo"] == .int(n)) }
        }
        await c.close()
    }

    @Test("an error answer is a typed rpc error with the contract's name")
    func rpcError() async throws {
        let daemon = try await ScriptedDaemon { requests in
            let id = String(decoding: JSONWriter.bytes(requests.last!["id"]!), as: UTF8.self)
            return [#"{"jsonrpc":"2.0","id":\#(id),"error":{"code":-32001,"message":"No note abcdef12 in namespace default.","data":{"reason":"unknown_note","id":"abcdef12","ns":"default"}}}"#]
        }
        defer { Task { await daemon.stop() } }
        let c = try await TrailConnection.connect(path: daemon.path)
        do {
            _ = try await c.send(GetRequest(id: "abcdef12"))
            Issue.record("no error")
        } catch {
            #expect(error.errorCode == .unknownNote && error.contractName == "unknown_note")
            if case let .rpc(_, message, data) = error {
                #expect(message.hasPrefix("No note") && data["id"] == "abcdef12")
            }
        }
        await c.close()
    }

    @Test("events reach their watch stream, in order, even right after the answer")
    func events() async throws {
        let n = Wire.note(Note(id: NoteID(body: "x"), ns: "default", body: "x", tags: [], after: [], weight: 1, rank: nil,
                               deposits: 1, agent: nil, state: .live, createdAtMillis: 0, updatedAtMillis: 0, retraction: nil))
        let note = String(decoding: JSONWriter.bytes(n), as: UTF8.self)
        let daemon = try await ScriptedDaemon { requests in
            let r = requests.last!
            guard r["method"] == "trail.watch" else { return [] }
            // The answer and two events in one write: nothing may be lost.
            return [answer(r["id"], #"{"subscription":"s1"}"#),
                    #"{"jsonrpc":"2.0","method":"trail.event","params":{"subscription":"s1","event":"deposited","note":\#(note),"seq":7}}"#,
                    #"{"jsonrpc":"2.0","method":"trail.event","params":{"subscription":"other","event":"deposited","note":\#(note)}}"#,
                    #"{"jsonrpc":"2.0","method":"trail.event","params":{"subscription":"s1","event":"linked","note":\#(note),"trail":{"from":"\#(NoteID(body: "y").hex)","to":"\#(NoteID(body: "x").hex)","weight":0.5}}}"#,
                    #"{"jsonrpc":"2.0","method":"trail.gap","params":{"subscription":"other","from":1,"to":2}}"#,
                    #"{"jsonrpc":"2.0","method":"trail.gap","params":{"subscription":"s1","from":8,"to":40}}"#,
                    #"{"jsonrpc":"2.0","method":"trail.event","params":{"subscription":"s1","event":"deposited","note":\#(note),"seq":41}}"#]
        }
        defer { Task { await daemon.stop() } }
        let c = try await TrailConnection.connect(path: daemon.path)
        let stream = try await c.watch(tags: ["food"])
        #expect(stream.subscription == "s1")
        var it = stream.makeAsyncIterator()
        let first = try await it.next()?.event
        #expect(first?.kind == .deposited && first?.note.body == "x" && first?.seq == 7)
        let second = try await it.next()?.event
        #expect(second?.kind == .linked && second?.trail?.weight == 0.5 && second?.seq == nil)
        // A gap of this subscription (not another's), then the watch goes on.
        guard case let .missed(gap)? = try await it.next() else {
            Issue.record("no gap")
            return
        }
        #expect(gap.subscription == "s1" && gap.first == 8 && gap.last == 40)
        #expect(try await it.next()?.event?.seq == 41)
        await c.close()
        do {
            _ = try await it.next()
            Issue.record("the stream did not end with the connection")
        } catch {
            #expect(error == .connectionClosed)
        }
    }

    @Test("calls in flight fail with connectionClosed when the daemon goes away")
    func closed() async throws {
        let daemon = try await ScriptedDaemon { _ in nil }
        defer { Task { await daemon.stop() } }
        let c = try await TrailConnection.connect(path: daemon.path)
        do {
            _ = try await c.call("trail.stats")
            Issue.record("no error")
        } catch {
            #expect(error == .connectionClosed)
        }
        do {
            _ = try await c.call("trail.stats")
            Issue.record("no error after close")
        } catch {
            #expect(error == .connectionClosed)
        }
    }

    @Test("a line that is not JSON is a protocol violation")
    func garbage() async throws {
        let daemon = try await ScriptedDaemon { _ in ["this is not json"] }
        defer { Task { await daemon.stop() } }
        let c = try await TrailConnection.connect(path: daemon.path)
        do {
            _ = try await c.call("trail.stats")
            Issue.record("no error")
        } catch {
            guard case .protocolViolation = error else {
                Issue.record("wrong error \(error)")
                return
            }
        }
    }

    @Test("a result of the wrong shape is a protocol violation naming the member")
    func wrongShape() async throws {
        let daemon = try await ScriptedDaemon { requests in [answer(requests.last!["id"], #"{"id":"nope","weight":1}"#)] }
        defer { Task { await daemon.stop() } }
        let c = try await TrailConnection.connect(path: daemon.path)
        do {
            _ = try await c.send(ReinforceRequest(id: "abcdef12"))
            Issue.record("no error")
        } catch {
            #expect(error == .protocolViolation("result.id should be a note id of 64 lowercase hex digits"))
        }
        await c.close()
    }

    @Test("a gap of the wrong shape ends the watch with a protocol violation")
    func wrongGap() async throws {
        let daemon = try await ScriptedDaemon { requests in
            [answer(requests.last!["id"], #"{"subscription":"s1"}"#),
             #"{"jsonrpc":"2.0","method":"trail.gap","params":{"subscription":"s1","from":8}}"#]
        }
        defer { Task { await daemon.stop() } }
        let c = try await TrailConnection.connect(path: daemon.path)
        var it = try await c.watch().makeAsyncIterator()
        do {
            _ = try await it.next()
            Issue.record("no error")
        } catch {
            guard case let .protocolViolation(what) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(what.contains("a gap of the wrong shape") && what.contains("to"))
        }
        await c.close()
    }

    @Test("no daemon: daemonUnavailable names the socket and why")
    func unavailable() async throws {
        let path = "/tmp/trail-client-test-\(getpid())-missing/d.sock"
        do {
            _ = try await TrailConnection.connect(path: path)
            Issue.record("connected to nothing")
        } catch {
            #expect(error == .daemonUnavailable(socket: path, reason: "there is no socket file there (not even its folder)"))
        }
        let dir = "/tmp/trail-client-test-\(getpid())-stale"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let stale = dir + "/d.sock"
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in stale.utf8.enumerated() { raw[i] = b }
        }
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)
        do {
            _ = try await TrailConnection.connect(path: stale)
            Issue.record("connected to a stale socket")
        } catch {
            guard case let .daemonUnavailable(_, reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.contains("nothing is listening"))
        }
    }
}
