import Synchronization
import TrailStore

/// The `ListenerLedger` of a daemon's listener, shared by its listening
/// connections one after the other (turns), each of which may outlive its
/// turn (`EventListener.session`): what a turn hands on after it ended is
/// refused, so an abandoned connection's task can deliver nothing twice.
final class ListenerBook: Sendable {
    /// What a turn hands on after it ended.
    struct TurnOver: Error {}

    private struct State {
        var ledger: ListenerLedger?
        /// The latest turn, and the latest that ended.
        var turn = 0
        var ended = 0
        /// The turn that got to listen (LISTEN answered, the log's end read).
        var listening = 0

        /// Whether `turn` is the latest and has not ended.
        func isOpen(_ turn: Int) -> Bool {
            self.turn == turn && ended != turn
        }
    }

    private let settle: Double
    private let state = Mutex(State())

    init(settle: Double) {
        self.settle = settle
    }

    /// A new listening connection's turn; ends the one before if it had not ended.
    func begin() -> Int {
        state.withLock { s in
            s.turn += 1
            return s.turn
        }
    }

    /// Whether `open` was called.
    var isOpened: Bool {
        state.withLock { $0.ledger != nil }
    }

    /// Starts the ledger at the log's end `top`, read before the first
    /// listening connection: what committed before is not the watchers'
    /// business, what commits after is theirs.
    func open(top: Int64) {
        state.withLock { s in
            if s.ledger == nil { s.ledger = ListenerLedger(settle: settle, top: top) }
        }
    }

    /// The turn is listening and the log's end was `top` then. Returns the
    /// floor to catch up from (nil after the turn ended, or before `open`).
    func start(_ turn: Int, top: Int64, at time: Double) -> Int64? {
        state.withLock { s in
            guard s.isOpen(turn), let ledger = s.ledger else { return nil }
            s.listening = turn
            s.ledger?.mark(top, at: time)
            return ledger.floor
        }
    }

    /// Whether `turn` got to listen.
    func isListening(_ turn: Int) -> Bool {
        state.withLock { $0.listening == turn }
    }

    /// The log had reached `seq` at `time` (a signal's last seq, or the
    /// log's end read by the heartbeat); taken only once the turn listens.
    func mark(_ turn: Int, _ seq: Int64, at time: Double) {
        state.withLock { s in
            guard s.isOpen(turn), s.listening == turn else { return }
            s.ledger?.mark(seq, at: time)
            s.ledger?.settle(at: time)
        }
    }

    /// Delivers those of `events` not delivered yet (a catch-up's: above the
    /// floor; a signal's: any not sent), in order; the notes of one
    /// evaporation share their row's seq. Throws `TurnOver` after the turn ended.
    func hand(_ events: [StoreEvent], live: Bool, turn: Int, deliver: (StoreEvent) -> Void) throws {
        try state.withLock { s in
            guard s.isOpen(turn), var ledger = s.ledger else { throw TurnOver() }
            defer { s.ledger = ledger }
            var previous: Int64?
            for event in events {
                guard let seq = event.seq else { continue }
                guard seq == previous || (live ? ledger.isUnsent(seq) : ledger.isNew(seq)) else { continue }
                ledger.deliver(seq)
                previous = seq
                deliver(event)
            }
        }
    }

    /// Skips everything up to `seq` (reported as a gap, or nobody watched).
    func skip(through seq: Int64, turn: Int) throws {
        try state.withLock { s in
            guard s.isOpen(turn) else { throw TurnOver() }
            s.ledger?.skip(through: seq)
        }
    }

    /// The turn's connection is lost at `time`: what settled while it was up
    /// was delivered; nothing the turn hands on from now is taken.
    func end(_ turn: Int, at time: Double) {
        state.withLock { s in
            guard s.isOpen(turn) else { return }
            s.ended = turn
            s.ledger?.settle(at: time)
        }
    }
}

/// Waits for the first of several things that end a piece of work, each
/// reporting with `end(_:)`; the waiter gets the first one's error. Unlike a
/// task group, it does not wait for the others (one may never end).
final class FirstEnd: Sendable {
    private struct State {
        var error: (any Error)?
        var waiter: CheckedContinuation<Void, any Error>?
    }

    private let state = Mutex(State())

    /// Reports an end; only the first counts.
    func end(_ error: any Error) {
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { s in
            guard s.error == nil else { return nil }
            s.error = error
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(throwing: error)
    }

    /// Returns (throwing) the first end's error; cancelling the waiting task
    /// counts as an end.
    func wait() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ended: (any Error)? = state.withLock { s in
                    if s.error == nil { s.waiter = continuation }
                    return s.error
                }
                if let ended { continuation.resume(throwing: ended) }
            }
        } onCancel: {
            end(CancellationError())
        }
    }
}

/// Why a listening connection's session ended other than by an error of its own.
struct ListeningEnded: Error, CustomStringConvertible {
    enum Why {
        /// The notifications ended without an error.
        case notificationsEnded
        /// The connection closed and the listening did not end (postgres-nio
        /// can leave a LISTEN in flight waiting for ever).
        case closed
        /// The connection answered, but LISTEN and the read of the log's end
        /// did not complete within a statement timeout.
        case neverListened
    }

    let why: Why

    var description: String {
        switch why {
        case .notificationsEnded: "the listening connection's notifications ended"
        case .closed: "the listening connection closed while LISTEN was unanswered"
        case .neverListened: "the listening connection answered but did not get to listen within a statement timeout"
        }
    }
}
