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
        guard !ids.isEmpty, contested.mayHave(ns) else { return [] }
        // One direction per branch, each on an index: `a` on the primary key, `b` on contest_by_b.
        let rows = try await self.rows("""
            SELECT n.id, n.state, n.key, o.id, o.state, o.key
            FROM note n JOIN contest c ON c.a = n.seq JOIN note o ON o.seq = c.b
            WHERE n.ns = \(ns) AND n.id = ANY(\(ids.map(\.hex))::text[])
            UNION ALL
            SELECT n.id, n.state, n.key, o.id, o.state, o.key
            FROM note n JOIN contest c ON c.b = n.seq JOIN note o ON o.seq = c.a
            WHERE n.ns = \(ns) AND n.id = ANY(\(ids.map(\.hex))::text[])
            """)
        return try rows.map { row in
            ContestRow(note: NoteID(trustedHex: try row[0].decode(String.self)),
                       noteState: StoredState(rawValue: try row[1].decode(Int64.self)) ?? .live, noteKey: try row[2].decode(Double.self),
                       other: NoteID(trustedHex: try row[3].decode(String.self)),
                       otherState: StoredState(rawValue: try row[4].decode(Int64.self)) ?? .live, otherKey: try row[5].decode(Double.self))
        }
    }

    /// The namespaces that hold contests: one probe of `contest_by_ns` per namespace.
    static let contestedNamespacesSQL = "SELECT name FROM namespace WHERE EXISTS (SELECT 1 FROM contest WHERE contest.ns = namespace.name)"

    func contestedNamespaces() async throws -> Set<String> {
        Set(try await rows(PostgresQuery(unsafeSQL: Self.contestedNamespacesSQL)).map { try $0[0].decode(String.self) })
    }
}

extension PostgresWrites {
    /// `.recordContests`: each pair whose notes are both rows of `ns`, not
    /// yet recorded; returns how many were new. Two daemons recording one
    /// pair at once make one row.
    func recordContests(ns: String, _ pairs: [ContestPair]) throws -> Int {
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
