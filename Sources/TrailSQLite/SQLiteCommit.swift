import Dispatch
import GRDB
import TrailCore
import TrailStore

/// How the SQLite engine commits a group: one `BEGIN IMMEDIATE` transaction
/// and one WAL sync for the whole group. A group runs first with no
/// savepoints; if one write is refused, the transaction is rolled back and
/// the group runs again with each write in its own savepoint, so the refused
/// write leaves the others untouched.
struct SQLiteCommit: GroupApplier {
    let pool: DatabasePool
    let clock: any WallClock
    let packs: ArchivePacks
    let fault: CompactionFault?
    /// traild's copy of what a full-text sense ranks by, told of each commit (nil in other programs).
    let mirror: NoteKeyMirror?

    /// One transaction for the whole group; results are returned only after
    /// it commits, so nothing is acknowledged that is not on disk.
    func commit(_ group: [PendingWrite]) -> [Result<Committed, TrailError>] {
        let now = clock.now()
        do {
            let applied: Applied
            do {
                applied = try apply(group, now: now, savepoints: false)
            } catch is RefusedWrite where group.count > 1 {
                // One write was refused: run the group again, each write in
                // a savepoint of its own, so the others still commit. Every
                // write sees the same `now`, so the others do exactly what
                // they did the first time.
                applied = try apply(group, now: now, savepoints: true)
            }
            mirror?.committed(before: applied.epoch, applied.changes)
            let results = applied.results
            if results.contains(where: { if case .success(let c) = $0, case .evaporated = c.outcome { true } else { false } }) {
                try? fault?.trip(.committed)
            }
            if results.contains(where: { if case .success(let c) = $0, case .marked = c.outcome { true } else { false } }) {
                try? fault?.trip(.marked)
            }
            return results
        } catch let refused as RefusedWrite {
            return [.failure(refused.error)]
        } catch {
            let mapped = SQLiteStore.map(error, database: pool.path)
            return group.map { _ in .failure(mapped) }
        }
    }

    /// A write of the group that failed with a contract error (not a storage failure).
    private struct RefusedWrite: Error {
        var error: TrailError
    }

    /// What a committed group did: its results, the store epoch it started
    /// from (it moved it on by one), and its changes for the mirror.
    private struct Applied {
        var results: [Result<Committed, TrailError>]
        var epoch: Int64
        var changes: KeyChanges
    }

    /// Applies the group in one transaction. Without savepoints (nearly
    /// every group commits whole, and a savepoint per write copies each page
    /// the write first touches into the savepoint journal, tens of kilobytes
    /// a deposit) any refused write rolls the transaction back and throws
    /// `RefusedWrite`; with them, a refused write is undone alone and
    /// answered with its error while the others commit.
    private func apply(_ group: [PendingWrite], now: Double, savepoints: Bool) throws -> Applied {
        var results: [Result<Committed, TrailError>] = []
        results.reserveCapacity(group.count)
        let changes = KeyChanges()
        let record = mirror == nil ? nil : changes
        var epoch: Int64 = 0
        try pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                epoch = try NoteKeyMirror.advance(db)
                for job in group {
                    let mark = changes.count
                    var write = SQLiteWrites(db: db, now: now, writer: job.writer, packs: packs, fault: fault)
                    write.changes = record
                    do {
                        var outcome: WriteOutcome?
                        if savepoints {
                            try db.inCachedSavepoint { outcome = try write.apply(job.write) }
                        } else {
                            outcome = try write.apply(job.write)
                        }
                        // A write that watchers hear of ends with its log row.
                        results.append(.success(Committed(outcome!, seq: outcome!.note == nil ? nil : db.lastInsertedRowID)))
                    } catch {
                        let mapped = SQLiteStore.map(error, database: pool.path)
                        // A storage failure inside the transaction dooms the group;
                        // a damaged archive pack fails only the write that reads it.
                        if case .storageUnavailable = mapped { throw error }
                        if case .storageDamaged = mapped, !(error is ArchiveError) { throw error }
                        guard savepoints else { throw RefusedWrite(error: mapped) }
                        // Its changes were undone with its savepoint.
                        changes.drop(after: mark)
                        results.append(.failure(mapped))
                    }
                }
                return .commit
            }
        }
        return Applied(results: results, epoch: epoch, changes: changes)
    }
}
