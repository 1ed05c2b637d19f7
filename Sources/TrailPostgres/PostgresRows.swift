import Foundation
import NIOCore
import PostgresNIO
import TrailCore
import TrailStore

/// The columns every note read selects, in the order `NoteRow(postgres:)`
/// reads them, then an archived note's block and time.
let noteColumns = """
    n.seq, n.id, n.body, n.tags, n.after, n.key, n.state, n.deposits, n.agent, n.rank, n.created_at, n.updated_at, \
    n.retraction_reason, n.retraction_agent, n.retracted_at, n.block, n.archived_at
    """

/// An archived note's slim row: the block that holds its record, and its
/// key, which goes on decaying like a live note's.
struct ArchivedRow: ArchivedEntry {
    var id: String
    var seq: Int64
    var key: Double
    var block: Int64
    var archivedAt: Double
}

/// A note found by id or prefix on this engine.
typealias LocatedRow = Located<ArchivedRow>

extension NoteRow {
    /// Reads `noteColumns` from a row, starting at column `o`.
    init(postgres row: PostgresRandomAccessRow, at o: Int = 0) throws {
        self.init(seq: try row[o].decode(Int64.self), id: try row[o + 1].decode(String.self),
                  body: String(buffer: try row[o + 2].decode(ByteBuffer.self)),
                  tags: try row[o + 3].decode(String.self), after: try row[o + 4].decode(String.self),
                  key: try row[o + 5].decode(Double.self),
                  state: StoredState(rawValue: try row[o + 6].decode(Int64.self)) ?? .live,
                  deposits: try row[o + 7].decode(Int64.self), agent: try row[o + 8].decode(String?.self),
                  rank: try row[o + 9].decode(Double?.self), createdAt: try row[o + 10].decode(Int64.self),
                  updatedAt: try row[o + 11].decode(Int64.self), retractionReason: try row[o + 12].decode(String?.self),
                  retractionAgent: try row[o + 13].decode(String?.self), retractedAt: try row[o + 14].decode(Int64?.self))
    }
}

extension LocatedRow {
    /// Reads `noteColumns` as a hot note or an archived one.
    init(postgres row: PostgresRandomAccessRow) throws {
        if try row[6].decode(Int64.self) == StoredState.archived.rawValue {
            self = .archived(ArchivedRow(id: try row[1].decode(String.self), seq: try row[0].decode(Int64.self),
                                         key: try row[5].decode(Double.self), block: try row[15].decode(Int64.self),
                                         archivedAt: try row[16].decode(Double.self)))
        } else {
            self = .hot(try NoteRow(postgres: row))
        }
    }
}

extension NamespaceSettings {
    /// The columns `NamespaceSettings(postgres:at:)` reads, from `offset` on.
    static let postgresColumns = "name, half_life_s, evaporate_below, max_note_bytes, landmark, contest_similarity"
    /// How many they are: what a query reading columns after them skips.
    static let postgresColumnCount = 6

    init(postgres row: PostgresRandomAccessRow, at offset: Int = 0) throws {
        self.init(name: try row[offset].decode(String.self), halfLife: try row[offset + 1].decode(Double.self),
                  evaporateBelow: try row[offset + 2].decode(Double.self),
                  maxNoteBytes: Int(try row[offset + 3].decode(Int64.self)), landmark: try row[offset + 4].decode(Double.self),
                  contestSimilarity: try row[offset + 5].decode(Double.self))
    }
}

/// The text PostgreSQL indexes and searches: the body with its diacritics
/// folded away (so `cafe` finds `café`, as SQLite's `remove_diacritics`
/// does) and without U+0000, which `text` cannot hold.
enum SearchText {
    static func of(_ body: String) -> String {
        // Most bodies are ASCII with nothing to fold; Foundation's folding
        // was a sixth of the commit thread's time in a burst of deposits.
        if body.utf8.allSatisfy({ $0 != 0 && $0 < 0x80 }) { return body }
        return body.folding(options: .diacriticInsensitive, locale: nil).replacingOccurrences(of: "\u{0}", with: " ")
    }

    /// A `tsquery` that matches any of `words` (runs of letters and digits:
    /// nothing in them needs quoting), each stemmed by the `english` configuration.
    static func query(_ words: [String]) -> String {
        words.map { "'" + of($0).lowercased().filter { $0 != "'" && $0 != "\\" } + "'" }.joined(separator: " | ")
    }
}
