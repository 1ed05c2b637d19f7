import GRDB
import TrailCore
import TrailStore

/// The reads of recall by meaning: vectors to load the in-memory index,
/// notes still to embed, and the notes a search by meaning found, with
/// their vectors for the exact re-rank. Each holds its reader's page cache
/// small (`readLight`): they walk pages once, in no order.
extension SQLiteStore {
    public var hasOtherWriters: Bool { false }

    public func vectors(model: String, after stamp: Int64, limit: Int) async throws(TrailError) -> [StoredVector] {
        try await readLight { db in
            var out: [StoredVector] = []
            // States 0 (live) and 3 (faded, set aside for an evaporation not done yet) are live to readers.
            try db.forEachRow(sql: """
                SELECT n.ns, v.note, n.id, v.stamp, v.vector FROM note_vector v JOIN note n ON n.seq = v.note
                WHERE v.stamp > ? AND v.model = ? AND (n.state = 0 OR n.state = 3) ORDER BY v.stamp LIMIT ?
                """, binding: [.int(stamp), .text(model), .int(Int64(limit))]) { s in
                out.append(StoredVector(ns: RawColumn.text(s, 0), handle: RawColumn.int64(s, 1), id: NoteID(trustedHex: RawColumn.text(s, 2)),
                                        stamp: RawColumn.int64(s, 3), vector: RawColumn.floats(s, 4) ?? []))
            }
            return out
        }
    }

    public func unembedded(model: String, after handle: Int64, limit: Int) async throws(TrailError) -> [UnembeddedNote] {
        try await readLight { db in
            var out: [UnembeddedNote] = []
            try db.forEachRow(sql: """
                SELECT n.ns, n.seq, n.id, n.body FROM note n
                WHERE n.seq > ? AND (n.state = 0 OR n.state = 3)
                  AND NOT EXISTS (SELECT 1 FROM note_vector v WHERE v.note = n.seq AND v.model = ?)
                ORDER BY n.seq LIMIT ?
                """, binding: [.int(handle), .text(model), .int(Int64(limit))]) { s in
                out.append(UnembeddedNote(ns: RawColumn.text(s, 0), handle: RawColumn.int64(s, 1),
                                          id: NoteID(trustedHex: RawColumn.text(s, 2)), body: RawColumn.text(s, 3)))
            }
            return out
        }
    }

    public func meaningRows(ns: String, _ keys: NoteKeys, model: String) async throws(TrailError) -> [MeaningRow] {
        let now = clock.now()
        return try await readLight { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, ns) else { return [] }
            // The keys as one JSON array: one cached statement whatever their number. CROSS JOIN
            // makes the keys the outer loop, a lookup each: with `IN (SELECT ...)` SQLite chose to
            // walk the namespace's rows of note_by_id and test each (15 ms at 100k notes).
            let (match, list): (String, String) = switch keys {
            case let .handles(handles): ("n.seq = k.value AND n.ns = ?", "[" + handles.map(String.init).joined(separator: ",") + "]")
            case let .ids(ids): ("n.ns = ? AND n.id = k.value", "[" + ids.map { "\"\($0.hex)\"" }.joined(separator: ",") + "]")
            }
            var out: [MeaningRow] = []
            try db.forEachRow(sql: """
                SELECT \(noteColumns), v.vector FROM json_each(?) k CROSS JOIN note n ON \(match)
                LEFT JOIN note_vector v ON v.note = n.seq AND v.model = ?
                WHERE n.state = 0 OR n.state = 3
                """, binding: [.text(list), .text(ns), .text(model)]) { s in
                let row = NoteRow(columns: s)
                out.append(MeaningRow(handle: row.seq, note: row.note(ns: settings, at: now), vector: RawColumn.floats(s, 15)))
            }
            return out
        }
    }
}
