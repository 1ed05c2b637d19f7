import GRDB
import GRDBSQLite
import TrailCore
import TrailStore

/// The columns every note read selects, in the order `NoteRow(columns:)` reads them.
let noteColumns = "n.seq, n.id, n.body, n.tags, n.after, n.key, n.state, n.deposits, n.agent, n.rank, n.created_at, n.updated_at, n.retraction_reason, n.retraction_agent, n.retracted_at"

extension NoteRow {
    /// Reads the columns of `noteColumns` from a statement positioned on a
    /// row (`Database.forEachRow`).
    init(columns s: SQLiteStatement) {
        self.init(seq: RawColumn.int64(s, 0), id: RawColumn.text(s, 1), body: RawColumn.text(s, 2), tags: RawColumn.text(s, 3),
                  after: RawColumn.text(s, 4), key: RawColumn.double(s, 5),
                  state: StoredState(rawValue: RawColumn.int64(s, 6)) ?? .live, deposits: RawColumn.int64(s, 7),
                  agent: RawColumn.optionalText(s, 8), rank: RawColumn.optionalDouble(s, 9), createdAt: RawColumn.int64(s, 10),
                  updatedAt: RawColumn.int64(s, 11), retractionReason: RawColumn.optionalText(s, 12),
                  retractionAgent: RawColumn.optionalText(s, 13), retractedAt: RawColumn.optionalInt64(s, 14))
    }

}

extension NamespaceSettings {
    /// The columns of a `namespace` row that `init(row:)` reads, in its order.
    static let sqliteColumns = "name, half_life_s, evaporate_below, max_note_bytes, landmark, contest_similarity"

    /// Reads a `namespace` row of `sqliteColumns`.
    init(row: Row) {
        self.init(name: row[0], halfLife: row[1], evaporateBelow: row[2], maxNoteBytes: row[3], landmark: row[4],
                  contestSimilarity: row[5])
    }
}
