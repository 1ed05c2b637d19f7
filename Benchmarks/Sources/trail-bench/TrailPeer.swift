import Foundation
import NIOCore
import TrailClient
import TrailProtocol

/// A traild started by this run on its own socket and data dir, with
/// background compaction off (W7 calls trail.compact itself). Its store is
/// SQLite in the data dir, or `store` (a `postgres://` URL); `arguments` go
/// on its command line after these (the meaning phase's `--model-dir`).
final class TrailPeer {
    let socket: String
    let dir: String
    let child: ChildProcess
    private let admin: TrailConnection

    init(executable: String, dir: String, store: String? = nil, arguments: [String] = [], logLevel: String = "warning") async throws {
        self.dir = dir
        socket = dir + "/traild.sock"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        child = try ChildProcess.start("traild", executable: executable, arguments: [
            "--socket", socket, "--data-dir", dir + "/data", "--log-level", logLevel, "--compaction-interval", "0",
        ] + (store.map { ["--store", $0] } ?? []) + arguments, log: dir + "/traild.log", readyWord: "ready")
        do {
            admin = try await TrailConnection.connect(path: socket)
        } catch {
            child.stop()
            throw BenchFailure("traild is up but does not accept connections: \(error)")
        }
    }

    func stop() async {
        await admin.close()
        child.stop()
    }

    /// Calls `method` on the run's own admin connection.
    func call(_ method: String, _ params: JSONObject = [:]) async throws -> JSONValue {
        do {
            return try await admin.call(method, params)
        } catch {
            throw BenchFailure("traild answered \(method) with an error: \(error)")
        }
    }

    /// Loads notes `range` of `set` into `ns` with trail.import (records
    /// with chosen weights, `batch` per call, each call one transaction),
    /// a few calls in flight on one connection, in order.
    /// Every record is created and updated at `at`.
    func load(_ set: inout Dataset, range: Range<Int>, ns: String, batch: Int, at: Date = Date()) async throws {
        guard !range.isEmpty else { return }
        _ = set.id(range.upperBound - 1)  // every id computed before the stream copies the set
        let chunks = stride(from: range.lowerBound, to: range.upperBound, by: batch).map { $0..<min($0 + batch, range.upperBound) }
        let frozen = set
        let time = rfc3339(at)
        let result = try await TrailLoad.run(
            socket: socket,
            plan: LoadPlan(connections: 1, depth: 3, warmup: 0, duration: 0, requestsPerConnection: chunks.count)
        ) { _ in ImportStream(set: frozen, ns: ns, chunks: chunks, time: time) }
        if result.errors > 0 { throw BenchFailure("trail.import refused a chunk: \(result.firstError ?? "?")") }
    }

    /// Runs a timed load against this daemon.
    func run(_ plan: LoadPlan, stream: @escaping @Sendable (Int) -> any RequestStream) async throws -> LoadResult {
        try await Self.run(on: [self], plan, stream: stream)
    }

    /// Runs a timed load against several daemons at once, the connections
    /// split evenly between them (connection `c` on `peers[c % peers.count]`).
    static func run(on peers: [TrailPeer], _ plan: LoadPlan,
                    stream: @escaping @Sendable (Int) -> any RequestStream) async throws -> LoadResult {
        let result = try await TrailLoad.run(sockets: peers.map(\.socket), plan: plan, stream: stream)
        if result.errors > 0 {
            throw BenchFailure("traild answered \(result.errors) requests with an error, e.g. \(result.firstError ?? "?")")
        }
        return result
    }
}

// MARK: the request streams of the workloads

/// trail.import of consecutive chunks of a data set.
struct ImportStream: RequestStream {
    var set: Dataset
    let ns: String
    let chunks: [Range<Int>]
    let time: String
    var next = 0

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        set.importRequest(ns: ns, range: chunks[next], id: id, at: time, into: &buffer)
        next += 1
        return 0
    }
}

/// W1: new deposits, each body new (the connection's number and a counter).
struct DepositStream: RequestStream {
    let prefix: String
    var rng: SplitMix64
    var n = 0

    init(run: String, connection: Int) {
        prefix = "\(run) c\(connection) n"
        rng = SplitMix64(seed: UInt64(connection) &+ run.hashValueStable)
    }

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        n += 1
        buffer.beginRequest(id: id, method: "trail.deposit")
        buffer.writeStaticString(#"{"body":"#)
        buffer.writeJSONString(prefix + String(n) + ": " + Vocabulary.phrase(8, &rng))
        buffer.writeStaticString("}")
        buffer.endRequest()
        return 0
    }
}

/// W2: reinforce a note of the hot set drawn by `zipfRank`.
struct ReinforceStream: RequestStream {
    let ns: String
    let ids: [String]
    var rng: SplitMix64

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        buffer.beginRequest(id: id, method: "trail.reinforce")
        buffer.writeStaticString(#"{"ns":"#)
        buffer.writeJSONString(ns)
        buffer.writeStaticString(#","id":""#)
        buffer.writeString(ids[zipfRank(rng.unit(), n: ids.count)])
        buffer.writeStaticString(#"","delta":1}"#)
        buffer.endRequest()
        return 0
    }
}

/// W3: the top 10 by weight.
struct SenseStream: RequestStream {
    let ns: String

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        buffer.beginRequest(id: id, method: "trail.sense")
        buffer.writeStaticString(#"{"ns":"#)
        buffer.writeJSONString(ns)
        buffer.writeStaticString(#","limit":10}"#)
        buffer.endRequest()
        return 0
    }
}

/// W4: the top 10 for a full-text query of one vocabulary word.
struct QueryStream: RequestStream {
    let ns: String
    var rng: SplitMix64

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        buffer.beginRequest(id: id, method: "trail.sense")
        buffer.writeStaticString(#"{"ns":"#)
        buffer.writeJSONString(ns)
        buffer.writeStaticString(#","query":""#)
        buffer.writeString(Vocabulary.words[Int(rng.next() % UInt64(Vocabulary.words.count))])
        buffer.writeStaticString(#"","limit":10}"#)
        buffer.endRequest()
        return 0
    }
}

/// W5: the 10 strongest trails out of a note drawn uniformly.
struct FollowStream: RequestStream {
    let ns: String
    let ids: [String]
    var rng: SplitMix64

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        buffer.beginRequest(id: id, method: "trail.follow")
        buffer.writeStaticString(#"{"ns":"#)
        buffer.writeJSONString(ns)
        buffer.writeStaticString(#","from":""#)
        buffer.writeString(ids[Int(rng.next() % UInt64(ids.count))])
        buffer.writeStaticString(#"","limit":10}"#)
        buffer.endRequest()
        return 0
    }
}

/// W6: one request in ten a new deposit (kind 1), the others the top 10 (kind 0).
/// With `distinct`, no two senses are the same request: each asks a
/// `min_weight` of its own, too low to leave any note out (the same rows,
/// but nothing a daemon could share between two senses).
struct MixStream: RequestStream {
    let ns: String
    let distinct: Bool
    var deposits: DepositStream
    var rng: SplitMix64

    init(ns: String, connection: Int, distinct: Bool = false) {
        self.ns = ns
        self.distinct = distinct
        deposits = DepositStream(run: "mix", connection: connection)
        rng = SplitMix64(seed: 600 &+ UInt64(connection))
    }

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        if rng.next() % 10 == 0 {
            deposits.n += 1
            buffer.beginRequest(id: id, method: "trail.deposit")
            buffer.writeStaticString(#"{"ns":"#)
            buffer.writeJSONString(ns)
            buffer.writeStaticString(#","body":"#)
            buffer.writeJSONString(deposits.prefix + String(deposits.n) + ": " + Vocabulary.phrase(8, &deposits.rng))
            buffer.writeStaticString("}")
            buffer.endRequest()
            return 1
        }
        guard distinct else {
            var sense = SenseStream(ns: ns)
            return sense.next(id: id, into: &buffer)
        }
        buffer.beginRequest(id: id, method: "trail.sense")
        buffer.writeStaticString(#"{"ns":"#)
        buffer.writeJSONString(ns)
        buffer.writeStaticString(#","limit":10,"min_weight":"#)
        buffer.writeString("\(Double(1 + rng.next() % 1_000_000) * 1e-12)")
        buffer.writeStaticString("}")
        buffer.endRequest()
        return 0
    }
}
