import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A statement that did not finish in time; its connection was closed.
public struct StatementTimedOut: Error {}

extension PostgresConnection {
    /// Runs `query` and collects its rows, failing with `StatementTimedOut`
    /// and closing the connection if that takes longer than `timeout`.
    ///
    /// Closing is the only way out that bounds the wait on a dead network or
    /// a backend stuck behind a lock: postgres-nio 1.33 has no public cancel
    /// request, and the protocol cannot abandon one statement and keep the
    /// connection. The caller replaces the connection.
    func query(_ query: PostgresQuery, timeout: TimeAmount, logger: Logger) -> EventLoopFuture<PostgresQueryResult> {
        let loop = eventLoop
        let answer = loop.makePromise(of: PostgresQueryResult.self)
        // Both the timer and the query complete `answer` on the connection's loop;
        // the first wins, a second completion is a no-op in NIO. The timer fails
        // `answer` before closing: the close fails the query at once, which would
        // otherwise win with `clientClosedConnection`. So a caller may see the
        // timeout before the close is done, and must drop the connection itself
        // rather than test `isClosed`.
        let timer = loop.scheduleTask(in: timeout) {
            answer.fail(StatementTimedOut())
            self.closeDetached()
        }
        self.query(query, logger: logger).whenComplete { result in
            timer.cancel()
            answer.completeWith(result)
        }
        return answer.futureResult
    }

    /// The startup settings that bound what a session whose client is gone
    /// (a partition, a daemon killed) can hold up on the server:
    ///
    /// - `statement_timeout`: the server cancels a statement 2 s after the
    ///   client gave up on it: a backend whose client is gone does not notice
    ///   while it waits for a lock.
    /// - `idle_in_transaction_session_timeout`, half the client's statement
    ///   timeout: a transaction whose client went silent between statements
    ///   (its next statement or its COMMIT lost in a partition) is ended, and
    ///   its row locks freed, before another daemon's statement that waits
    ///   for them times out. traild never leaves a transaction idle: between
    ///   its statements it only computes.
    static func serverTimeouts(after clientTimeout: Duration) -> [(String, String)] {
        [("statement_timeout", "\((clientTimeout + .seconds(2)).wholeMilliseconds)ms"),
         ("idle_in_transaction_session_timeout", "\(max(1, (clientTimeout / 2).wholeMilliseconds))ms")]
    }
}

extension Duration {
    /// The whole milliseconds of this duration (what PostgreSQL's settings take).
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

extension PostgresConnection {
    /// Runs a prepared statement (parsed and planned once per connection)
    /// and collects its rows; past `timeout` the connection is closed and
    /// the call fails with `StatementTimedOut`, as `query(_:timeout:logger:)`.
    public func rows<Statement: PostgresPreparedStatement>(_ statement: Statement, timeout: TimeAmount, logger: Logger) async throws
        -> [PostgresRandomAccessRow] where Statement.Row == PostgresRow {
        let timedOut = TimeoutFlag()
        let timer = eventLoop.scheduleTask(in: timeout) {
            timedOut.fired.store(true, ordering: .releasing)
            self.closeDetached()
        }
        defer { timer.cancel() }
        do {
            var rows: [PostgresRandomAccessRow] = []
            for try await row in try await execute(statement, logger: logger) { rows.append(row.makeRandomAccess()) }
            return rows
        } catch {
            if timedOut.fired.load(ordering: .acquiring) { throw StatementTimedOut() }
            throw error
        }
    }
}

/// Whether a statement's timer fired (and closed its connection).
private final class TimeoutFlag: Sendable {
    let fired = Atomic<Bool>(false)
}
