import TrailCore
import TrailStore

/// What one daemon tells the others about a committed transaction, through
/// `NOTIFY trail_events` (sent in the transaction, so delivered only if it
/// commits): `DAEMON FIRST LAST`, the range of write-log seqs the
/// transaction wrote (other daemons' rows may fall between them). Small on
/// purpose (every listener gets every one): a daemon with watchers reads
/// those write-log rows of `DAEMON` and makes the events from them, exactly
/// as it does when it catches up after its listening connection was down.
struct WriteSignal: Equatable {
    var daemon: String
    var first: Int64
    var last: Int64

    init(daemon: String, first: Int64, last: Int64) {
        self.daemon = daemon
        self.first = first
        self.last = last
    }

    static let channel = "trail_events"
    static let channelLiteral = "'trail_events'"

    /// Reads a payload; nil for one that is not a signal (an older daemon's
    /// `DAEMON EVENT NS ID` included: see docs/decisions.md).
    init?(_ payload: String) {
        let parts = payload.split(separator: " ")
        guard parts.count == 3, let first = Int64(parts[1]), let last = Int64(parts[2]), first <= last else { return nil }
        daemon = String(parts[0])
        self.first = first
        self.last = last
    }

    /// A daemon's name as one word.
    static func token(_ name: String) -> String {
        String(name.map { $0 == " " ? "_" : $0 })
    }
}

/// The write-log operations a watcher hears of, and the event each is.
enum LoggedEvent {
    static let events: [String: String] = [
        "deposit": "deposited", "redeposit": "deposited", "merge": "deposited", "reinforce": "reinforced",
        "link": "linked", "retract": "retracted", "revive": "revived", "evaporate": "evaporated",
    ]
    /// The same, as a PostgreSQL array literal of the operations.
    static let operationsLiteral = "'{" + events.keys.sorted().joined(separator: ",") + "}'"
}
