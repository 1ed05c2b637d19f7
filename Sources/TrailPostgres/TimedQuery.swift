import Logging
import NIOCore
import PostgresNIO

/// A statement that did not finish in time; its connection was closed.
struct StatementTimedOut: Error {}

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

    /// The startup setting that makes the server cancel a statement 2 s after
    /// the client gave up on it: a backend whose client is gone does not
    /// notice while it waits for a lock, and would keep its transaction's
    /// locks until then.
    static func serverStatementTimeout(after clientTimeout: Duration) -> (String, String) {
        let backstop = clientTimeout + .seconds(2)
        let millis = backstop.components.seconds * 1000 + backstop.components.attoseconds / 1_000_000_000_000_000
        return ("statement_timeout", "\(millis)ms")
    }
}
