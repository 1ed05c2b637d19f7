import Glibc
import NIOCore
import NIOPosix
import TrailCore
import TrailProtocol
import TrailStore

/// Carries out one connection's requests: single requests and batches,
/// pipelined, with explicit back-pressure.
///
/// Ordering: writes are queued on the store in arrival order, and a read
/// waits for every write this connection sent before it, so a client that
/// pipelines `deposit` then `get` reads its own write. Responses are written
/// as they complete and carry their request's id.
///
/// Short reads (`Plan.inlineRead`) with no earlier write outstanding are
/// answered right here on the event loop, inside `channelRead`; reads that
/// may walk much of the store (`Plan.blockingRead`) run on NIO's blocking
/// thread pool and are answered back on the loop. Responses
/// written while reading are flushed once at `channelReadComplete`; those
/// that complete later (writes, reads that waited) are flushed by one task
/// queued behind them, so answers that complete together share a syscall.
///
/// Back-pressure: no more bytes are read while `maxInFlight` requests are
/// unanswered or the socket's send buffer is full.
final class RequestDispatcher: ChannelDuplexHandler {
    typealias InboundIn = Incoming
    typealias OutboundIn = Outgoing
    typealias OutboundOut = Outgoing

    static let maxInFlight = 512

    private let dispatcher: Dispatcher
    private var peer: Peer?
    /// The peer's user and groups, for the access rules.
    private var lookup = PeerLookup()
    /// The agent named in `trail.hello`, used for writes that name none.
    private var agent: String?
    /// Completes once every write this connection has queued is answered.
    private var writesDone: EventLoopFuture<Void>?
    /// Writes this connection has queued that are not answered yet.
    private var writesOutstanding = 0
    /// Runs this connection's async reads on its event loop (made on the
    /// first, when the store reads there: `TrailStore.readsOnEventLoop`).
    private var readExecutor: EventLoopTaskExecutor?
    /// Inside a burst of `channelRead`s: `channelReadComplete` will flush.
    private var reading = false
    /// Responses written but not flushed yet.
    private var unflushed = false
    /// A flush task is queued on the event loop.
    private var flushQueued = false
    private var inFlight = 0
    private var readHeld = false
    private var closing = false
    /// A drain asked for at shutdown (`Drain`): completed once this
    /// connection's answers are written and its output closed, or it closed.
    private var drain: (done: EventLoopPromise<Void>, deadline: Scheduled<Void>)?
    /// Records of `trail.import` held under a stage name until its commit.
    private var staged: [String: [NoteRecord]] = [:]
    /// Most records one connection may hold staged.
    static let maxStaged = 1_000_000

    init(dispatcher: Dispatcher) { self.dispatcher = dispatcher }

    // MARK: lifecycle

    func channelActive(context: ChannelHandlerContext) {
        dispatcher.connections.add(1, ordering: .relaxed)
        let connection = ObjectIdentifier(self)
        peer = Peer(uid: nil, gid: nil, pid: nil, connection: connection, channel: context.channel,
                    backlog: EventBacklog(limit: dispatcher.watchBacklogBytes))
        // On the channel's own loop this completes at once, before any request is read.
        if let provider = context.channel as? SocketOptionProvider {
            PeerCredentials.read(from: provider).hop(to: context.eventLoop).assumeIsolated().whenSuccess { cred in
                self.peer?.uid = cred.uid
                self.peer?.gid = cred.gid
                self.peer?.pid = cred.pid
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        dispatcher.connections.subtract(1, ordering: .relaxed)
        dispatcher.hub.closed(connection: ObjectIdentifier(self))
        if let (done, deadline) = drain {
            drain = nil
            deadline.cancel()
            done.succeed()
        }
        context.fireChannelInactive()
    }

    // MARK: shutdown

    /// Fired at a connection by the daemon when it stops, once reading has
    /// stopped and the store has committed its queued writes: the
    /// connection writes the answers still in flight, then closes its output
    /// (what it wrote is flushed first) and completes `done`. A peer that
    /// does not read them is closed after `limit`.
    struct Drain: Sendable {
        let done: EventLoopPromise<Void>
        let limit: TimeAmount
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let request = event as? Drain else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let deadline = context.eventLoop.assumeIsolated().scheduleTask(in: request.limit) { context.close(promise: nil) }
        drain = (request.done, deadline)
        finishDrainIfIdle(context: context)
    }

    /// Closes the output once no answer is in flight, if a drain was asked for.
    private func finishDrainIfIdle(context: ChannelHandlerContext) {
        guard inFlight == 0, let (done, deadline) = drain else { return }
        drain = nil
        unflushed = false
        context.flush()
        let closed = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: closed)
        closed.futureResult.assumeIsolated().whenComplete { _ in
            deadline.cancel()
            done.succeed()
        }
    }

    // MARK: back-pressure

    func read(context: ChannelHandlerContext) {
        if inFlight >= Self.maxInFlight || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        guard readHeld, inFlight < Self.maxInFlight / 2, context.channel.isWritable else { return }
        readHeld = false
        context.read()
    }

    // MARK: requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        reading = true
        switch unwrapInboundIn(data) {
        case .unreadable(.frameTooLarge(let limit)):
            // The rest of the stream cannot be framed again: answer and close.
            closing = true
            let response = RPCResponse.failure(id: .null, error: RPCError(.frameTooLarge(limit: limit)))
            context.writeAndFlush(wrapOutboundOut(.json(response))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case let .unreadable(error):
            context.writeAndFlush(wrapOutboundOut(.json(RPCResponse.failure(id: .null, error: RPCError(error)))), promise: nil)
        case let .json(.array(items)):
            handleBatch(items, context: context)
        case let .json(value):
            track(handle(value, context: context), context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// Writes a response: flushed at the end of the current read burst, or
    /// by one flush task queued behind the answers completing now.
    private func send(_ response: Outgoing, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(response), promise: nil)
        unflushed = true
        guard !reading, !flushQueued else { return }
        flushQueued = true
        context.eventLoop.assumeIsolated().execute {
            self.flushQueued = false
            guard self.unflushed else { return }
            self.unflushed = false
            context.flush()
        }
    }

    private func handleBatch(_ items: [JSONValue], context: ChannelHandlerContext) {
        guard !items.isEmpty, items.count <= Limits.maxBatch else {
            let why = items.isEmpty ? "The batch is empty" : "The batch has \(items.count) requests, more than \(Limits.maxBatch)"
            let response = RPCResponse.failure(id: .null, error: RPCError(.invalidRequest(why)))
            context.writeAndFlush(wrapOutboundOut(.json(response)), promise: nil)
            return
        }
        let loop = context.eventLoop
        let answers = items.map { item -> EventLoopFuture<Outgoing?> in
            switch handle(item, context: context) {
            case let .now(response): loop.makeSucceededFuture(response)
            case let .later(future): future
            }
        }
        let all = EventLoopFuture.whenAllSucceed(answers, on: context.eventLoop).map { list -> Outgoing? in
            let responses = list.compactMap { $0?.json }
            return responses.isEmpty ? nil : .json(.array(responses))
        }
        track(.later(all), context: context)
    }

    /// Writes an answer known now; counts one to come in flight and writes it when it comes.
    private func track(_ answer: Answer, context: ChannelHandlerContext) {
        switch answer {
        case let .now(response):
            if let response { send(response, context: context) }
        case let .later(future):
            inFlight += 1
            future.assumeIsolated().whenSuccess { response in
                self.inFlight -= 1
                if let response, context.channel.isActive {
                    self.send(response, context: context)
                }
                self.resumeReadingIfPossible(context: context)
                self.finishDrainIfIdle(context: context)
            }
        }
    }

    /// The response to a request (nil for a notification): known at once, or
    /// a future that never fails.
    private enum Answer {
        case now(Outgoing?)
        case later(EventLoopFuture<Outgoing?>)
    }

    /// The response to one request. Never fails.
    private func handle(_ value: JSONValue, context: ChannelHandlerContext) -> Answer {
        let loop = context.eventLoop
        let request: RPCRequest
        do {
            request = try RPCRequest(value)
        } catch {
            return .now(.json(RPCResponse.failure(id: error.id, error: error.rpcError)))
        }
        let id = request.id
        let method = DaemonMetrics.label(request.method), metrics = dispatcher.metrics, started = NIODeadline.now()
        @Sendable func answer(_ result: Result<ReadResult, any Error>) -> Outgoing? {
            metrics.answered(method: method, outcome: Self.outcome(result), started: started)
            guard let id else { return nil }
            switch result {
            case let .success(result): return .success(id: id, result)
            case let .failure(error as TrailError): return .json(RPCResponse.failure(id: id, error: RPCError(error)))
            case let .failure(error): return .json(RPCResponse.failure(id: id, error: RPCError(.internal("\(error)"))))
            }
        }
        var call: Call
        do {
            call = try Call(method: request.method, params: request.params, agent: agent)
        } catch {
            metrics.answered(method: method, outcome: error.rpcError.data["reason"]?.string ?? "error", started: started)
            return .now(id.map { .json(RPCResponse.failure(id: $0, error: error.rpcError)) })
        }
        if case let .hello(_, helloAgent?) = call { agent = helloAgent }
        let grant: Grant?
        switch admit(call) {
        case let .success(admitted): grant = admitted
        case let .failure(refusal): return .now(answer(.failure(refusal)))
        }
        if case let .importRecords(ns, records, stage?, commit, importAgent) = call {
            let held = (staged.removeValue(forKey: stage) ?? []) + records
            if !commit {
                guard staged.values.reduce(held.count, { $0 + $1.count }) <= Self.maxStaged else {
                    let error = TrailError.invalidParams(field: "records", message: "More than \(Self.maxStaged) records are staged on this connection; commit them before staging more.")
                    return .now(answer(.failure(error)))
                }
                staged[stage] = held
                return .now(answer(.success(.json(.object(["ns": .string(ns), "staged": .int(held.count)])))))
            }
            call = .importRecords(ns: ns, records: held, stage: nil, commit: true, agent: importAgent)
        }
        let result: EventLoopFuture<ReadResult>
        switch dispatcher.plan(call, peer: peer!, grant: grant) {
        case let .immediate(r):
            return .now(answer(r.map(ReadResult.json).mapError { $0 as any Error }))
        case let .write(write, writer):
            guard !dispatcher.writesFull else {
                return .now(answer(.failure(TrailError.overloaded)))
            }
            let promise = loop.makePromise(of: Committed.self)
            dispatcher.store.submit(write, by: writer) { promise.completeWith($0.mapError { $0 as any Error }) }
            let dispatcher = self.dispatcher
            result = promise.futureResult.map { .json(dispatcher.finish($0.outcome, seq: $0.seq)) }
            writesOutstanding += 1
            writesDone = promise.futureResult.assumeIsolated().map { _ in self.writesOutstanding -= 1 }
                .recover { _ in self.writesOutstanding -= 1 }.nonisolated()
        case let .inlineRead(body):
            // Nothing of this connection's is still being written: read now.
            guard writesOutstanding > 0, let writesDone else {
                return .now(answer(Self.run(body)))
            }
            result = writesDone.flatMapResult { Self.run(body) }
        case let .blockingRead(body):
            let start = writesDone ?? loop.makeSucceededVoidFuture()
            result = start.flatMap { NIOThreadPool.singleton.runIfActive(eventLoop: loop) { try Self.run(body).get() } }
        case let .read(body):
            let start = writesDone ?? loop.makeSucceededVoidFuture()
            guard dispatcher.store.readsOnEventLoop else {
                result = start.flatMap { loop.makeFutureWithTask { try await body() } }
                break
            }
            // On this connection's event loop: no hop to Swift's thread pool and back.
            let executor = readExecutor ?? EventLoopTaskExecutor(loop)
            readExecutor = executor
            result = start.flatMap {
                let promise = loop.makePromise(of: ReadResult.self)
                Task(executorPreference: executor) {
                    do {
                        promise.succeed(try await body())
                    } catch {
                        promise.fail(error)
                    }
                }
                return promise.futureResult
            }
        }
        return .later(result.map { answer(.success($0)) }.recover { answer(.failure($0)) })
    }

    /// Checks `call` against the access rules in force (contract §10): the
    /// rules and the peer it was let through under (nil when every peer may
    /// do everything), or the refusal naming the namespace and the right.
    private func admit(_ call: Call) -> Result<Grant?, TrailError> {
        let rules = dispatcher.access.current
        guard !rules.policy.isOpen else { return .success(nil) }
        let who = lookup.identity(of: peer!, generation: rules.generation)
        if case let .right(right, ns) = call.accessNeed {
            do {
                try rules.policy.require(right, in: ns, by: who)
            } catch {
                return .failure(error)
            }
        }
        return .success(Grant(policy: rules.policy, peer: who))
    }

    /// `ok`, or the contract's name of the error: the outcome label of /metrics.
    private static func outcome(_ result: Result<ReadResult, any Error>) -> String {
        switch result {
        case .success: "ok"
        case let .failure(error as TrailError): error.reason
        case .failure: TrailErrorCode.internalError.name
        }
    }

    /// Runs an inline read, its failure as a plain `Error`.
    private static func run(_ body: @Sendable () throws(TrailError) -> ReadResult) -> Result<ReadResult, any Error> {
        do {
            return .success(try body())
        } catch {
            return .failure(error)
        }
    }
}

/// The peer's uid and pid of a Unix socket connection (SO_PEERCRED).
enum PeerCredentials {
    struct Credentials: Sendable {
        var uid: UInt32
        var gid: UInt32
        var pid: Int32
    }

    /// Linux's `struct ucred` (glibc hides it behind _GNU_SOURCE).
    struct LinuxUcred: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// Linux's SO_PEERCRED option number.
    static let soPeerCred: Int32 = 17

    /// Not inlinable, as NIO asks of `unsafeGetSocketOption` callers.
    static func read(from provider: any SocketOptionProvider) -> EventLoopFuture<Credentials> {
        provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(soPeerCred))
            .map { (cred: LinuxUcred) in Credentials(uid: cred.uid, gid: cred.gid, pid: cred.pid) }
    }
}
