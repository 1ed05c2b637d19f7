import Foundation
import PostgresNIO
import TrailCore
import TrailStore

/// Contested notes on PostgreSQL (contract §8): the `contest` table
/// (migration 3), one row per pair, the smaller seq first; a row goes with
/// either note's row.
extension PostgresReads {
    /// Each stored contest of the notes of `ns` that `ids` name, both ways
    /// round, with where each side stands: one round trip.
    func contestRows(ns: String, ids: [NoteID]) async throws -> [ContestRow] {
        guard !ids.isEmpty, try await mayHaveContests(ns) else { return [] }
        let rows = try await self.rows("""
            SELECT n.id, n.state, n.key, o.id, o.state, o.key
            FROM note n JOIN contest c ON c.a = n.seq OR c.b = n.seq
            JOIN note o ON o.seq = (CASE WHEN c.a = n.seq THEN c.b ELSE c.a END)
            WHERE n.ns = \(ns) AND n.id = ANY(\(ids.map(\.hex))::text[])
            """)
        return try rows.map { row in
            ContestRow(note: NoteID(trustedHex: try row[0].decode(String.self)),
                       noteState: StoredState(rawValue: try row[1].decode(Int64.self)) ?? .live, noteKey: try row[2].decode(Double.self),
                       other: NoteID(trustedHex: try row[3].decode(String.self)),
                       otherState: StoredState(rawValue: try row[4].decode(Int64.self)) ?? .live, otherKey: try row[5].decode(Double.self))
        }
    }
}

extension PostgresReads {
    /// Whether `ns` may hold contests: the set of such namespaces, read
    /// from the database when it is more than a second old. A namespace
    /// without contests costs no lookup; one whose first contest another
    /// daemon recorded shows it within a second.
    func mayHaveContests(_ ns: String) async throws -> Bool {
        let now = Date().timeIntervalSince1970
        if contested.isOlder(than: 1, at: now) {
            let names = try await rows("SELECT DISTINCT ns FROM contest").map { try $0[0].decode(String.self) }
            contested.replace(with: Set(names), at: now)
        }
        return contested.mayHave(ns)
    }
}

extension PostgresWrites {
    /// `.recordContests`: each pair whose notes are both rows of `ns`, not
    /// yet recorded; returns how many were new. Two daemons recording one
    /// pair at once make one row.
    func recordContests(ns: String, pairs: [ContestPair]) throws -> Int {
        let kept = pairs.filter { $0.a != $0.b }
        guard !kept.isEmpty else { return 0 }
        let rows = try db.rows("""
            WITH recorded AS (
                INSERT INTO contest (a, b, ns, similarity, created_at)
                SELECT p.a, p.b, \(ns), p.similarity, \(nowMillis)
                FROM unnest(\(kept.map(\.a))::int8[], \(kept.map(\.b))::int8[], \(kept.map(\.similarity))::float8[]) AS p(a, b, similarity)
                WHERE EXISTS (SELECT 1 FROM note WHERE seq = p.a AND ns = \(ns)) AND EXISTS (SELECT 1 FROM note WHERE seq = p.b AND ns = \(ns))
                ON CONFLICT (a, b) DO NOTHING
                RETURNING 1)
            SELECT count(*) FROM recorded
            """)
        return Int(try rows[0][0].decode(Int64.self))
    }
}
