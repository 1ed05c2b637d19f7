import Dispatch
import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import TrailStore

/// What a write did to the columns of `note` that a full-text sense ranks
/// by, in the order it did it: written by `SQLiteWrites` inside the group
/// commit's transaction, handed to the `NoteKeyMirror` once the transaction
/// has committed (and dropped if it did not).
final class KeyChanges {
    enum Change {
        /// The note's namespace, state and key now; its rank (nil: unchanged).
        case row(seq: Int64, ns: String, state: UInt8, key: Double, rank: Double?)
        /// Every key of the namespace above -1e300 moved down by `shift`.
        case rebase(ns: String, shift: Double)
    }

    private(set) var changes: [Change] = []
    /// A write changed rows in bulk (compaction): the mirror reads the store again.
    private(set) var bulk = false

    func row(seq: Int64, ns: String, state: StoredState, key: Double, rank: Double? = nil) {
        changes.append(.row(seq: seq, ns: ns, state: UInt8(state.rawValue), key: key, rank: rank))
    }

    func rebase(ns: String, shift: Double) { changes.append(.rebase(ns: ns, shift: shift)) }

    func markBulk() { bulk = true }

    /// How many changes are recorded: a mark to `drop(after:)` back to.
    var count: Int { changes.count }

    /// Forgets the changes recorded after `mark` (a refused write's, undone with its savepoint).
    /// A bulk mark stays: it only makes the mirror read the store again.
    func drop(after mark: Int) { changes.removeSubrange(mark...) }
}

/// traild's copy in memory of what a full-text sense ranks a match by: each
/// note's namespace, state, key and rank, by seq (21 bytes a note).
///
/// A word in 0.4 % of 1M notes matches about 4,000 of them. Choosing the
/// heaviest among them in SQL looks up each match's key in the
/// `note_match_key` index, a b-tree descent of about 1.3 µs each: 5 ms of the
/// 6 ms such a sense took. Here the posting list alone comes from SQLite and
/// each match costs an array read.
///
/// The copy answers only a read whose snapshot it matches exactly. Every
/// write transaction through `SQLiteCommit` (traild's and any other
/// process's, such as `trail-compactor`) moves the store's `note_epoch` on by
/// one; traild's own commits hand their changes here with the epoch they
/// started from, so the copy moves with them. A read compares the epoch of
/// its snapshot with the copy's and reads through SQL when they differ: a
/// commit in flight, another process's write, or a bulk change (a
/// compaction) after which the copy is read again from the store in the
/// background.
final class NoteKeyMirror: Sendable {
    private let pool: DatabasePool
    private let state = Mutex(MirrorState())
    private let queue = DispatchQueue(label: "trail.sqlite.key-mirror", qos: .utility)
    /// Wakes a build waiting for the store to settle when the copy stops
    /// (a stop used to wait out the pause: up to 0.25 s of every shutdown
    /// that came soon after a start or a compaction).
    private let wakeup = DispatchSemaphore(value: 0)
    /// How long the copy waits after the last change it could not follow
    /// before it reads the store again (a compaction changes rows batch after batch).
    static let settle: Double = 0.25

    init(pool: DatabasePool) {
        self.pool = pool
        invalidate()
    }

    /// The store's epoch inside the read transaction `db`.
    static func epoch(_ db: Database) throws -> Int64 {
        var epoch: Int64 = -1
        try db.forEachRow(sql: "SELECT n FROM note_epoch", binding: []) { epoch = RawColumn.int64($0, 0) }
        return epoch
    }

    /// Inside a write transaction: moves the store's epoch on and returns the one it started from.
    static func advance(_ db: Database) throws -> Int64 {
        let before = try epoch(db)
        try db.run(sql: "UPDATE note_epoch SET n = n + 1")
        return before
    }

    /// Whether the copy matches the store as of `epoch` (for tests).
    func isCurrent(at epoch: Int64) -> Bool { state.withLock { $0.epoch == epoch } }

    /// Reads the copy ranked, and reads it declined (not at their snapshot).
    var reads: (answered: Int, declined: Int) { state.withLock { ($0.answered, $0.declined) } }

    // MARK: the writer

    /// After a group commit that moved the store's epoch from `before` to `before + 1`.
    func committed(before: Int64, _ changes: KeyChanges) {
        let rebuild = state.withLock { s -> Bool in
            if s.building { s.log.append(LoggedCommit(before: before, changes: changes.bulk ? nil : changes.changes)) }
            if let epoch = s.epoch, epoch == before, !changes.bulk {
                s.columns.apply(changes.changes)
                s.epoch = before + 1
                return false
            }
            // A change the copy cannot follow (a bulk one, or one after
            // another process's write) puts the next read of the store off
            // until such changes settle. traild's own row changes do not:
            // a read of the store started after them sees them, and one in
            // progress replays them from the log, so a steady stream of
            // deposits never keeps the copy from coming back.
            if changes.bulk || s.epoch != nil { s.lastMiss = DispatchTime.now().uptimeNanoseconds }
            s.epoch = nil
            return !s.building && !s.scheduled
        }
        if rebuild { schedule() }
    }

    // MARK: the readers

    /// The `count` heaviest of `seqs` that are live notes of `ns` with a key
    /// of at least `floorKey`, each with its score
    /// `2^(key − offset) × (1 + rank)`, best score first; nil when the copy
    /// does not match the snapshot of `epoch`.
    func heaviest(_ seqs: [Int64], epoch: Int64, ns: String, floorKey: Double, count: Int,
                  offset: Double) -> [(seq: Int64, score: Double)]? {
        var picked: [(seq: Int64, key: Double, rank: Double)] = []
        picked.reserveCapacity(seqs.count)
        let answered = state.withLock { s -> Bool in
            guard let mine = s.epoch, mine == epoch else {
                s.declined += 1
                return false
            }
            s.answered += 1
            guard let id = s.columns.namespaces[ns] else { return true }
            s.columns.select(seqs, ns: id, floorKey: floorKey, into: &picked)
            return true
        }
        guard answered else {
            suspect(epoch)
            return nil
        }
        if picked.count > count {
            // The `count` heaviest, heavier key first and then lower seq (as
            // SQL picks them), in no order: a selection, not a sort of up to
            // 50,000 matches.
            picked.keepFirst(count) { $0.key != $1.key ? $0.key > $1.key : $0.seq < $1.seq }
        }
        var scored = picked.map { (seq: $0.seq, score: pow(2.0, $0.key - offset) * (1.0 + $0.rank)) }
        scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.seq < $1.seq }
        return scored
    }

    /// A read saw the store at `epoch`, ahead of the copy: a commit of
    /// traild's in flight (the copy catches up within microseconds), or
    /// another process's write (it never will). Looked at again after a while.
    private func suspect(_ epoch: Int64) {
        let look = state.withLock { s -> Bool in
            guard !s.stopped, !s.building, !s.scheduled, !s.checking, (s.epoch ?? Int64.max) < epoch else { return false }
            s.checking = true
            return true
        }
        guard look else { return }
        queue.asyncAfter(deadline: .now() + Self.settle) { [self] in
            guard !state.withLock({ $0.stopped }) else { return }
            let stored = try? pool.read { try Self.epoch($0) }
            let behind = state.withLock { s -> Bool in
                s.checking = false
                guard let stored, let mine = s.epoch, mine < stored, !s.building, !s.scheduled else { return false }
                s.epoch = nil
                return true
            }
            if behind { schedule() }
        }
    }

    /// Stops the copy's background work (before the store closes).
    func stop() {
        state.withLock { $0.stopped = true }
        wakeup.signal()
        queue.sync {}
    }

    // MARK: reading the store again

    private func invalidate() {
        let rebuild = state.withLock { s -> Bool in
            s.epoch = nil
            s.lastMiss = DispatchTime.now().uptimeNanoseconds
            return !s.building && !s.scheduled
        }
        if rebuild { schedule() }
    }

    private func schedule() {
        let go = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.scheduled = true
            return true
        }
        if go { queue.async { [self] in build() } }
    }

    /// Reads the copy from a snapshot once no change it could not follow
    /// came for `settle` seconds, then replays traild's commits made since
    /// that snapshot; starts again if one of them cannot be replayed.
    private func build() {
        while true {
            let wait = state.withLock { s -> Double in
                if s.stopped { return -1 }
                let quiet = Double(DispatchTime.now().uptimeNanoseconds &- s.lastMiss) / 1e9
                if quiet >= Self.settle {
                    s.building = true
                    s.scheduled = false
                    s.log = []
                    return 0
                }
                return Self.settle - quiet
            }
            if wait < 0 { return }
            if wait > 0 {
                _ = wakeup.wait(timeout: .now() + min(wait, Self.settle))
                continue
            }
            // `columns` is this function's only reference to what was read,
            // so replaying commits into it under the lock changes it in
            // place instead of copying every column first.
            let snapshot: Int64
            var columns: KeyColumns
            do {
                (snapshot, columns) = try pool.read { db in (try Self.epoch(db), try KeyColumns(db)) }
            } catch {
                // The store cannot be read now: try again later.
                state.withLock { s in
                    s.building = false
                    s.lastMiss = DispatchTime.now().uptimeNanoseconds
                    s.scheduled = true
                }
                continue
            }
            let done = state.withLock { s -> Bool in
                var epoch = snapshot
                for commit in s.log where commit.before >= snapshot {
                    guard commit.before == epoch, let changes = commit.changes else {
                        s.lastMiss = DispatchTime.now().uptimeNanoseconds
                        s.log = []
                        return false
                    }
                    columns.apply(changes)
                    epoch += 1
                }
                s.columns = columns
                s.epoch = epoch
                s.building = false
                s.log = []
                return true
            }
            if done { return }
        }
    }
}

/// One of traild's commits seen while the copy was being read from the
/// store: nil changes for a bulk one.
private struct LoggedCommit {
    var before: Int64
    var changes: [KeyChanges.Change]?
}

private struct MirrorState {
    /// The store epoch the columns match; nil while they match none.
    var epoch: Int64?
    var columns = KeyColumns()
    var building = false
    var scheduled = false
    var checking = false
    var stopped = false
    var answered = 0
    var declined = 0
    /// When a change the copy could not follow last came (uptime, ns).
    var lastMiss: UInt64 = 0
    var log: [LoggedCommit] = []
}

/// The columns themselves, indexed by seq.
private struct KeyColumns {
    var key: [Double] = []
    var rank: [Double] = []
    /// The namespace's number in `namespaces` (0: no note at this seq).
    var ns: [UInt32] = []
    var state: [UInt8] = []
    var namespaces: [String: UInt32] = [:]

    init() {}

    /// Every note of the store, from the `note_match_key` index (it holds these columns).
    init(_ db: Database) throws {
        let top = Int(try db.int(sql: "SELECT coalesce(max(seq), 0) FROM note") ?? 0)
        grow(to: top)
        try db.forEachRow(sql: "SELECT seq, ns, state, key, coalesce(rank, 0.0) FROM note INDEXED BY note_match_key",
                          binding: []) { s in
            let seq = Int(RawColumn.int64(s, 0))
            guard seq >= 0, seq <= top else { return }
            ns[seq] = namespace(RawColumn.text(s, 1))
            state[seq] = UInt8(truncatingIfNeeded: RawColumn.int64(s, 2))
            key[seq] = RawColumn.double(s, 3)
            rank[seq] = RawColumn.double(s, 4)
        }
    }

    private mutating func grow(to seq: Int) {
        guard seq >= key.count else { return }
        let more = max(seq + 1, key.count + key.count / 2) - key.count
        key.append(contentsOf: repeatElement(0, count: more))
        rank.append(contentsOf: repeatElement(0, count: more))
        ns.append(contentsOf: repeatElement(0, count: more))
        state.append(contentsOf: repeatElement(0, count: more))
    }

    private mutating func namespace(_ name: String) -> UInt32 {
        if let id = namespaces[name] { return id }
        let id = UInt32(namespaces.count + 1)
        namespaces[name] = id
        return id
    }

    mutating func apply(_ changes: [KeyChanges.Change]) {
        for change in changes {
            switch change {
            case let .row(seq, name, newState, newKey, newRank):
                let i = Int(seq)
                grow(to: i)
                ns[i] = namespace(name)
                state[i] = newState
                key[i] = newKey
                if let newRank { rank[i] = newRank }
            case let .rebase(name, shift):
                guard let id = namespaces[name] else { continue }
                for i in ns.indices where ns[i] == id && key[i] > -1e300 {
                    key[i] -= shift
                }
            }
        }
    }

    /// The live notes of namespace `id` among `seqs` with a key of at least `floorKey`.
    func select(_ seqs: [Int64], ns id: UInt32, floorKey: Double,
                into picked: inout [(seq: Int64, key: Double, rank: Double)]) {
        for seq in seqs {
            let i = Int(seq)
            guard i >= 0, i < key.count, ns[i] == id, state[i] == 0, key[i] >= floorKey else { continue }
            picked.append((seq, key[i], rank[i]))
        }
    }
}

extension Array {
    /// Keeps the `k` first elements in the strict total order `before`, in
    /// no particular order (Hoare's selection: linear on average).
    mutating func keepFirst(_ k: Int, by before: (Element, Element) -> Bool) {
        guard k < count else { return }
        guard k > 0 else { return removeAll() }
        var lo = 0
        var hi = count - 1
        while lo < hi {
            // The median of three as the pivot: sorted or reversed input stays linear.
            let mid = lo + (hi - lo) / 2
            if before(self[mid], self[lo]) { swapAt(mid, lo) }
            if before(self[hi], self[lo]) { swapAt(hi, lo) }
            if before(self[hi], self[mid]) { swapAt(hi, mid) }
            let pivot = self[mid]
            var i = lo
            var j = hi
            while i <= j {
                while before(self[i], pivot) { i += 1 }
                while before(pivot, self[j]) { j -= 1 }
                if i <= j {
                    swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            // Now [lo, j] precede-or-equal the pivot, [i, hi] follow-or-equal it.
            if k - 1 <= j {
                hi = j
            } else if k - 1 >= i {
                lo = i
            } else {
                break
            }
        }
        removeSubrange(k...)
    }
}
