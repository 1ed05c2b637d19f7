import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// One PostgreSQL connection driven from a thread that may block: the engine's
/// writer runs its transactions through one of these on a thread of its own.
///
/// Each call sends one statement and waits for all its rows (`EventLoopFuture.wait()`),
/// so the writer's code reads top to bottom with no `await`. Calling it on an
/// event loop thread would deadlock that loop, so every call checks that it is
/// not on one (a precondition, not a thrown error: that is a bug, not a state).
///
/// Connection loss: a call that loses its connection throws `.unavailable`
/// (as does a statement sent just as the server ends the session); the next
/// call opens a new connection before sending anything. Nothing is retried
/// here: the caller knows whether a statement may be run twice. Inside a
/// transaction (`begin()` ... `commit()`/`rollback()`), a lost connection
/// means the server rolled the transaction back, so every call but
/// `rollback()` throws `.unavailable` until the caller rolls back: a
/// transaction never silently continues on a fresh connection in autocommit.
///
/// Timeouts: each statement has `statementTimeout` (default 10 s). When it
/// expires the connection is closed (its backend may be stuck behind a lock or
/// a dead network) and the call throws `.unavailable`. The server also gets
/// `statement_timeout` = `statementTimeout` + 2 s at startup, as a backstop: a
/// backend whose client is gone does not notice while it waits for a lock, and
/// would otherwise keep the transaction's locks until then.
///
/// Thread safety: calls are serialised by a lock, so sharing a session across
/// threads is safe, but one owner thread is the intended use; statements from
/// two threads would interleave inside each other's transactions.
public final class BlockingSession: Sendable {
    /// The default bound on one statement.
    public static let defaultStatementTimeout: Duration = .seconds(10)

    /// Opens this session's connections.
    public let connector: PostgresConnector
    /// The bound on one statement, from sending it to its last row.
    public let statementTimeout: Duration

    private struct State: Sendable {
        var connection: PostgresConnection?
        /// Between `begin()` and `commit()`/`rollback()`.
        var inTransaction = false
        /// The connection died inside the open transaction, which the server rolled back.
        var transactionLost = false
    }

    private let state = Mutex(State())

    /// A session that connects on first use (or on `connect()`).
    ///
    /// - Parameters:
    ///   - connector: where to connect, with its connect timeout.
    ///   - statementTimeout: the bound on one statement (default 10 s).
    public init(connector: PostgresConnector, statementTimeout: Duration = BlockingSession.defaultStatementTimeout) {
        self.connector = connector
        self.statementTimeout = statementTimeout
    }

    deinit {
        state.withLock { $0.connection?.closeDetached() }
    }

    /// Whether a connection is open now (it may still turn out lost on the next call).
    public var isConnected: Bool {
        state.withLock { $0.connection.map { !$0.isClosed } ?? false }
    }

    /// Opens the connection now if none is open, so that a bad password or a
    /// missing database shows at startup rather than on the first write.
    ///
    /// Costs one connect (bounded by the connector's timeout) when not connected.
    /// Throws `.refused` or `.unavailable`.
    public func connect() throws(PostgresFailure) {
        Self.checkNotOnEventLoop()
        try state.withLock { (s) throws(PostgresFailure) in _ = try self.liveConnection(&s) }
    }

    /// Runs one statement and returns all its rows.
    ///
    /// `sql` is one statement with `$1`, `$2`... placeholders for `binds`
    /// (PostgreSQL's extended protocol: a single statement, no `;`-separated list).
    /// Costs one round trip plus the server's work; blocks the calling thread.
    /// Throws `.unavailable` (connection lost or timed out: the next call
    /// reconnects), `.conflict` (40001/40P01), `.sql`, or `.refused` (when it
    /// had to reconnect and the server now refuses).
    @discardableResult
    public func execute(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) throws(PostgresFailure) -> PostgresQueryResult {
        Self.checkNotOnEventLoop()
        return try state.withLock { (s) throws(PostgresFailure) in
            try self.run(PostgresQuery(unsafeSQL: sql, binds: binds), in: &s)
        }
    }

    /// Starts a transaction (`BEGIN`, read committed unless `sql` says otherwise,
    /// e.g. `BEGIN ISOLATION LEVEL SERIALIZABLE`).
    ///
    /// Throws like `execute`; after a throw no transaction is open.
    public func begin(_ sql: String = "BEGIN") throws(PostgresFailure) {
        Self.checkNotOnEventLoop()
        try state.withLock { (s) throws(PostgresFailure) in
            precondition(!s.inTransaction, "BlockingSession.begin() inside a transaction: commit or roll back first")
            // A lost connection is replaced here: nothing of a transaction is at stake yet.
            try self.run(PostgresQuery(unsafeSQL: sql), in: &s)
            s.inTransaction = true
            s.transactionLost = false
        }
    }

    /// Commits the open transaction.
    ///
    /// Throws like `execute`; after any outcome no transaction is open. If the
    /// connection was lost during the commit, whether it committed is unknown,
    /// and the message says so.
    public func commit() throws(PostgresFailure) {
        Self.checkNotOnEventLoop()
        try state.withLock { (s) throws(PostgresFailure) in
            precondition(s.inTransaction, "BlockingSession.commit() without begin()")
            defer { s.inTransaction = false; s.transactionLost = false }
            if s.transactionLost {
                throw .unavailable(self.lostInTransaction)
            }
            do throws(PostgresFailure) {
                try self.run("COMMIT", in: &s)
            } catch .unavailable {
                throw .unavailable("The connection to the database at \(connector.location.redacted) failed during COMMIT, so whether the transaction committed is unknown; check before redoing a write that must not happen twice.")
            }
        }
    }

    /// Rolls back the open transaction.
    ///
    /// Does not throw when the connection is lost: the server has already
    /// rolled the transaction back then. After it no transaction is open.
    public func rollback() {
        Self.checkNotOnEventLoop()
        state.withLock { s in
            defer { s.inTransaction = false; s.transactionLost = false }
            guard s.inTransaction, !s.transactionLost, let connection = s.connection, !connection.isClosed else { return }
            do {
                try self.run("ROLLBACK", in: &s)
            } catch {
                // Whatever went wrong, the transaction is over for the server: a
                // failed ROLLBACK means the connection is gone (run dropped it).
            }
        }
    }

    /// Closes the connection; the next call opens a new one.
    public func close() {
        Self.checkNotOnEventLoop()
        state.withLock { s in
            if let connection = s.connection { try? connection.close().wait() }
            s.connection = nil
            if s.inTransaction { s.transactionLost = true }
        }
    }

    // MARK: - Internals (called with the lock held)

    @discardableResult
    private func run(_ query: PostgresQuery, in s: inout State) throws(PostgresFailure) -> PostgresQueryResult {
        if s.transactionLost {
            throw .unavailable(lostInTransaction)
        }
        let connection = try liveConnection(&s)
        let answer = connection.query(query, timeout: TimeAmount(statementTimeout), logger: connector.logger)
        do {
            return try answer.wait()
        } catch is StatementTimedOut {
            drop(&s)
            throw .unavailable("The database at \(connector.location.redacted) did not answer a statement within \(statementTimeout); traild closed that connection and reconnects on the next call.")
        } catch {
            let failure = PostgresFailure.from(error, location: connector.location)
            if connection.isClosed || Self.meansConnectionLost(failure) { drop(&s) }
            throw failure
        }
    }

    /// The open connection, opening one if there is none or it was lost.
    private func liveConnection(_ s: inout State) throws(PostgresFailure) -> PostgresConnection {
        if let connection = s.connection, !connection.isClosed { return connection }
        if s.connection != nil {
            // Lost since the last call.
            drop(&s)
            if s.transactionLost {
                throw .unavailable(lostInTransaction)
            }
        }
        do {
            let connection = try connector.connectFuture(settings: PostgresConnection.serverTimeouts(after: statementTimeout)).wait()
            s.connection = connection
            return connection
        } catch let failure as PostgresFailure {
            throw failure
        } catch {
            throw connector.failure(connecting: error)
        }
    }

    private var lostInTransaction: String {
        "The connection to the database at \(connector.location.redacted) was lost inside a transaction, which the server rolled back; roll back and run the transaction again."
    }

    /// Forgets the connection (closing it); an open transaction is lost with it.
    private func drop(_ s: inout State) {
        s.connection?.closeDetached()
        s.connection = nil
        if s.inTransaction { s.transactionLost = true }
    }

    /// `.unavailable` on a statement means the session is unusable (lost,
    /// shutting down, read-only server...): start afresh on the next call.
    private static func meansConnectionLost(_ failure: PostgresFailure) -> Bool {
        if case .unavailable = failure { return true }
        return false
    }

    private static func checkNotOnEventLoop() {
        precondition(MultiThreadedEventLoopGroup.currentEventLoop == nil,
                     "BlockingSession blocks its thread: call it from the writer's own thread, never from an event loop")
    }
}
