import Synchronization

/// The bound on what one connection's watch events may hold in memory
/// before they reach its socket: bytes of events handed to the connection
/// and not yet written. A watcher that stops reading fills its socket, then
/// this; past it the hub drops its events and counts them, and the next
/// event it does get says how many it missed (`dropped`). Memory stays flat
/// whatever the watcher does.
final class EventBacklog: Sendable {
    /// Bytes of events in flight at most.
    let limit: Int
    private let pending = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Takes room for an event of `bytes`; false when it does not fit.
    func reserve(_ bytes: Int) -> Bool {
        let now = pending.add(bytes, ordering: .relaxed).newValue
        guard now <= limit else {
            pending.subtract(bytes, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Gives back the room of an event that was written (or failed).
    func release(_ bytes: Int) { pending.subtract(bytes, ordering: .relaxed) }

    /// Bytes in flight now.
    var inFlight: Int { pending.load(ordering: .relaxed) }
}
