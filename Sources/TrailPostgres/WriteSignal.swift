import TrailCore
import TrailStore

/// What one daemon tells the others about a committed write, through
/// `NOTIFY trail_events` (sent in the write's transaction, so delivered
/// only if it commits): a line `DAEMON EVENT NS ID [FROM]`, or
/// `DAEMON evaporated NS block SEQ` for a block of evaporated notes. Small
/// on purpose (PostgreSQL caps a payload at 8000 bytes, and every listener
/// gets every one): a daemon with watchers of `NS` reads the note itself.
struct WriteSignal: Equatable {
    var daemon: String
    var event: String
    var ns: String
    /// The note's id, or for `evaporated` the archive block's seq.
    var subject: String
    /// For `linked`: the id of the note the trail comes from.
    var from: String?

    static let channel = "trail_events"
    static let channelLiteral = "'trail_events'"

    /// The signals of a committed write.
    static func payloads(of outcome: WriteOutcome, daemon: String) -> [String] {
        let daemon = Self.token(daemon)
        switch outcome {
        case let .deposited(note, _): return ["\(daemon) deposited \(note.ns) \(note.id.hex)"]
        case let .reinforced(note): return ["\(daemon) reinforced \(note.ns) \(note.id.hex)"]
        case let .linked(from, to, _): return ["\(daemon) linked \(to.ns) \(to.id.hex) \(from.hex)"]
        case let .retracted(note): return ["\(daemon) retracted \(note.ns) \(note.id.hex)"]
        case let .revived(note): return ["\(daemon) revived \(note.ns) \(note.id.hex)"]
        // Watchers see a merge as the deposit it is (contract §8).
        case let .merged(note, _): return ["\(daemon) deposited \(note.ns) \(note.id.hex)"]
        // Other daemons' indexes read new vectors by stamp (`TrailStore.vectors`).
        // Contests are read where they are stored, with the notes that show them.
        case .configured, .restored, .evaporated, .marked, .trailsDropped, .swept, .ranked, .rebased, .recorded, .textMaintained,
             .vectorsStored, .contestsRecorded:
            return []
        }
    }

    static func evaporated(ns: String, block: Int64, daemon: String) -> String {
        "\(token(daemon)) evaporated \(ns) \(block)"
    }

    /// Reads a payload; nil for one that is not a signal.
    init?(_ payload: String) {
        let parts = payload.split(separator: " ").map(String.init)
        guard parts.count == 4 || parts.count == 5 else { return nil }
        daemon = parts[0]
        event = parts[1]
        ns = parts[2]
        subject = parts[3]
        from = parts.count == 5 ? parts[4] : nil
    }

    /// A daemon's name as one word.
    static func token(_ name: String) -> String {
        String(name.map { $0 == " " ? "_" : $0 })
    }
}
