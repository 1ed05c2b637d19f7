import Foundation
import NIOCore
import PostgresNIO
import TrailCore
import TrailStore

/// The PostgreSQL engine's own writes: evaporation into archive blocks (zstd
/// frames in `bytea` rows, so every daemon can read and revive them), the
/// trail rank, and restore; storing vectors is in `PostgresVectors`.
extension PostgresWrites {
    /// The engine's writes that `NoteWrites` leaves to it.
    func applyOwn(_ write: WriteRequest) throws -> WriteOutcome {
        switch write {
        case let .markEvaporating(ns, batch): .marked(try markEvaporating(ns: ns, batch: batch))
        case let .evaporate(ns, batch): .evaporated(try evaporate(ns: ns, batch: batch))
        case let .dropDeadTrails(ns): .trailsDropped(try dropDeadTrails(ns: ns))
        case .sweepPacks: .swept(removed: try sweepBlocks())
        case let .setRanks(ns, ranks): .ranked(try setRanks(ns: ns, ranks: ranks))
        case let .recordCompaction(report): try { try recordCompaction(report); return .recorded }()
        // GIN keeps the words of the rows that are there: an archived row's are NULL.
        case .maintainText: .textMaintained(rebuilt: false)
        case .deposit, .reinforce, .link, .retract, .revive, .configure, .rebase, .restore, .merge, .storeVectors, .recordContests:
            throw TrailError.internal("NoteWrites did not apply \(write)")
        }
    }

    // MARK: evaporation

    /// Moves the notes of `batch` that are still faded live (or set-aside)
    /// notes of `ns` (one may have been reinforced since the batch was
    /// planned, through any daemon) into archive blocks, with their trails,
    /// and out of the hot tables. The rows are locked first, so a deposit
    /// through another daemon either comes before (and the note is no longer
    /// faded) or after (and brings it back).
    func evaporate(ns: String, batch: EvaporationBatch) throws -> EvaporationReport {
        guard let settings = try existingNamespace(ns) else { return EvaporationReport(ns: ns) }
        let threshold = settings.decay.thresholdKey(settings.evaporateBelow, at: now)
        let rows = try db.rows("""
            SELECT \(unescaped: noteColumns) FROM note n
            WHERE n.seq = ANY(\(batch.handles)::int8[]) AND n.ns = \(ns) AND n.state IN (0, 3) AND n.key < \(threshold)
            ORDER BY n.seq FOR UPDATE
            """).map { try NoteRow(postgres: $0) }
        return try archive(rows, settings: settings, reportNotes: batch.reportNotes, keepTrails: batch.keepTrails, signalled: true)
    }

    /// Sets aside the notes of `batch` that are still faded live notes of
    /// `ns` (state 3): out of the key index, evaporated by the batches that follow.
    func markEvaporating(ns: String, batch: EvaporationBatch) throws -> Int {
        guard let settings = try existingNamespace(ns) else { return 0 }
        let threshold = settings.decay.thresholdKey(settings.evaporateBelow, at: now)
        let rows = try db.rows("""
            WITH marked AS (
                UPDATE note SET state = 3 WHERE seq = ANY(\(batch.handles)::int8[]) AND ns = \(ns) AND state = 0 AND key < \(threshold)
                RETURNING 1)
            SELECT count(*) FROM marked
            """)
        return Int(try rows[0][0].decode(Int64.self))
    }

    /// Drops, in one pass, the trails of `ns` a bulk evaporation left behind
    /// (those with an archived end: they are in the blocks).
    func dropDeadTrails(ns: String) throws -> Int {
        let flagged = try db.rows("SELECT dead_trails FROM namespace WHERE name = \(ns)")
        guard try flagged.first?[0].decode(Bool.self) == true else { return 0 }
        let rows = try db.rows("""
            WITH dropped AS (
                DELETE FROM edge e WHERE e.ns = \(ns) AND (
                    EXISTS (SELECT 1 FROM note n WHERE n.seq = e.src AND n.state = 2)
                    OR EXISTS (SELECT 1 FROM note n WHERE n.seq = e.dst AND n.state = 2))
                RETURNING 1)
            SELECT count(*) FROM dropped
            """)
        try db.rows("UPDATE namespace SET dead_trails = false WHERE name = \(ns)")
        return Int(try rows[0][0].decode(Int64.self))
    }

    /// Moves `rows` of one namespace into new archive blocks, with their
    /// trails, and out of the hot tables. `signalled`: an evaporation, logged
    /// as `evaporate` (the other daemons' watchers hear of it from that row,
    /// whether or not this one has watchers, `reportNotes`); else logged as
    /// `archive` (an import putting archived notes back), which no watcher hears.
    func archive(_ rows: [NoteRow], settings: NamespaceSettings, reportNotes: Bool, keepTrails: Bool,
                 signalled: Bool = false) throws -> EvaporationReport {
        let ns = settings.name
        let decay = settings.decay
        guard !rows.isEmpty else { return EvaporationReport(ns: ns) }
        let seqs = rows.map(\.seq)
        // The trails of the batch with the ids of their other ends, in two statements.
        var outEnds: [Int64: [ArchivedNote.Trail]] = [:]
        var inEnds: [Int64: [ArchivedNote.Trail]] = [:]
        for row in try db.rows("""
            SELECT e.src, n.id, e.key, true FROM edge e JOIN note n ON n.seq = e.dst WHERE e.src = ANY(\(seqs)::int8[])
            UNION ALL
            SELECT e.dst, n.id, e.key, false FROM edge e JOIN note n ON n.seq = e.src WHERE e.dst = ANY(\(seqs)::int8[])
            """) {
            let trail = ArchivedNote.Trail(id: try row[1].decode(String.self), weight: decay.weight(key: try row[2].decode(Double.self), at: now))
            if try row[3].decode(Bool.self) {
                outEnds[try row[0].decode(Int64.self), default: []].append(trail)
            } else {
                inEnds[try row[0].decode(Int64.self), default: []].append(trail)
            }
        }
        var records: [ArchivedNote] = []
        var notes: [Note] = []
        records.reserveCapacity(rows.count)
        for row in rows {
            records.append(ArchivedNote(
                id: row.id, seq: row.seq, body: row.body, tags: row.tagList, after: row.afterList,
                weight: decay.weight(key: row.key, at: now), archivedAt: now, deposits: row.deposits, agent: row.agent,
                rank: row.rank, createdAt: row.createdAt, updatedAt: row.updatedAt,
                trailsOut: outEnds[row.seq] ?? [], trailsIn: inEnds[row.seq] ?? []))
            if reportNotes {
                var note = row.note(ns: settings, at: now)
                note.state = .archived
                notes.append(note)
            }
        }
        let (frames, firstRecord, raw) = try ArchiveFrames.frames(records)
        var packed = 0
        var blockOf: [Int64] = []
        var blockSeqs: [Int64] = []
        for (b, frame) in frames.enumerated() {
            let count = firstRecord[b + 1] - firstRecord[b]
            let rawBytes = raw[b]
            let inserted = try db.rows("""
                INSERT INTO archive_block (ns, frame, notes, raw_bytes, packed_bytes, created_at)
                VALUES (\(ns), \(ByteBuffer(bytes: frame)), \(Int32(count)), \(Int64(rawBytes)), \(Int64(frame.count)), \(nowMillis))
                RETURNING seq
                """)
            let block = try inserted[0][0].decode(Int64.self)
            blockSeqs.append(block)
            blockOf += Array(repeating: block, count: count)
            packed += frame.count
        }
        // Each row stays where it is, slim: body, tags, words and trails are in
        // its block now; its key stays, so its weight goes on decaying.
        try db.rows("""
            UPDATE note SET state = 2, body = ''::bytea, words = NULL, tags = '', after = '', block = b.block, archived_at = \(now)
            FROM unnest(\(records.map(\.seq))::int8[], \(blockOf)::int8[]) AS b(seq, block)
            WHERE note.seq = b.seq
            """)
        try db.rows("DELETE FROM note_tag WHERE note = ANY(\(seqs)::int8[])")
        if keepTrails {
            // Dead now (every reader skips trails of archived notes), dropped by dropDeadTrails.
            try db.rows("UPDATE namespace SET dead_trails = true WHERE name = \(ns) AND NOT dead_trails")
        } else {
            try db.rows("DELETE FROM edge WHERE src = ANY(\(seqs)::int8[]) OR dst = ANY(\(seqs)::int8[])")
        }
        // One log entry for the batch: each note's own is its row's archived_at.
        try log(ns: ns, op: signalled ? "evaporate" : "archive", note: nil, other: nil, delta: Double(records.count),
                detail: "blocks " + blockSeqs.map(String.init).joined(separator: ","))
        return EvaporationReport(ns: ns, notes: notes, count: records.count, packedBytes: packed, rawBytes: raw.reduce(0, +))
    }

    /// Drops the archive blocks whose every note has come back.
    func sweepBlocks() throws -> Int {
        let rows = try db.rows("""
            WITH gone AS (DELETE FROM archive_block b WHERE b.revived >= b.notes
                AND NOT EXISTS (SELECT 1 FROM note n WHERE n.block = b.seq) RETURNING 1)
            SELECT count(*) FROM gone
            """)
        return Int(try rows[0][0].decode(Int64.self))
    }

    /// Stores the trail rank of the notes named by their seqs.
    func setRanks(ns: String, ranks: [(handle: Int64, rank: Double)]) throws -> Int {
        try db.rows("""
            UPDATE note SET rank = r.rank FROM unnest(\(ranks.map(\.handle))::int8[], \(ranks.map { $0.rank.isFinite ? $0.rank : 0 })::float8[])
                AS r(seq, rank)
            WHERE note.seq = r.seq AND note.ns = \(ns) AND note.state <> 2
            """)
        return ranks.count
    }

    // MARK: restore (what it means is NoteWrites.restore)

    func restoreNote(_ n: Note, key: Double, over existing: NoteRow?, ns: String) throws -> Int64 {
        let state: Int16 = n.state == .retracted ? 1 : 0
        let tags = n.tags.joined(separator: " ")
        let after = n.after.map(\.hex).joined(separator: " ")
        let r = n.retraction
        let seq: Int64
        if let existing {
            seq = existing.seq
            try db.rows("""
                UPDATE note SET tags = \(tags), after = \(after), key = \(key), state = \(state), deposits = \(Int64(n.deposits)),
                    agent = \(n.agent), rank = \(n.rank), created_at = \(n.createdAtMillis), updated_at = \(n.updatedAtMillis),
                    retraction_reason = \(r?.reason), retraction_agent = \(r?.agent), retracted_at = \(r?.atMillis)
                WHERE seq = \(seq)
                """)
            try db.rows("DELETE FROM note_tag WHERE note = \(seq)")
        } else {
            seq = try db.rows("""
                INSERT INTO note (ns, id, body, words, tags, after, key, state, deposits, agent, rank, created_at, updated_at,
                    retraction_reason, retraction_agent, retracted_at)
                VALUES (\(ns), \(n.id.hex), \(ByteBuffer(string: n.body)), to_tsvector('english', \(SearchText.of(n.body))),
                    \(tags), \(after), \(key), \(state), \(Int64(n.deposits)), \(n.agent), \(n.rank), \(n.createdAtMillis),
                    \(n.updatedAtMillis), \(r?.reason), \(r?.agent), \(r?.atMillis))
                RETURNING seq
                """)[0][0].decode(Int64.self)
        }
        if !n.tags.isEmpty { try addTags(n.tags, note: seq, ns: ns) }
        return seq
    }

    func setTrail(from: Int64, to: Int64, ns: String, key: Double) throws {
        try db.rows("""
            INSERT INTO edge (src, dst, ns, key, created_at, updated_at)
            VALUES (\(from), \(to), \(ns), \(key), \(nowMillis), \(nowMillis))
            ON CONFLICT (src, dst) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at
            """)
    }

    func archiveAgain(_ seqs: [Int64], settings: NamespaceSettings) throws {
        let rows = try db.rows("SELECT \(unescaped: noteColumns) FROM note n WHERE n.seq = ANY(\(seqs)::int8[]) ORDER BY n.seq")
            .map { try NoteRow(postgres: $0) }
        _ = try archive(rows, settings: settings, reportNotes: false, keepTrails: false, signalled: false)
    }
}
