import NIOCore
import PostgresNIO
import TrailCore
import TrailStore

/// Recall by meaning on PostgreSQL (contract §8): each note's embedding in
/// `note_vector` (migration 2), one row per note, kept while the note is
/// archived or retracted (its seq comes back with it) and read only while the
/// note is live. A note set aside for evaporation (state 3) is a faded live
/// note to readers, so it counts as live here too.
///
/// Stamps come from the sequence `note_vector_stamp`. A sequence hands out
/// numbers in the order they are asked for, not the order their transactions
/// commit: a daemon reading `vectors(after:)` could see stamp 11 before
/// another daemon's 10 commits, and never look back. So a transaction that
/// stores vectors holds the lock `vectorLockSQL` from before it takes its
/// first stamp until it ends: stamps become visible in their order, and a
/// reader that has seen one has seen every stamp before it.
extension PostgresWrites {
    /// The transaction-level advisory lock that orders the writers of stamps
    /// across daemons (named like compaction's, by a hash of a fixed text).
    static let vectorLockSQL = "SELECT pg_advisory_xact_lock(hashtextextended('trail.vectors', 0))"

    /// Stores each vector of `model` for its note (the note's seq is the
    /// handle) under a new stamp, replacing the note's vector of any model;
    /// a handle whose note row is not there is skipped. A handle given twice
    /// keeps its last vector. Returns the vectors stored.
    ///
    /// Stamps follow the order of `vectors`. Inserting a row takes a key-share
    /// lock on its note (the foreign key): a write of that note through
    /// another daemon waits for this transaction, as for any write of it.
    func storeVectors(model: String, _ vectors: [VectorWrite]) throws -> Int {
        // ON CONFLICT DO UPDATE cannot touch one row twice in a statement.
        var last: [Int64: Int] = [:]
        for (i, v) in vectors.enumerated() { last[v.handle] = i }
        let kept = vectors.indices.filter { last[vectors[$0].handle] == $0 }.map { vectors[$0] }
        guard !kept.isEmpty else { return 0 }
        try db.rows(PostgresQuery(unsafeSQL: Self.vectorLockSQL))
        // nextval is taken after the sort (PostgreSQL evaluates volatile
        // outputs above the ORDER BY), so stamps follow the input's order.
        let rows = try db.rows("""
            WITH stored AS (
                INSERT INTO note_vector AS v (note, model, stamp, vector)
                SELECT w.note, \(model), nextval('note_vector_stamp'), w.vector
                FROM unnest(\(kept.map(\.handle))::int8[], \(kept.map { ByteBuffer(bytes: VectorBytes.encode($0.vector)) })::bytea[])
                    WITH ORDINALITY AS w(note, vector, ord)
                WHERE EXISTS (SELECT 1 FROM note n WHERE n.seq = w.note)
                ORDER BY w.ord
                ON CONFLICT (note) DO UPDATE SET model = excluded.model, stamp = excluded.stamp, vector = excluded.vector
                RETURNING 1)
            SELECT count(*) FROM stored
            """)
        return Int(try rows[0][0].decode(Int64.self))
    }
}

extension PostgresReads {
    /// `TrailStore.vectors`: a range read on `note_vector_by_stamp`.
    func vectors(model: String, after stamp: Int64, limit: Int) async throws -> [StoredVector] {
        try await rows("""
            SELECT n.ns, v.note, n.id, v.stamp, v.vector FROM note_vector v JOIN note n ON n.seq = v.note
            WHERE v.model = \(model) AND v.stamp > \(stamp) AND n.state IN (0, 3)
            ORDER BY v.stamp LIMIT \(Int64(limit))
            """).map { row in
            let handle = try row[1].decode(Int64.self)
            return StoredVector(ns: try row[0].decode(String.self), handle: handle, id: NoteID(trustedHex: try row[2].decode(String.self)),
                                stamp: try row[3].decode(Int64.self), vector: Self.vector(try row[4].decode(ByteBuffer.self)) ?? [])
        }
    }

    /// `TrailStore.unembedded`: live notes in seq order, each without a row
    /// of `model` in `note_vector` (an anti-join on its primary key).
    func unembedded(model: String, after handle: Int64, limit: Int) async throws -> [UnembeddedNote] {
        try await rows("""
            SELECT n.ns, n.seq, n.id, n.body FROM note n
            WHERE n.seq > \(handle) AND n.state IN (0, 3)
              AND NOT EXISTS (SELECT 1 FROM note_vector v WHERE v.note = n.seq AND v.model = \(model))
            ORDER BY n.seq LIMIT \(Int64(limit))
            """).map { row in
            UnembeddedNote(ns: try row[0].decode(String.self), handle: try row[1].decode(Int64.self),
                           id: NoteID(trustedHex: try row[2].decode(String.self)), body: String(buffer: try row[3].decode(ByteBuffer.self)))
        }
    }

    /// `TrailStore.meaningRows`: the live notes of `ns` that `keys` name, with
    /// their vectors of `model`, and the clock and settings their weights are
    /// taken with, in one round trip (as `firstPageByWeight`). By handle the
    /// read goes through the primary key, by id through `note_by_id`.
    func meaningRows(ns: String, _ keys: NoteKeys, model: String) async throws -> [MeaningRow] {
        var binds = PostgresBindings()
        binds.append(ns)
        binds.append(model)
        let match: String
        switch keys {
        case let .handles(handles):
            guard !handles.isEmpty else { return [] }
            binds.append(handles)
            match = "n.seq = ANY($3::int8[])"
        case let .ids(ids):
            guard !ids.isEmpty else { return [] }
            binds.append(ids.map(\.hex))
            match = "n.id = ANY($3::text[])"
        }
        let rows = try await self.rows(PostgresQuery(unsafeSQL: """
            WITH s AS (
                SELECT extract(epoch FROM clock_timestamp())::float8 AS now, \(NamespaceSettings.postgresColumns)
                FROM namespace WHERE name = $1)
            SELECT s.*, p.* FROM s LEFT JOIN LATERAL (
                SELECT \(noteColumns), v.vector FROM note n LEFT JOIN note_vector v ON v.note = n.seq AND v.model = $2
                WHERE n.ns = $1 AND \(match) AND n.state IN (0, 3)) p ON true
            """, binds: binds))
        guard let head = rows.first else { return [] }
        let now = try head[0].decode(Double.self)
        let settings = try NamespaceSettings(postgres: head, at: 1)
        let first = 1 + NamespaceSettings.postgresColumnCount  // after the clock and the settings
        let vectorColumn = first + 17   // and noteColumns
        return try rows.compactMap { row in
            guard try row[first].decode(Int64?.self) != nil else { return nil }   // the namespace has none of them
            let note = try NoteRow(postgres: row, at: first)
            let vector = try row[vectorColumn].decode(ByteBuffer?.self).flatMap(Self.vector)
            return MeaningRow(handle: note.seq, note: note.note(ns: settings, at: now), vector: vector)
        }
    }

    /// A stored vector's floats (`VectorBytes`); nil for a length that is
    /// not whole floats (a damaged row: the note is left out of the search,
    /// and the index logs it, as on SQLite).
    static func vector(_ bytes: ByteBuffer) -> [Float]? {
        bytes.withUnsafeReadableBytes(VectorBytes.decode)
    }
}
