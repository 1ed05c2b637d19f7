import Foundation
import GRDB
import GRDBSQLite
import TrailCore

/// The columns every note read selects, in the order `NoteRow(columns:)` reads them.
let noteColumns = "n.seq, n.id, n.body, n.tags, n.after, n.key, n.state, n.deposits, n.agent, n.rank, n.created_at, n.updated_at, n.retraction_reason, n.retraction_agent, n.retracted_at"

/// Stored states of a note row. Faded is derived from the key, never
/// stored. An archived row is a slim placeholder: its body, tags and trails
/// are in an archive pack, and it is in none of the hot indexes but the id's.
enum StoredState: Int64 {
    case live = 0
    case retracted = 1
    case archived = 2
    /// Faded and chosen for a bulk evaporation not yet done; otherwise a live note.
    case evaporating = 3
}

/// A note row as stored, before its weight is taken at an instant.
struct NoteRow {
    var seq: Int64
    var id: String
    var body: String
    var tags: String
    var after: String
    var key: Double
    var state: StoredState
    var deposits: Int64
    var agent: String?
    var rank: Double?
    var createdAt: Int64
    var updatedAt: Int64
    var retractionReason: String?
    var retractionAgent: String?
    var retractedAt: Int64?

    /// A live note just inserted as `seq`, without reading it back.
    init(inserted seq: Int64, id: String, body: String, tags: String, after: String, key: Double, agent: String?, at millis: Int64) {
        self.seq = seq
        self.id = id
        self.body = body
        self.tags = tags
        self.after = after
        self.key = key
        state = .live
        deposits = 1
        self.agent = agent
        rank = nil
        createdAt = millis
        updatedAt = millis
    }

    /// Reads the columns of `noteColumns` from a statement positioned on a
    /// row (`Database.forEachRow`).
    init(columns s: SQLiteStatement) {
        seq = RawColumn.int64(s, 0)
        id = RawColumn.text(s, 1)
        body = RawColumn.text(s, 2)
        tags = RawColumn.text(s, 3)
        after = RawColumn.text(s, 4)
        key = RawColumn.double(s, 5)
        state = StoredState(rawValue: RawColumn.int64(s, 6)) ?? .live
        deposits = RawColumn.int64(s, 7)
        agent = RawColumn.optionalText(s, 8)
        rank = RawColumn.optionalDouble(s, 9)
        createdAt = RawColumn.int64(s, 10)
        updatedAt = RawColumn.int64(s, 11)
        retractionReason = RawColumn.optionalText(s, 12)
        retractionAgent = RawColumn.optionalText(s, 13)
        retractedAt = RawColumn.optionalInt64(s, 14)
    }

    var tagList: [String] { tags.isEmpty ? [] : tags.split(separator: " ").map(String.init) }
    var afterList: [String] { after.isEmpty ? [] : after.split(separator: " ").map(String.init) }

    var retraction: Retraction? {
        guard state == .retracted, let reason = retractionReason else { return nil }
        return Retraction(reason: reason, agent: retractionAgent, atMillis: retractedAt ?? updatedAt)
    }

    /// The note as the protocol shows it at `now`.
    func note(ns: NamespaceSettings, at now: Double) -> Note {
        let decay = ns.decay
        let weight = decay.weight(key: key, at: now)
        let shown: NoteState
        switch state {
        case .retracted: shown = .retracted
        case .archived: shown = .archived
        case .live, .evaporating: shown = key < decay.thresholdKey(ns.evaporateBelow, at: now) ? .faded : .live
        }
        return Note(
            id: NoteID(trustedHex: id), ns: ns.name, body: body, tags: tagList,
            after: afterList.map(NoteID.init(trustedHex:)), weight: weight, rank: rank,
            deposits: Int(deposits), agent: agent, state: shown,
            createdAtMillis: createdAt, updatedAtMillis: updatedAt, retraction: retraction)
    }
}

extension NamespaceSettings {
    /// Reads a `namespace` row: name, half_life_s, evaporate_below, max_note_bytes, landmark.
    init(row: Row) {
        self.init(name: row[0], halfLife: row[1], evaporateBelow: row[2], maxNoteBytes: row[3], landmark: row[4])
    }
}
