import Foundation
import NIOCore
import NIOPosix
import TrailCore
import TrailProtocol

/// One connection to `traild` over its Unix socket.
///
/// Calls may be made from many tasks at once: they are pipelined on the one
/// connection and each answer is matched to its call by id, so a slow call
/// does not hold up the others. Writes from one connection are applied in the
/// order they were sent, and a read sees the writes sent before it.
///
/// ```swift
/// let trail = try await TrailConnection.connect(to: .forClient(flag: nil))
/// let note = try await trail.send(DepositRequest(body: "found sugar", tags: ["food"]))
/// for try await item in try await trail.watch(tags: ["food"]) {
///     switch item {
///     case let .event(event): print(event.kind, event.note.body)
///     case .missed: print("missed writes: sense again")
///     }
/// }
/// ```
///
/// Every method throws `TrailClientError`: `.rpc` when the daemon answered
/// with an error, `.connectionClosed` when the connection ended first.
public final class TrailConnection: Sendable {
    /// The socket this connection was made to.
    public let socket: SocketLocation
    private let channel: any Channel

    /// Answer lines longer than this are refused as a protocol violation. The
    /// daemon bounds what it reads, not what it writes: an export page of
    /// large notes can be many megabytes.
    public static let maxAnswerBytes = 1 << 30

    private init(socket: SocketLocation, channel: any Channel) {
        self.socket = socket
        self.channel = channel
    }

    /// Connects to the daemon at `socket`.
    ///
    /// Costs one `connect(2)`; no request is sent. Throws `daemonUnavailable`
    /// naming the socket and why (no socket file, nothing listening behind a
    /// stale one, no permission, a path too long for a Unix socket).
    public static func connect(
        to socket: SocketLocation,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: TimeAmount = .seconds(10)
    ) async throws(TrailClientError) -> TrailConnection {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(ByteToMessageHandler(LineFrameDecoder(maxBytes: maxAnswerBytes)))
                    try ops.addHandler(RPCClientHandler())
                }
            }
        do {
            let channel = try await bootstrap.connect(unixDomainSocketPath: socket.path).get()
            return TrailConnection(socket: socket, channel: channel)
        } catch {
            throw .daemonUnavailable(socket: socket.path, reason: Self.explain(error, path: socket.path))
        }
    }

    /// Connects to the socket at `path`.
    public static func connect(path: String) async throws(TrailClientError) -> TrailConnection {
        try await connect(to: SocketLocation(path: path, source: .flag))
    }

    /// Turns a connect failure into words an operator can act on.
    static func explain(_ error: any Error, path: String) -> String {
        var errno: Int32?
        if let io = error as? IOError { errno = io.errnoCode }
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            errno = (first.error as? IOError)?.errnoCode
        }
        if error is SocketAddressError { return "the path is too long for a Unix socket (at most 107 bytes)" }
        if error is ChannelError { return "the connection timed out" }
        switch errno {
        case ENOENT?:
            return FileManager.default.fileExists(atPath: (path as NSString).deletingLastPathComponent)
                ? "there is no socket file there" : "there is no socket file there (not even its folder)"
        case ECONNREFUSED?: return "nothing is listening there (a socket file left by a daemon that stopped)"
        case EACCES?, EPERM?: return "permission denied (the socket belongs to another user or group)"
        case ENOTSOCK?: return "the file there is not a socket"
        case let code?: return String(cString: strerror(code))
        case nil: return "\(error)"
        }
    }

    // MARK: calls

    /// Calls `method` and returns its `result` exactly as the daemon sent it
    /// (members in the daemon's order). One request line; answers are
    /// matched by id, so concurrent calls are pipelined.
    public func call(_ method: String, _ params: JSONObject? = nil) async throws(TrailClientError) -> JSONValue {
        let promise = channel.eventLoop.makePromise(of: JSONValue.self)
        send(OutgoingCall(method: method, params: params, promise: promise), flush: true)
        return try await Self.wait(promise.futureResult)
    }

    /// Calls the request's method and returns its result unread, for printing;
    /// decode it later with `request.decode(_:)`.
    public func call<R: TrailRequest>(_ request: R) async throws(TrailClientError) -> JSONValue {
        try await call(request.method, request.params)
    }

    /// Calls the request's method and returns the typed result. Throws
    /// `protocolViolation` when the result does not have the documented shape.
    public func send<R: TrailRequest>(_ request: R) async throws(TrailClientError) -> R.Result {
        let raw = try await call(request)
        do {
            return try request.decode(raw)
        } catch {
            throw TrailClientError(error)
        }
    }

    /// Sends every request before waiting for any answer (one flush), then
    /// collects the answers, in the order of `requests`, each a result or
    /// the error it got. One failure does not stop the others.
    public func pipeline(_ requests: [(method: String, params: JSONObject?)]) async -> [Result<JSONValue, TrailClientError>] {
        var futures: [EventLoopFuture<JSONValue>] = []
        futures.reserveCapacity(requests.count)
        for (n, r) in requests.enumerated() {
            let promise = channel.eventLoop.makePromise(of: JSONValue.self)
            futures.append(promise.futureResult)
            send(OutgoingCall(method: r.method, params: r.params, promise: promise), flush: n == requests.count - 1)
        }
        var out: [Result<JSONValue, TrailClientError>] = []
        for f in futures {
            do throws(TrailClientError) { out.append(.success(try await Self.wait(f))) } catch { out.append(.failure(error)) }
        }
        return out
    }

    /// Sends a notification: carried out, never answered, not even on failure.
    /// Returns once it is written.
    public func notify(_ method: String, _ params: JSONObject? = nil) async throws(TrailClientError) {
        do {
            try await channel.writeAndFlush(OutgoingCall(method: method, params: params, promise: nil)).get()
        } catch {
            throw .connectionClosed
        }
    }

    /// Subscribes to the events of `ns` (notes carrying all of `tags`) and
    /// returns them as an async sequence, with the gaps among them (writes
    /// through other daemons this daemon could not send; re-read with `sense`). The subscription belongs to this
    /// connection; it ends when the sequence's consumer stops or the
    /// connection closes.
    public func watch(ns: String? = nil, tags: [String] = []) async throws(TrailClientError) -> TrailEventStream {
        var params = JSONObject()
        params.put("ns", ns)
        params.put("tags", tags)
        let (stream, sink) = AsyncThrowingStream<TrailWatchItem, any Error>.makeStream()
        let promise = channel.eventLoop.makePromise(of: JSONValue.self)
        send(OutgoingCall(method: "trail.watch", params: params, promise: promise, events: sink), flush: true)
        let result = try await Self.wait(promise.futureResult)
        guard let subscription = result["subscription"]?.string else {
            throw .protocolViolation("trail.watch answered without a subscription")
        }
        return TrailEventStream(subscription: subscription, base: stream)
    }

    /// Ends a subscription made on this connection.
    public func unwatch(_ subscription: String) async throws(TrailClientError) {
        _ = try await call("trail.unwatch", ["subscription": .string(subscription)])
    }

    /// Closes the connection. Calls still waiting fail with `connectionClosed`
    /// and event streams end.
    public func close() async {
        try? await channel.close()
    }

    /// True until the connection has closed.
    public var isOpen: Bool { channel.isActive }

    // MARK: plumbing

    private func send(_ call: OutgoingCall, flush: Bool) {
        let future = flush ? channel.writeAndFlush(call) : channel.write(call)
        // A channel already closed never reaches the handler: fail here.
        // (Completing a promise twice is harmless in NIO; the first wins.)
        future.whenFailure { _ in
            call.promise?.fail(TrailClientError.connectionClosed)
            call.events?.finish(throwing: TrailClientError.connectionClosed)
        }
    }

    private static func wait(_ future: EventLoopFuture<JSONValue>) async throws(TrailClientError) -> JSONValue {
        do {
            return try await future.get()
        } catch let error as TrailClientError {
            throw error
        } catch {
            throw .connectionClosed
        }
    }
}
