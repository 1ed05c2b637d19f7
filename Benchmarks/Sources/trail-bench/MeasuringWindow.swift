import Foundation
import Synchronization

/// When a timed run counts: `warmup` seconds not counted, then `duration`
/// seconds counted. A window in which nothing was counted is extended, up
/// to `limit` seconds, until the first operation that started inside it has
/// finished, so that a slow build or a slow machine gives a slower figure,
/// never a zero. Past the limit the run has measured nothing, and says so
/// (`BenchFailure`): no figure is written.
///
/// Used by every timed loop of the harness (traild through `TrailLoad`, raw
/// SQLite, raw PostgreSQL), so they all end their windows by one rule.
struct MeasuringWindow: Sendable {
    /// Operations that start before this are not counted.
    let countFrom: UInt64
    /// The planned end of the window.
    let plannedStop: UInt64
    /// The latest end of an extended window.
    let hardStop: UInt64

    /// The longest a window is stretched when nothing was counted in it:
    /// four times the planned window, at least 20 s.
    static func limit(duration: Double) -> Double { max(20, 4 * duration) }

    init(warmup: Double, duration: Double, start: UInt64 = monoNanos()) {
        countFrom = start + UInt64(warmup * 1e9)
        plannedStop = countFrom + UInt64(duration * 1e9)
        hardStop = countFrom + UInt64(Self.limit(duration: duration) * 1e9)
    }

    private init(countFrom: UInt64, plannedStop: UInt64, hardStop: UInt64) {
        self.countFrom = countFrom
        self.plannedStop = plannedStop
        self.hardStop = hardStop
    }

    /// A window without an end, for runs that stop after a number of
    /// requests instead (loading): everything from `start` counts.
    static func unbounded(start: UInt64) -> MeasuringWindow {
        MeasuringWindow(countFrom: start, plannedStop: .max, hardStop: .max)
    }

    /// Whether another operation may start at `now`, given whether anything
    /// has been counted yet.
    func isOpen(at now: UInt64, counted: Bool) -> Bool {
        now < plannedStop || (!counted && now < hardStop)
    }

    /// The seconds from `countFrom` to `end`.
    func seconds(to end: UInt64) -> Double { Double(end - countFrom) / 1e9 }

    /// What a run whose window ended at `end` says of it: nil when the
    /// planned window held, else how far it was stretched and why.
    func note(endedAt end: UInt64) -> String? {
        guard end > plannedStop else { return nil }
        return String(format: "window extended from %.2f s to %.2f s: nothing finished in the planned window",
                      seconds(to: plannedStop), seconds(to: end))
    }

    /// The error of a run that counted nothing even in its extended window.
    func nothingMeasured(_ what: String) -> BenchFailure {
        BenchFailure(String(format: "%@: nothing that started in the window finished within %.0f s; no figure is written",
                            what, seconds(to: hardStop)))
    }
}

/// A `MeasuringWindow` shared by the connections of one `TrailLoad` run
/// (all on one event loop; the lock keeps it correct anyway). It records
/// when the first latency sample of every request kind arrived, and ends an
/// extended window at the moment the last of them did.
final class SharedWindow: Sendable {
    let window: MeasuringWindow
    private struct State {
        var sampled: [Bool]
        /// Set once every kind has a sample: the end of an extended window.
        var satisfiedAt: UInt64?
    }
    private let state: Mutex<State>

    init(_ window: MeasuringWindow, kinds: Int) {
        self.window = window
        state = Mutex(State(sampled: Array(repeating: false, count: kinds)))
    }

    /// Records that a request of `kind` sent inside the window was answered
    /// at `now`; returns whether every kind now has one.
    func sampled(_ kind: Int, at now: UInt64) -> Bool {
        state.withLock { s in
            if s.satisfiedAt != nil { return true }
            s.sampled[kind] = true
            if s.sampled.allSatisfy({ $0 }) { s.satisfiedAt = now }
            return s.satisfiedAt != nil
        }
    }

    private var satisfiedAt: UInt64? { state.withLock { $0.satisfiedAt } }

    /// Whether a request may be sent at `now` (before the planned stop without taking the lock).
    func isOpen(at now: UInt64) -> Bool {
        now < window.plannedStop || window.isOpen(at: now, counted: satisfiedAt != nil)
    }

    /// Whether an answer arriving at `now` falls inside the window.
    func contains(_ now: UInt64) -> Bool {
        guard now >= window.countFrom else { return false }
        if now <= window.plannedStop { return true }
        guard let end = satisfiedAt else { return now <= window.hardStop }
        return now <= end
    }

    /// Where the window ended, once the run is over.
    var end: UInt64 {
        guard let at = satisfiedAt else { return window.hardStop }
        return max(window.plannedStop, at)
    }

    /// Whether every kind got a latency sample.
    var complete: Bool { satisfiedAt != nil }
}
