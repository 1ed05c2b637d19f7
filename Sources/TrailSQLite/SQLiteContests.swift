import GRDB
import TrailCore
import TrailStore

/// Contested notes on SQLite (contract §8): the `contest` table (migration
/// v5), one row per pair, the smaller seq first.
enum SQLiteContests {
    /// Each stored contest of the notes of `ns` that `ids` name, both ways
    /// round, with where each side stands. Two lookups a note: by `a` on
    /// the primary key, by `b` on `contest_by_b`.
    static func rows(_ db: Database, ns: String, ids: [NoteID]) throws -> [ContestRow] {
        guard !ids.isEmpty else { return [] }
        let list = "[" + ids.map { "\"\($0.hex)\"" }.joined(separator: ",") + "]"
        var out: [ContestRow] = []
        for (mine, theirs) in [("a", "b"), ("b", "a")] {
            try db.forEachRow(sql: """
                SELECT n.id, n.state, n.key, o.id, o.state, o.key
                FROM json_each(?) k CROSS JOIN note n ON n.ns = ? AND n.id = k.value
                JOIN contest c ON c.\(mine) = n.seq JOIN note o ON o.seq = c.\(theirs)
                """, binding: [.text(list), .text(ns)]) { s in
                out.append(ContestRow(
                    note: NoteID(trustedHex: RawColumn.text(s, 0)), noteState: StoredState(rawValue: RawColumn.int64(s, 1)) ?? .live,
                    noteKey: RawColumn.double(s, 2),
                    other: NoteID(trustedHex: RawColumn.text(s, 3)), otherState: StoredState(rawValue: RawColumn.int64(s, 4)) ?? .live,
                    otherKey: RawColumn.double(s, 5)))
            }
        }
        return out
    }
}

extension SQLiteWrites {
    /// `.recordContests`: each pair whose notes are both there and not yet
    /// recorded; returns how many were new.
    func recordContests(ns: String, _ pairs: [ContestPair]) throws -> Int {
        var recorded = 0
        for p in pairs where p.a != p.b {
            try db.execute(sql: """
                INSERT INTO contest (a, b, ns, similarity, created_at) SELECT ?, ?, ?, ?, ?
                WHERE EXISTS (SELECT 1 FROM note WHERE seq = ? AND ns = ?) AND EXISTS (SELECT 1 FROM note WHERE seq = ? AND ns = ?)
                ON CONFLICT (a, b) DO NOTHING
                """, binding: [.int(p.a), .int(p.b), .text(ns), .double(p.similarity), .int(nowMillis),
                               .int(p.a), .text(ns), .int(p.b), .text(ns)])
            recorded += db.changesCount
        }
        return recorded
    }
}

extension SQLiteStore {
    public func settings(ns: String) async throws(TrailError) -> NamespaceSettings? {
        try await read { db in try SQLiteWrites.existingNamespace(db, ns) }
    }

    public func contestRows(ns: String, ids: [NoteID]) async throws(TrailError) -> [ContestRow] {
        guard contested.mayHave(ns) else { return [] }
        return try await read { db in try SQLiteContests.rows(db, ns: ns, ids: ids) }
    }
}
