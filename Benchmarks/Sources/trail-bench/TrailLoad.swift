import Foundation
import Histogram
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Monotonic nanoseconds.
@inline(__always)
func monoNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Makes the request lines of one connection. Used on that connection's
/// event loop only.
protocol RequestStream {
    /// Writes the next request, a JSON-RPC line with `id`, into `buffer` and
    /// returns its kind (an index into the run's `kinds`, e.g. read or write).
    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int
}

/// What one timed run against traild asks for.
struct LoadPlan: Sendable {
    var connections: Int
    /// Requests in flight per connection; 1 is a sequential client.
    var depth: Int
    /// Seconds not counted at the start, then seconds counted.
    var warmup: Double
    var duration: Double
    /// Stop each connection after this many requests instead (loading).
    var requestsPerConnection: Int? = nil
    /// Names of the request kinds a stream returns, e.g. ["sense", "deposit"].
    var kinds: [String] = ["request"]
    /// Keep every answer line (costs a copy per answer): runs whose answers
    /// are checked afterwards, e.g. the meaning phase's recall.
    var keepAnswers = false
}

/// Latency histogram in nanoseconds, 3 significant digits, up to 100 s.
typealias LatencyHistogram = Histogram<UInt64>

func makeHistogram() -> LatencyHistogram {
    LatencyHistogram(lowestDiscernibleValue: 1, highestTrackableValue: 100_000_000_000, numberOfSignificantValueDigits: .three)
}

/// The outcome of one run: per kind, answers counted in the window and their latencies.
struct LoadResult: Sendable {
    var kinds: [String]
    var counted: [Int]
    var latency: [LatencyHistogram]
    var seconds: Double
    var errors: Int
    var firstError: String?
    /// With `keepAnswers`: per connection, each answer line by its request id (from 1, in the order sent).
    var answers: [[Int: String]] = []
    /// Seconds from the start to the end of the window (warm-up included):
    /// what the daemon's CPU per request is divided by.
    var elapsed: Double = 0
    /// Set when the window had to be extended (`MeasuringWindow.note`).
    var windowNote: String?

    var total: Int { counted.reduce(0, +) }
    var perSecond: Double { seconds > 0 ? Double(total) / seconds : 0 }

    func histogram(_ kind: String) -> LatencyHistogram {
        kinds.firstIndex(of: kind).map { latency[$0] } ?? makeHistogram()
    }

    /// Every kind's latencies together.
    var allLatency: LatencyHistogram {
        var h = makeHistogram()
        for l in latency { h.add(l) }
        return h
    }
}

/// Drives traild over its Unix socket: many connections on one event-loop
/// thread (as redis-benchmark is one thread), each keeping `depth` requests
/// in flight. Answers are matched by id (they may overtake one another);
/// a line is read only as far as its id and whether it is an error, so the
/// client's own cost stays small beside the daemon's.
enum TrailLoad {
    /// One thread, like redis-benchmark.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func run(socket: String, plan: LoadPlan,
                    stream: @escaping @Sendable (_ connection: Int) -> any RequestStream) async throws -> LoadResult {
        try await run(sockets: [socket], plan: plan, stream: stream)
    }

    /// The same over several daemons: connection `c` goes to
    /// `sockets[c % sockets.count]`, so the clients are split evenly.
    static func run(sockets: [String], plan: LoadPlan,
                    stream: @escaping @Sendable (_ connection: Int) -> any RequestStream) async throws -> LoadResult {
        precondition(!sockets.isEmpty, "TrailLoad.run needs a socket")
        var channels: [any Channel] = []
        var done: [EventLoopFuture<ConnectionTally>] = []
        for c in 0..<plan.connections {
            let promise = group.next().makePromise(of: ConnectionTally.self)
            let bootstrap = ClientBootstrap(group: group)
                .channelOption(.maxMessagesPerRead, value: 16)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            LoadHandler(stream: stream(c), plan: plan, done: promise))
                    }
                }
            let socket = sockets[c % sockets.count]
            do {
                channels.append(try await bootstrap.connect(unixDomainSocketPath: socket).get())
            } catch {
                throw BenchFailure("cannot connect to traild at \(socket): \(error)")
            }
            done.append(promise.futureResult)
        }
        let start = monoNanos()
        let timed = plan.requestsPerConnection == nil
        let window = SharedWindow(
            timed ? MeasuringWindow(warmup: plan.warmup, duration: plan.duration, start: start) : .unbounded(start: start),
            kinds: plan.kinds.count)
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(LoadStart(window: window)) }
        var result = LoadResult(kinds: plan.kinds, counted: Array(repeating: 0, count: plan.kinds.count),
                                latency: plan.kinds.map { _ in makeHistogram() }, seconds: 0, errors: 0)
        var lastAnswer = window.window.countFrom
        for future in done {
            let tally = try await future.get()
            for k in 0..<plan.kinds.count {
                result.counted[k] += tally.counted[k]
                result.latency[k].add(tally.latency[k])
            }
            result.errors += tally.errors
            if result.firstError == nil { result.firstError = tally.firstError }
            if plan.keepAnswers { result.answers.append(tally.answers) }
            lastAnswer = max(lastAnswer, tally.lastAnswer)
        }
        for channel in channels { try? await channel.close() }
        // Timed runs count answers in the window; loads, from the start to the last answer.
        if timed {
            guard window.complete else {
                throw window.window.nothingMeasured("\(plan.connections) connection(s) × \(plan.depth) in flight")
            }
            let end = window.end
            result.seconds = window.window.seconds(to: end)
            result.elapsed = Double(end - start) / 1e9
            result.windowNote = window.window.note(endedAt: end)
        } else {
            result.seconds = Double(lastAnswer - start) / 1e9
            result.elapsed = result.seconds
        }
        return result
    }
}

/// Sent to every connection at once to start the run.
struct LoadStart: Sendable {
    var window: SharedWindow
}

/// One connection's share of a run.
struct ConnectionTally: Sendable {
    var counted: [Int]
    var latency: [LatencyHistogram]
    var errors = 0
    var firstError: String?
    var lastAnswer: UInt64 = 0
    var answers: [Int: String] = [:]
}

final class LoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var stream: any RequestStream
    private let plan: LoadPlan
    private let done: EventLoopPromise<ConnectionTally>
    private var window: SharedWindow?
    /// Set once every kind of the run has a latency sample (no more need to tell the window).
    private var windowSatisfied = false
    /// Requests in flight: id -> (time sent, kind).
    private var inFlight: [Int: (sent: UInt64, kind: Int)] = [:]
    private var nextID = 1
    private var sent = 0
    private var partial: ByteBuffer?
    private var tally: ConnectionTally
    private var finished = false

    init(stream: any RequestStream, plan: LoadPlan, done: EventLoopPromise<ConnectionTally>) {
        self.stream = stream
        self.plan = plan
        self.done = done
        tally = ConnectionTally(counted: Array(repeating: 0, count: plan.kinds.count),
                                latency: plan.kinds.map { _ in makeHistogram() })
        inFlight.reserveCapacity(plan.depth * 2)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let start = event as? LoadStart else { return context.fireUserInboundEventTriggered(event) }
        window = start.window
        topUp(context: context)
    }

    private var mayStillSend: Bool {
        guard let window else { return false }
        if let limit = plan.requestsPerConnection, sent >= limit { return false }
        return window.isOpen(at: monoNanos())
    }

    private func topUp(context: ChannelHandlerContext) {
        var wrote = false
        if inFlight.count < plan.depth && mayStillSend {
            var buffer = context.channel.allocator.buffer(capacity: 256 * (plan.depth - inFlight.count))
            let now = monoNanos()
            while inFlight.count < plan.depth {
                if let limit = plan.requestsPerConnection, sent >= limit { break }
                let id = nextID
                nextID += 1
                sent += 1
                let kind = stream.next(id: id, into: &buffer)
                inFlight[id] = (now, kind)
            }
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            wrote = true
        }
        if !wrote && inFlight.isEmpty && !finished {
            finished = true
            done.succeed(tally)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var rest = partial {
            rest.writeBuffer(&incoming)
            incoming = rest
            partial = nil
        }
        let now = monoNanos()
        while let newline = incoming.withUnsafeReadableBytes({ raw in
            raw.firstIndex(of: UInt8(ascii: "\n"))
        }) {
            let line = incoming.readSlice(length: newline + 1)!
            answer(line, at: now)
        }
        if incoming.readableBytes > 0 { partial = incoming }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        topUp(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            finished = true
            if inFlight.isEmpty {
                done.succeed(tally)
            } else {
                done.fail(BenchFailure("traild closed a connection with \(inFlight.count) requests unanswered\(tally.firstError.map { "; an earlier error: \($0)" } ?? "")"))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !finished {
            finished = true
            done.fail(BenchFailure("a traild connection failed: \(error)"))
        }
        context.close(promise: nil)
    }

    /// Reads the id of an answer line (`{"jsonrpc":"2.0","id":N,"result"|"error":...`).
    private func answer(_ line: ByteBuffer, at now: UInt64) {
        let (id, isError) = line.withUnsafeReadableBytes { raw -> (Int?, Bool) in
            let key = Array(#""id":"#.utf8)
            let limit = min(raw.count, 96)
            var i = 0
            while i + key.count <= limit {
                if raw[i] == key[0] && raw[i + 1] == key[1] && raw[i + 2] == key[2] && raw[i + 3] == key[3] && raw[i + 4] == key[4] {
                    var j = i + key.count
                    var n = 0
                    var digits = 0
                    while j < raw.count, raw[j] >= 48, raw[j] <= 57 {
                        n = n * 10 + Int(raw[j] - 48)
                        j += 1
                        digits += 1
                    }
                    let isError = j + 8 <= raw.count && raw[j + 2] == UInt8(ascii: "e") && raw[j + 3] == UInt8(ascii: "r")
                    return (digits > 0 ? n : nil, isError)
                }
                i += 1
            }
            return (nil, true)
        }
        guard let id, let request = inFlight.removeValue(forKey: id) else {
            tally.errors += 1
            if tally.firstError == nil { tally.firstError = String(buffer: line).prefix(300).description }
            return
        }
        tally.lastAnswer = now
        if isError {
            tally.errors += 1
            if tally.firstError == nil { tally.firstError = String(buffer: line).prefix(300).description }
            return
        }
        if plan.keepAnswers { tally.answers[id] = String(buffer: line) }
        // Throughput counts every answer that arrives inside the window;
        // latency, only requests sent inside it (none queued in the warm-up).
        guard let window, window.contains(now) else { return }
        tally.counted[request.kind] += 1
        if request.sent >= window.window.countFrom {
            _ = tally.latency[request.kind].record(now - request.sent)
            if !windowSatisfied { windowSatisfied = window.sampled(request.kind, at: now) }
        }
    }
}

// MARK: building request lines

extension ByteBuffer {
    /// Writes `{"jsonrpc":"2.0","id":ID,"method":"METHOD","params":` then the
    /// caller writes the params object and calls `endRequest()`.
    @inline(__always)
    mutating func beginRequest(id: Int, method: StaticString) {
        writeStaticString(#"{"jsonrpc":"2.0","id":"#)
        writeString(String(id))
        writeStaticString(#","method":""#)
        writeStaticString(method)
        writeStaticString(#"","params":"#)
    }

    @inline(__always)
    mutating func endRequest() {
        writeStaticString("}\n")
    }

    /// Writes `s` as a JSON string (quotes, escapes).
    mutating func writeJSONString(_ s: String) {
        writeInteger(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): writeStaticString(#"\""#)
            case UInt8(ascii: "\\"): writeStaticString(#"\\"#)
            case 0..<0x20: writeString(String(format: "\\u%04x", b))
            default: writeInteger(b)
            }
        }
        writeInteger(UInt8(ascii: "\""))
    }
}
