import Logging
import NIOCore
import TrailClient
import TrailProtocol

/// What the tools need of the daemon: one call, and the socket it is on (for
/// the messages that say how to start it). `DaemonLink` is the real one;
/// tests put a scripted daemon in its place.
public protocol DaemonCalling: Sendable {
    /// The socket the daemon is expected on, and how it was chosen.
    var socket: SocketLocation { get }

    /// Calls `method` and returns its result as the daemon sent it.
    ///
    /// `idempotent` says the call may be sent again on a new connection if
    /// the old one closed before the answer came (reads); writes are never
    /// sent twice, since a deposit that was applied before the connection
    /// dropped would then count twice.
    func call(_ method: String, _ params: JSONObject, idempotent: Bool) async throws(TrailClientError) -> JSONValue

    /// The daemon's answer to `trail.hello`, as sent: what it can do (its
    /// limits, `semantic`). May be remembered for as long as the connection
    /// it came from stays open, since a daemon restarted with another model
    /// or configuration answers differently.
    func hello() async throws(TrailClientError) -> JSONValue
}

extension DaemonCalling {
    /// The hello params trail-mcp sends.
    static var helloParams: JSONObject { HelloRequest(client: "trail-mcp/\(TrailMCPConfiguration.version)").params }

    /// Asks every time; `DaemonLink` remembers the answer per connection.
    public func hello() async throws(TrailClientError) -> JSONValue {
        try await call("trail.hello", Self.helloParams, idempotent: true)
    }
}

/// The connection to `traild`, made when first needed and made again after
/// the daemon restarts.
///
/// No connection is made at start, so trail-mcp starts (and lists its tools)
/// with the daemon down. Each call checks that the connection is still open
/// and reconnects if not; a daemon that stopped is noticed then, not by
/// polling. Calls from concurrent tool calls are pipelined on the one
/// connection (`TrailConnection` matches answers by id).
public actor DaemonLink: DaemonCalling {
    public nonisolated let socket: SocketLocation
    private let logger: Logger
    private var connection: TrailConnection?
    /// The connect in progress, shared by every call that waits for it.
    private var connecting: Task<Result<TrailConnection, TrailClientError>, Never>?
    /// Whether the last attempt failed, so that an outage is logged once.
    private var unreachable = false
    /// The hello answered on `connection`: the same daemon answers the same
    /// while the connection is open; a new connection asks again.
    private var greeting: (connection: TrailConnection, answer: JSONValue)?

    public init(socket: SocketLocation, logger: Logger) {
        self.socket = socket
        self.logger = logger
    }

    public func call(_ method: String, _ params: JSONObject, idempotent: Bool) async throws(TrailClientError) -> JSONValue {
        let first = try await open()
        do throws(TrailClientError) {
            return try await first.call(method, params)
        } catch .connectionClosed {
            forget(first)
            logger.info("the connection to traild closed during \(method); reconnecting", metadata: ["socket": "\(socket.path)"])
            let second = try await open()  // throws daemonUnavailable when the daemon is gone
            guard idempotent else { throw .connectionClosed }
            return try await second.call(method, params)
        }
    }

    /// `trail.hello`, asked once per connection. Costs one round trip on
    /// the first call after each (re)connect, nothing after.
    public func hello() async throws(TrailClientError) -> JSONValue {
        let current = try await open()
        if let greeting, greeting.connection === current { return greeting.answer }
        let answer = try await call("trail.hello", Self.helloParams, idempotent: true)
        // `call` may have reconnected: remember the answer for the connection that gave it.
        if let now = connection { greeting = (now, answer) }
        return answer
    }

    /// Closes the connection, if any.
    public func close() async {
        let c = connection
        connection = nil
        await c?.close()
    }

    /// The open connection, made now if there is none or the last one closed.
    private func open() async throws(TrailClientError) -> TrailConnection {
        if let c = connection {
            if c.isOpen { return c }
            forget(c)
            logger.info("traild closed the connection (stopped or restarted); will reconnect", metadata: ["socket": "\(socket.path)"])
        }
        let task: Task<Result<TrailConnection, TrailClientError>, Never>
        if let connecting {
            task = connecting
        } else {
            let socket = self.socket
            task = Task {
                do throws(TrailClientError) {
                    return .success(try await TrailConnection.connect(to: socket, timeout: .seconds(5)))
                } catch {
                    return .failure(error)
                }
            }
            connecting = task
        }
        let result = await task.value
        if connecting == task { connecting = nil }
        switch result {
        case let .success(c):
            if connection == nil || connection?.isOpen == false {
                connection = c
                unreachable = false
                logger.info("connected to traild", metadata: ["socket": "\(socket.path)"])
            }
            return c
        case let .failure(error):
            if !unreachable {
                unreachable = true
                logger.warning("\(error)")
            }
            throw error
        }
    }

    /// Drops `c` if it is the current connection, closing it.
    private func forget(_ c: TrailConnection) {
        if connection === c { connection = nil }
        if greeting?.connection === c { greeting = nil }
        Task { await c.close() }
    }
}
