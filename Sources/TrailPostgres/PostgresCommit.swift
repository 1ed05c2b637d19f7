import PostgresNIO
import TrailCore
import TrailStore

extension BlockingSession: StatementRunner {
    @discardableResult
    func rows(_ query: PostgresQuery) throws -> [PostgresRandomAccessRow] {
        try execute(query.sql, query.binds).rows.map { $0.makeRandomAccess() }
    }
}

/// How the PostgreSQL engine commits a group: the writes that arrived
/// together share one transaction, so a durable write costs neither a round
/// trip of its own for `BEGIN`/`COMMIT` nor a WAL flush of its own. Every
/// write of the group happens at one instant, read from the database's
/// clock when the transaction begins, so daemons whose clocks disagree
/// still agree on every weight.
///
/// A group runs first with no savepoints; if one write is refused, the
/// transaction is rolled back and the group runs again with each write in a
/// savepoint of its own. A transaction that loses a race with another
/// daemon's (deadlock, serialization failure) is rolled back and run again.
struct PostgresCommit: GroupApplier {
    let session: BlockingSession
    /// Names this daemon in the write log.
    let daemon: String

    /// Runs of a group that lose races with other daemons before it is failed.
    static let attempts = 8

    func commit(_ group: [PendingWrite]) -> [Result<Committed, TrailError>] {
        commitOrUnreachable(group).results
    }

    /// A group that failed for want of a connection (`unavailable`: none
    /// could be opened, or a statement was not answered in time; `refused`:
    /// the server turns traild away) fails the writes queued behind it too.
    func commitOrUnreachable(_ group: [PendingWrite]) -> (results: [Result<Committed, TrailError>], unreachable: TrailError?) {
        var savepoints = false
        var attempt = 0
        while true {
            attempt += 1
            do {
                return (try run(group, savepoints: savepoints), nil)
            } catch let refused as RefusedWrite {
                guard group.count > 1 else { return ([.failure(refused.error)], nil) }
                savepoints = true
            } catch let failure as PostgresFailure {
                if case .conflict = failure, attempt < Self.attempts { continue }
                let error = failure.trailError
                switch failure {
                case .unavailable, .refused: return (group.map { _ in .failure(error) }, error)
                case .conflict, .sql: return (group.map { _ in .failure(error) }, nil)
                }
            } catch {
                let mapped = Self.map(error)
                return (group.map { _ in .failure(mapped) }, nil)
            }
        }
    }

    /// A write of the group that failed with a contract error (not a storage failure).
    private struct RefusedWrite: Error {
        var error: TrailError
    }

    /// One transaction for the group; results only after it commits.
    private func run(_ group: [PendingWrite], savepoints: Bool) throws -> [Result<Committed, TrailError>] {
        try session.begin()
        do {
            let state = TransactionState()
            // The clock comes with the batch's namespaces when there is a batch.
            let batch = savepoints ? nil : try DepositBatch.insert(group, db: session, state: state)
            let now = try batch?.now ?? session.rows("SELECT extract(epoch FROM clock_timestamp())::float8")[0][0].decode(Double.self)
            var results: [Result<WriteOutcome, TrailError>] = []
            results.reserveCapacity(group.count)
            // For each write watchers hear of: the index of its log row (its last) among the transaction's.
            var rows: [Int?] = []
            for (i, pending) in group.enumerated() {
                let tx = PostgresWrites(db: session, now: now, writer: pending.writer, daemon: daemon, state: state)
                if savepoints { try session.rows("SAVEPOINT w\(unescaped: String(i))") }
                do {
                    let outcome = try tx.apply(pending.write)
                    if savepoints {
                        try tx.flushLog()
                        try session.rows("RELEASE SAVEPOINT w\(unescaped: String(i))")
                    }
                    results.append(.success(outcome))
                    rows.append(outcome.note == nil ? nil : state.logged.count + state.log.count - 1)
                } catch let error as TrailError {
                    guard savepoints else { throw RefusedWrite(error: error) }
                    // What the refused write did is undone; so is what it
                    // locked and read of its namespaces.
                    try session.rows("ROLLBACK TO SAVEPOINT w\(unescaped: String(i))")
                    state.log.removeAll()
                    state.namespaces.removeAll()
                    results.append(.failure(error))
                    rows.append(nil)
                }
            }
            try PostgresWrites(db: session, now: now, writer: Writer(), daemon: daemon, state: state).flushLog(signal: true)
            try session.commit()
            return zip(results, rows).map { result, row in
                result.map { Committed($0, seq: row.map { state.logged[$0] }) }
            }
        } catch {
            session.rollback()
            throw error
        }
    }

    /// The one place a failure of this engine becomes a contract error.
    static func map(_ error: any Error) -> TrailError {
        switch error {
        case let trail as TrailError: trail
        case let failure as PostgresFailure: failure.trailError
        case let archive as ArchiveError:
            archive.damage.map { TrailError.storageDamaged(file: $0.source, why: $0.why) } ?? .storageUnavailable("archive: \(archive.description)")
        default: .internal("\(error)")
        }
    }
}
