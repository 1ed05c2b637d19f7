import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// A few connections for reads from async code: at most `size` queries run at
/// once, the others wait their turn, each for at most `acquireTimeout`.
///
/// Connections are opened lazily, on the first lease of a slot, and replaced
/// lazily: a lease that finds its slot's connection lost opens a new one. A
/// failure is not retried here (the caller decides), and it only costs the
/// caller that saw it; the slot goes back to the pool, empty if its
/// connection is gone.
///
/// Each slot's connection runs on one loop of the connector's group, the
/// slots spread round robin over its loops, and a caller on one of them is
/// lent a free slot of that loop first: a read made on a client's loop then
/// writes its statement and reads the answer on that thread, with no wake-up
/// of another (two per read otherwise, each tens of microseconds on a small
/// VM). When none of its loop's slots is free it takes any.
///
/// Why not postgres-nio's `PostgresClient`: its lease has no time bound (a
/// request waits while the pool keeps retrying to connect, up to a fixed 60 s
/// circuit breaker that is not configurable in 1.33), its failures surface as
/// `_ConnectionPoolModule` errors, and it needs `run()` in a task the daemon
/// would have to keep alive. The reads here need a bounded, typed answer:
/// `storage_unavailable` within a few seconds when the database is down.
public final class ReadPool: Sendable {
    /// The default number of connections.
    public static let defaultSize = 4
    /// The default bound on waiting for a free connection.
    public static let defaultAcquireTimeout: Duration = .seconds(5)
    /// The default bound on one read through `query`.
    public static let defaultStatementTimeout: Duration = .seconds(10)

    /// Opens the pool's connections.
    public let connector: PostgresConnector
    /// The number of connections (and of reads running at once).
    public let size: Int
    /// The bound on waiting for a free connection.
    public let acquireTimeout: Duration
    /// The bound on one read through `query`; the server cancels any
    /// statement on these connections 2 s after it (see `BlockingSession`).
    public let statementTimeout: Duration

    /// Who holds which slot, and who waits: an actor, so that the bodies of
    /// `withConnection` run in their caller's isolation, never on it.
    private let slots: Slots

    /// - Parameters:
    ///   - connector: where to connect.
    ///   - size: the number of connections (default 4, at least 1).
    ///   - acquireTimeout: the bound on waiting for a free connection (default 5 s).
    ///   - statementTimeout: the bound on one read through `query` (default 10 s).
    public init(connector: PostgresConnector, size: Int = ReadPool.defaultSize,
                acquireTimeout: Duration = ReadPool.defaultAcquireTimeout,
                statementTimeout: Duration = ReadPool.defaultStatementTimeout) {
        precondition(size >= 1, "a ReadPool needs at least one connection")
        self.connector = connector
        self.size = size
        self.acquireTimeout = acquireTimeout
        self.statementTimeout = statementTimeout
        // Slot i's connection runs on loop i of the group, round robin.
        let loops = Array(connector.eventLoopGroup.makeIterator())
        self.slots = Slots(loops: (0..<size).map { loops[$0 % loops.count] }, busy: PostgresFailure.unavailable(
            "All \(size) connections to the database at \(connector.location.redacted) stayed busy for \(acquireTimeout); retry later, the daemon is overloaded or the database slow."),
            closed: PostgresFailure.unavailable(
            "The read pool for the database at \(connector.location.redacted) is closed; the daemon is shutting down."))
    }

    /// Lends a connection to `body` and takes it back when `body` returns or throws.
    ///
    /// Waits at most `acquireTimeout` for a free connection, then opens it if
    /// needed (at most the connector's timeout). `body` runs in the caller's
    /// isolation and must not keep the connection. Throws `PostgresFailure`
    /// for the pool's own failures (`.unavailable` when no connection frees up
    /// in time or the pool is closed, `.refused`/`.unavailable` when opening
    /// fails); errors from `body` that come from postgres-nio or NIO are turned
    /// into `PostgresFailure` too; the caller's own errors and cancellation pass through.
    public func withConnection<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        // A caller on an event loop (a request's read, `EventLoopTaskExecutor`)
        // gets a connection on that loop when one is free: the statement is
        // written and its answer read on the caller's thread.
        let here = MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
        var slot = try await slots.lease(timeout: acquireTimeout, near: here)
        let connection: PostgresConnection
        if let open = slot.connection, !open.isClosed {
            connection = open
        } else {
            slot.connection?.closeDetached()
            slot.connection = nil
            do {
                connection = try await connector.connect(settings: PostgresConnection.serverTimeouts(after: statementTimeout), on: slot.loop)
            } catch {
                await slots.giveBack(slot)
                throw error
            }
            slot.connection = connection
        }
        do {
            let result = try await body(connection)
            await slots.giveBack(slot)
            return result
        } catch {
            if error is StatementTimedOut {
                // Being closed by the timer: the next lease must not race the close.
                slot.connection = nil
            }
            await slots.giveBack(slot)
            throw Self.sorted(error, location: connector.location)
        }
    }

    /// Runs one read and returns all its rows: `withConnection` around one
    /// query, bounded by `statementTimeout` (on timeout the connection is
    /// closed and replaced on its next lease).
    ///
    /// Throws `PostgresFailure`, as `withConnection` does.
    public func query(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) async throws(PostgresFailure) -> PostgresQueryResult {
        do {
            return try await withConnection { connection in
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds),
                                           timeout: TimeAmount(statementTimeout), logger: connector.logger).get()
            }
        } catch is StatementTimedOut {
            throw .unavailable("The database at \(connector.location.redacted) did not answer a read within \(statementTimeout); traild closed that connection and opens another on demand.")
        } catch {
            throw PostgresFailure.from(error, location: connector.location)
        }
    }

    /// Closes idle connections now and the leased ones as they come back;
    /// waiting and later leases throw `.unavailable`.
    public func close() async {
        await slots.close()
    }

    /// Connections leased right now.
    public var leasedCount: Int {
        get async { await slots.leased }
    }

    /// The most connections leased at once since the pool was made.
    public var peakLeased: Int {
        get async { await slots.peakLeased }
    }

    /// postgres-nio and NIO errors become `PostgresFailure`; the caller's own
    /// (and cancellation) pass through.
    private static func sorted(_ error: any Error, location: PostgresLocation) -> any Error {
        switch error {
        case is PSQLError, is PostgresDecodingError, is ChannelError, is IOError, is NIOConnectionError:
            PostgresFailure.from(error, location: location)
        default:
            error
        }
    }

    /// A slot is leased to one caller at a time; `connection` is nil until
    /// opened and after it was lost.
    fileprivate struct Slot: Sendable {
        /// The event loop its connection runs on, for good.
        let loop: any EventLoop
        var connection: PostgresConnection?

        init(loop: any EventLoop) {
            self.loop = loop
        }

        /// Whether its connection runs on `loop`.
        func runs(on loop: ObjectIdentifier) -> Bool {
            ObjectIdentifier(self.loop) == loop
        }
    }

    /// The free slots and the callers waiting for one, first come first served.
    private actor Slots {
        private struct Waiter {
            let id: Int
            let continuation: CheckedContinuation<Slot, any Error>
        }

        private var idle: [Slot]
        private var waiters: [Waiter] = []
        private var nextWaiterID = 0
        private var closed = false
        private let busyFailure: PostgresFailure
        private let closedFailure: PostgresFailure
        private(set) var leased = 0
        private(set) var peakLeased = 0

        init(loops: [any EventLoop], busy: PostgresFailure, closed: PostgresFailure) {
            self.idle = loops.map { Slot(loop: $0) }
            self.busyFailure = busy
            self.closedFailure = closed
        }

        deinit {
            for slot in idle { slot.connection?.closeDetached() }
        }

        /// A free slot, waiting for one at most `timeout`: one whose
        /// connection runs on the event loop `near` if one is free, else any.
        /// Throws `PostgresFailure` or, when the task is cancelled, `CancellationError`.
        func lease(timeout: Duration, near loop: ObjectIdentifier?) async throws -> Slot {
            if closed { throw closedFailure }
            if let i = loop.flatMap({ loop in idle.lastIndex { $0.runs(on: loop) } }) ?? idle.indices.last {
                leased += 1
                peakLeased = max(peakLeased, leased)
                return idle.remove(at: i)
            }
            let id = nextWaiterID
            nextWaiterID += 1
            // The timer and cancellation both remove the waiter if it is still
            // waiting; whichever of them or `giveBack` comes first resumes it.
            let timer = Task {
                try? await Task.sleep(for: timeout)
                self.abandon(waiterID: id, throwing: self.busyFailure)
            }
            defer { timer.cancel() }
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        waiters.append(Waiter(id: id, continuation: continuation))
                    }
                }
            } onCancel: {
                Task { await self.abandon(waiterID: id, throwing: CancellationError()) }
            }
        }

        private func abandon(waiterID: Int, throwing error: any Error) {
            guard let i = waiters.firstIndex(where: { $0.id == waiterID }) else { return }
            waiters.remove(at: i).continuation.resume(throwing: error)
        }

        func giveBack(_ slot: Slot) {
            var slot = slot
            if closed || slot.connection?.isClosed == true {
                slot.connection?.closeDetached()
                slot.connection = nil
            }
            if !waiters.isEmpty {
                // Hand the slot straight to the longest waiter: it stays leased.
                waiters.removeFirst().continuation.resume(returning: slot)
                return
            }
            leased -= 1
            idle.append(slot)
        }

        func close() {
            closed = true
            for slot in idle { slot.connection?.closeDetached() }
            idle = idle.map { Slot(loop: $0.loop) }
            let failed = waiters
            waiters = []
            for waiter in failed { waiter.continuation.resume(throwing: closedFailure) }
        }
    }
}
