import Metrics
import Dispatch
import Synchronization
import TrailCore

/// A queued write and who made it.
public struct PendingWrite: Sendable {
    public var write: WriteRequest
    public var writer: Writer
    public init(write: WriteRequest, writer: Writer) {
        self.write = write
        self.writer = writer
    }
}

/// How an engine commits a group of writes: in one transaction, at one
/// instant, answering each write. A refused write (a contract error) must
/// leave the others of its group committed; a storage failure fails them all.
public protocol GroupApplier: Sendable {
    /// Applies `group` in order and commits; returns one result per write,
    /// only once what succeeded is durable.
    func commit(_ group: [PendingWrite]) -> [Result<Committed, TrailError>]

    /// `commit`, and when the whole group failed because the store cannot be
    /// reached now (a connection that could not be opened, or a statement
    /// that was not answered in time), that failure: the writes queued
    /// behind the group are answered with it at once. By default never.
    func commitOrUnreachable(_ group: [PendingWrite]) -> (results: [Result<Committed, TrailError>], unreachable: TrailError?)
}

extension GroupApplier {
    public func commitOrUnreachable(_ group: [PendingWrite]) -> (results: [Result<Committed, TrailError>], unreachable: TrailError?) {
        (commit(group), nil)
    }
}

/// Applies queued writes in submission order, many per transaction: while one
/// transaction commits (one sync), the next writes gather in the queue and
/// are then committed together by the engine's `GroupApplier`. A bulk write
/// (compaction, import) is a group of its own.
public final class GroupCommit<Applier: GroupApplier>: Sendable {
    private struct Job: Sendable {
        var pending: PendingWrite
        var completion: @Sendable (Result<Committed, TrailError>) -> Void
    }

    private struct Queue {
        var jobs: [Job] = []
        var draining = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let applier: Applier
    private let maxGroup: Int
    private let queue = Mutex(Queue())
    private let thread: DispatchQueue
    /// Where a committed group's writers are answered, in order, while the
    /// commit thread applies the next group: completing a thousand promises
    /// (a task handed to an event loop each) took a few percent of the
    /// commit thread, which bounds the write rate.
    private let answers: DispatchQueue
    private let depth = Atomic<Int>(0)
    /// Writes per committed group (`trail_group_commit_writes`, a histogram
    /// in /metrics), made once: not looked up again for every group.
    private let groupSizes = Recorder(label: "trail_group_commit_writes")

    /// `maxGroup` bounds the writes of one transaction, and so the latency
    /// of the first; `label` names the commit thread.
    public init(_ applier: Applier, maxGroup: Int = 1024, label: String = "trail.group-commit") {
        self.applier = applier
        self.maxGroup = maxGroup
        thread = DispatchQueue(label: label)
        answers = DispatchQueue(label: label + ".answers")
    }

    /// Writes queued and not yet answered.
    public var pending: Int { depth.load(ordering: .relaxed) }

    /// Queues `write`; `completion` runs on the answers queue once the write
    /// is durable or failed. Cheap: takes a lock and appends.
    public func submit(_ write: WriteRequest, by writer: Writer,
                       completion: @escaping @Sendable (Result<Committed, TrailError>) -> Void) {
        depth.add(1, ordering: .relaxed)
        let start = queue.withLock { q in
            q.jobs.append(Job(pending: PendingWrite(write: write, writer: writer), completion: completion))
            if q.draining { return false }
            q.draining = true
            return true
        }
        if start { thread.async { self.drainLoop() } }
    }

    /// Returns once every write queued so far is committed and answered.
    public func drain() async {
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
                var n = min(q.jobs.count, maxGroup)
                if q.jobs[0].pending.write.isBulk {
                    n = 1
                } else if let bulk = q.jobs.prefix(n).firstIndex(where: { $0.pending.write.isBulk }) {
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
            let (results, unreachable) = applier.commitOrUnreachable(group.map(\.pending))
            groupSizes.record(group.count)
            // The store could not be reached: the writes that queued meanwhile
            // are answered the same at once, untried, rather than each waiting
            // for a timeout of its own. So no write waits for more than one
            // failing attempt.
            let untried: [Job] = unreachable == nil ? [] : queue.withLock { q in
                defer { q.jobs.removeAll() }
                return q.jobs
            }
            depth.subtract(group.count + untried.count, ordering: .relaxed)
            answers.async {
                for (job, result) in zip(group, results) { job.completion(result) }
                if let unreachable {
                    for job in untried { job.completion(.failure(unreachable)) }
                }
            }
        }
    }
}
