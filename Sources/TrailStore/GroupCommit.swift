import Dispatch
import GRDB
import Synchronization
import TrailCore

/// Applies queued writes in submission order, many per transaction: while one
/// transaction commits (one WAL sync), the next writes gather in the queue and
/// are then committed together. A group runs first with no savepoints; if
/// one write is refused, the transaction is rolled back and the group runs
/// again with each write in its own savepoint, so the refused write leaves
/// the others untouched. A bulk write (compaction, import) is a group of its
/// own.
final class GroupCommit: Sendable {
    private struct Job: Sendable {
        var write: WriteRequest
        var writer: Writer
        var completion: @Sendable (Result<WriteOutcome, TrailError>) -> Void
    }

    private struct Queue {
        var jobs: [Job] = []
        var draining = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Writes in one transaction at most; bounds the latency of the first.
    private static let maxGroup = 1024

    private let pool: DatabasePool
    private let clock: any WallClock
    private let packs: ArchivePacks
    private let fault: CompactionFault?
    private let queue = Mutex(Queue())
    private let thread = DispatchQueue(label: "trail.group-commit")
    /// Where a committed group's writers are answered, in order, while the
    /// commit thread applies the next group: completing a thousand promises
    /// (a task handed to an event loop each) took a few percent of the
    /// commit thread, which bounds the write rate.
    private let answers = DispatchQueue(label: "trail.group-commit.answers")
    private let depth = Atomic<Int>(0)

    init(pool: DatabasePool, clock: any WallClock, packs: ArchivePacks, fault: CompactionFault?) {
        self.pool = pool
        self.clock = clock
        self.packs = packs
        self.fault = fault
    }

    var pending: Int { depth.load(ordering: .relaxed) }

    func submit(_ write: WriteRequest, by writer: Writer,
                completion: @escaping @Sendable (Result<WriteOutcome, TrailError>) -> Void) {
        depth.add(1, ordering: .relaxed)
        let start = queue.withLock { q in
            q.jobs.append(Job(write: write, writer: writer, completion: completion))
            if q.draining { return false }
            q.draining = true
            return true
        }
        if start { thread.async { self.drainLoop() } }
    }

    /// Returns once every write queued so far is committed and answered.
    func drain() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let idle = queue.withLock { q in
                if !q.draining && q.jobs.isEmpty { return true }
                q.idleWaiters.append(c)
                return false
            }
            if idle { c.resume() }
        }
    }

    private func drainLoop() {
        while true {
            let (group, waiters): ([Job], [CheckedContinuation<Void, Never>]) = queue.withLock { q in
                if q.jobs.isEmpty {
                    q.draining = false
                    let w = q.idleWaiters
                    q.idleWaiters = []
                    return ([], w)
                }
                // A bulk write goes alone, so it needs no savepoint of its own.
                var n = min(q.jobs.count, Self.maxGroup)
                if q.jobs[0].write.isBulk {
                    n = 1
                } else if let bulk = q.jobs.prefix(n).firstIndex(where: { $0.write.isBulk }) {
                    n = bulk
                }
                let group = Array(q.jobs.prefix(n))
                q.jobs.removeFirst(n)
                return (group, [])
            }
            if group.isEmpty {
                // After the answers of every group before.
                answers.async { waiters.forEach { $0.resume() } }
                return
            }
            let results = commit(group)
            depth.subtract(group.count, ordering: .relaxed)
            answers.async {
                for (job, result) in zip(group, results) { job.completion(result) }
            }
        }
    }

    /// One transaction for the whole group; results are returned only after
    /// it commits, so nothing is acknowledged that is not on disk.
    private func commit(_ group: [Job]) -> [Result<WriteOutcome, TrailError>] {
        let now = clock.now()
        do {
            let results: [Result<WriteOutcome, TrailError>]
            do {
                results = try apply(group, now: now, savepoints: false)
            } catch is RefusedWrite where group.count > 1 {
                // One write was refused: run the group again, each write in
                // a savepoint of its own, so the others still commit. Every
                // write sees the same `now`, so the others do exactly what
                // they did the first time.
                results = try apply(group, now: now, savepoints: true)
            }
            if results.contains(where: { if case .success(.evaporated) = $0 { true } else { false } }) {
                try? fault?.trip(.committed)
            }
            if results.contains(where: { if case .success(.marked) = $0 { true } else { false } }) {
                try? fault?.trip(.marked)
            }
            return results
        } catch let refused as RefusedWrite {
            return [.failure(refused.error)]
        } catch {
            let mapped = SQLiteStore.map(error)
            return group.map { _ in .failure(mapped) }
        }
    }

    /// A write of the group that failed with a contract error (not a storage failure).
    private struct RefusedWrite: Error {
        var error: TrailError
    }

    /// Applies the group in one transaction. Without savepoints (nearly
    /// every group commits whole, and a savepoint per write copies each page
    /// the write first touches into the savepoint journal, tens of kilobytes
    /// a deposit) any refused write rolls the transaction back and throws
    /// `RefusedWrite`; with them, a refused write is undone alone and
    /// answered with its error while the others commit.
    private func apply(_ group: [Job], now: Double, savepoints: Bool) throws -> [Result<WriteOutcome, TrailError>] {
        var results: [Result<WriteOutcome, TrailError>] = []
        results.reserveCapacity(group.count)
        try pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                for job in group {
                    let write = SQLiteWrites(db: db, now: now, writer: job.writer, packs: packs, fault: fault)
                    do {
                        if savepoints {
                            var outcome: WriteOutcome?
                            try db.inCachedSavepoint { outcome = try write.apply(job.write) }
                            results.append(.success(outcome!))
                        } else {
                            results.append(.success(try write.apply(job.write)))
                        }
                    } catch {
                        let mapped = SQLiteStore.map(error)
                        // A storage failure inside the transaction dooms the group.
                        if case .storageUnavailable = mapped { throw error }
                        guard savepoints else { throw RefusedWrite(error: mapped) }
                        results.append(.failure(mapped))
                    }
                }
                return .commit
            }
        }
        return results
    }
}
