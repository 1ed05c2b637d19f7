/// What a daemon's listener has handed its watchers, so that after its
/// listening connection was down it catches up from the write log with no
/// event missed and none twice.
///
/// The write log's seqs are given out in time order but committed in any
/// order, so "the highest seq seen" is no place to resume from: a lower one
/// may still commit. What bounds it is `settle`: a seq given out at time t
/// is committed or rolled back, and if committed its signal received by a
/// connected listener, by t + settle (the server ends a transaction left
/// idle, and cancels a statement, within traild's timeouts). So the listener
/// keeps marks (when it saw the log reach a seq); a mark older than `settle`
/// is a floor: every seq at or below it is settled, and was delivered if it
/// committed. Seqs delivered above the floor are remembered, so a catch-up
/// that reads from the floor skips them.
struct ListenerLedger {
    /// Seconds from a seq's issue to its signal's arrival, at most.
    let settle: Double
    /// Every seq at or below it is settled and, if it committed, delivered.
    private(set) var floor: Int64
    /// Seqs above `floor` already delivered.
    private(set) var delivered: Set<Int64> = []
    /// (time, seq): by `time`, the log had reached `seq` (every seq at or
    /// below was already given out).
    private var marks: [(time: Double, seq: Int64)] = []

    /// A ledger for a listener that starts at log seq `top`: what committed
    /// before is not its business.
    init(settle: Double, top: Int64) {
        self.settle = settle
        floor = top
    }

    /// Whether the event of log row `seq`, read in a catch-up, is still to
    /// be delivered.
    func isNew(_ seq: Int64) -> Bool {
        seq > floor && !delivered.contains(seq)
    }

    /// Whether the event of log row `seq`, signalled while listening, is
    /// still to be delivered: only a catch-up may have sent it already. (At
    /// or below the floor it may be new: a write that committed after the
    /// listener first connected, with a seq given out before.)
    func isUnsent(_ seq: Int64) -> Bool {
        !delivered.contains(seq)
    }

    /// Records that the event(s) of log row `seq` were delivered.
    mutating func deliver(_ seq: Int64) {
        if seq > floor { delivered.insert(seq) }
    }

    /// Records that at `time` the log had reached `seq` (a signal's last
    /// seq, or the log's highest read on the listening connection).
    mutating func mark(_ seq: Int64, at time: Double) {
        if let last = marks.last, last.seq >= seq { return }
        marks.append((time, seq))
    }

    /// Raises the floor to the newest mark that has settled by `time`, and
    /// forgets what lies at or below it. Call it at `time` only while the
    /// listener was connected through the whole `settle` before it (at the
    /// moment the connection was lost, not after).
    mutating func settle(at time: Double) {
        guard let i = marks.lastIndex(where: { $0.time + settle <= time }) else { return }
        if marks[i].seq > floor {
            floor = marks[i].seq
            delivered = delivered.filter { $0 > floor }
        }
        marks.removeFirst(i + 1)
    }

    /// Skips everything up to `seq` (a gap was reported for it).
    mutating func skip(through seq: Int64) {
        guard seq > floor else { return }
        floor = seq
        delivered = delivered.filter { $0 > floor }
        marks.removeAll { $0.seq <= floor }
    }
}
