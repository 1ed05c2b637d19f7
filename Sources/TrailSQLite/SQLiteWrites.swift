import Foundation
import GRDB
import TrailCore
import TrailStore

/// The SQLite engine's writes inside the group commit's transaction, at one
/// instant `now` by one `writer`: how this database stores what `NoteWrites`
/// means, and the engine's own writes (restore, compaction).
struct SQLiteWrites: WriteTransaction {
    let db: Database
    let now: Double
    let writer: Writer
    let packs: ArchivePacks
    var fault: CompactionFault? = nil
    /// Where the changes to what a full-text sense ranks by go, for traild's
    /// copy of them (`NoteKeyMirror`); nil outside a group commit.
    var changes: KeyChanges? = nil

    var nowMillis: Int64 { Timestamp.millis(now) }

    /// The contract's writes and restore through `NoteWrites`, which says
    /// what they mean; compaction is this engine's own.
    func apply(_ write: WriteRequest) throws -> WriteOutcome {
        if let outcome = try NoteWrites(self).apply(write) { return outcome }
        return switch write {
        case .deposit, .reinforce, .link, .retract, .revive, .configure, .rebase, .restore, .merge, .storeVectors, .recordContests:
            throw TrailError.internal("NoteWrites did not apply \(write)")
        case let .markEvaporating(ns, batch): .marked(try markEvaporating(ns: ns, batch: batch))
        case let .evaporate(ns, batch): .evaporated(try evaporate(ns: ns, batch: batch, fault: fault))
        case let .dropDeadTrails(ns): .trailsDropped(try dropDeadTrails(ns: ns))
        case .sweepPacks: .swept(removed: try sweepPacks())
        case let .setRanks(ns, ranks): .ranked(try setRanks(ns: ns, ranks: ranks))
        case let .recordCompaction(report): try { try recordCompaction(report); return .recorded }()
        case .maintainText: .textMaintained(rebuilt: try rebuildTextIfStale())
        }
    }

    /// Stores each vector for its note, if the note is still there, under a
    /// new stamp (after every stamp so far).
    func storeVectors(model: String, _ vectors: [VectorWrite]) throws -> Int {
        var stamp = Int64(try db.int(sql: "SELECT coalesce(max(stamp), 0) FROM note_vector") ?? 0)
        var stored = 0
        for v in vectors {
            stamp += 1
            try db.execute(sql: """
                INSERT INTO note_vector (note, model, stamp, vector) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM note WHERE seq = ?)
                ON CONFLICT (note) DO UPDATE SET model = excluded.model, stamp = excluded.stamp, vector = excluded.vector
                """, binding: [.int(v.handle), .text(model), .int(stamp), .blob(VectorBytes.encode(v.vector)), .int(v.handle)])
            stored += db.changesCount
        }
        return stored
    }

    /// Adds `delta` to the trail `from -> to` (creating it), floor 0; returns its new weight.
    func walkTrail(from: Int64, to: Int64, ns: String, decay: ForwardDecay, delta: Double) throws -> Double {
        let old = try db.double(sql: "SELECT key FROM edge WHERE src = ? AND dst = ?", arguments: [from, to])
        let key = old.map { decay.reinforced(key: $0, by: delta, at: now) } ?? decay.key(weight: max(0, delta), at: now)
        try db.run(sql: """
            INSERT INTO edge (src, dst, ns, key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (src, dst) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at
            """, arguments: [from, to, ns, key, nowMillis, nowMillis])
        return decay.weight(key: key, at: now)
    }

    // MARK: restore (what it means is NoteWrites.restore)

    func restoreNote(_ n: Note, key: Double, over existing: NoteRow?, ns: String) throws -> Int64 {
        let state: StoredState = n.state == .retracted ? .retracted : .live
        let tags = n.tags.joined(separator: " ")
        let after = n.after.map(\.hex).joined(separator: " ")
        let r = n.retraction
        let seq: Int64
        if let existing {
            seq = existing.seq
            try db.run(sql: """
                UPDATE note SET tags = ?, after = ?, key = ?, state = ?, deposits = ?, agent = ?, rank = ?,
                    created_at = ?, updated_at = ?, retraction_reason = ?, retraction_agent = ?, retracted_at = ?
                WHERE seq = ?
                """, arguments: [tags, after, key, state.rawValue, n.deposits, n.agent, n.rank, n.createdAtMillis,
                                 n.updatedAtMillis, r?.reason, r?.agent, r?.atMillis, seq])
            try db.run(sql: "DELETE FROM note_tag WHERE note = ?", arguments: [seq])
        } else {
            try db.run(sql: """
                INSERT INTO note (ns, id, body, tags, after, key, state, deposits, agent, rank, created_at, updated_at,
                    retraction_reason, retraction_agent, retracted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [ns, n.id.hex, Data(n.body.utf8), tags, after, key, state.rawValue, n.deposits, n.agent,
                                 n.rank, n.createdAtMillis, n.updatedAtMillis, r?.reason, r?.agent, r?.atMillis])
            seq = db.lastInsertedRowID
            try db.run(sql: "INSERT INTO note_text(rowid, ns, body) VALUES (?, ?, ?)", arguments: [seq, ns, n.body])
        }
        changes?.row(seq: seq, ns: ns, state: state, key: key, rank: n.rank ?? 0)
        try addTags(n.tags, note: seq, ns: ns)
        return seq
    }

    func setTrail(from: Int64, to: Int64, ns: String, key: Double) throws {
        try db.run(sql: """
            INSERT INTO edge (src, dst, ns, key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (src, dst) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at
            """, arguments: [from, to, ns, key, nowMillis, nowMillis])
    }

    func archiveAgain(_ seqs: [Int64], settings: NamespaceSettings) throws {
        var rows: [NoteRow] = []
        try db.forEachRow(sql: "SELECT \(noteColumns) FROM note n WHERE n.seq IN (SELECT value FROM json_each(?)) ORDER BY n.seq",
                          binding: [.text(jsonArray(seqs))]) { rows.append(NoteRow(columns: $0)) }
        _ = try archive(rows, settings: settings)
    }

    /// Rewrites every key of a namespace against the landmark `now`; weights
    /// are unchanged. This is `ForwardDecay.rebased(key:to:)` run in SQL, so
    /// that one statement moves every row (zero-weight keys stay as they are).
    static func rebase(_ db: Database, _ settings: NamespaceSettings, to now: Double) throws {
        let shift = settings.decay.offset(at: now)
        try db.run(sql: "UPDATE note SET key = key - ? WHERE ns = ? AND key > -1e300", arguments: [shift, settings.name])
        try db.run(sql: "UPDATE edge SET key = key - ? WHERE ns = ? AND key > -1e300", arguments: [shift, settings.name])
        try db.run(sql: "UPDATE namespace SET landmark = ? WHERE name = ?", arguments: [now, settings.name])
    }

    func log(ns: String, op: String, note: Int64? = nil, other: Int64? = nil, delta: Double? = nil,
                     detail: String? = nil) throws {
        try db.execute(sql: """
            INSERT INTO write_log (at, ns, op, note, other, delta, detail, agent, uid, pid)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, binding: [.int(nowMillis), .text(ns), .text(op), .int(note), .int(other), .double(delta), .text(detail),
                           .text(writer.agent), .int(writer.uid.map { Int64($0) }), .int(writer.pid.map { Int64($0) })])
    }

    // MARK: lookups shared with the readers

    static func existingNamespace(_ db: Database, _ name: String) throws -> NamespaceSettings? {
        var settings: NamespaceSettings?
        try db.forEachRow(sql: "SELECT \(NamespaceSettings.sqliteColumns) FROM namespace WHERE name = ?",
                          binding: [.text(name)]) { s in
            settings = NamespaceSettings(name: RawColumn.text(s, 0), halfLife: RawColumn.double(s, 1), evaporateBelow: RawColumn.double(s, 2),
                                         maxNoteBytes: Int(RawColumn.int64(s, 3)), landmark: RawColumn.double(s, 4),
                                         contestSimilarity: RawColumn.double(s, 5))
        }
        return settings
    }

    func existingNamespace(_ name: String) throws -> NamespaceSettings? {
        try Self.existingNamespace(db, name)
    }

    func createNamespace(_ settings: NamespaceSettings) throws -> NamespaceSettings {
        try Self.createNamespace(db, settings, at: now)
    }

    func saveNamespace(_ settings: NamespaceSettings) throws {
        try db.run(sql: """
            UPDATE namespace SET half_life_s = ?, evaporate_below = ?, max_note_bytes = ?, landmark = ?, contest_similarity = ?
            WHERE name = ?
            """, arguments: [settings.halfLife, settings.evaporateBelow, settings.maxNoteBytes, settings.landmark,
                             settings.contestSimilarity, settings.name])
    }

    func rebase(_ settings: NamespaceSettings, to now: Double) throws {
        try Self.rebase(db, settings, to: now)
        changes?.rebase(ns: settings.name, shift: settings.decay.offset(at: now))
    }

    func insert(_ row: NoteRow, ns: String) throws -> Int64? {
        try db.execute(sql: """
            INSERT INTO note (ns, id, body, tags, after, key, state, deposits, agent, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?, ?) ON CONFLICT (ns, id) DO NOTHING
            """, binding: [.text(ns), .text(row.id), .utf8Blob(row.body), .text(row.tags), .text(row.after), .double(row.key),
                           .text(row.agent), .int(row.createdAt), .int(row.updatedAt)])
        guard db.changesCount > 0 else { return nil }
        let seq = db.lastInsertedRowID
        changes?.row(seq: seq, ns: ns, state: .live, key: row.key, rank: 0)
        try db.execute(sql: "INSERT INTO note_text(rowid, ns, body) VALUES (?, ?, ?)", binding: [.int(seq), .text(ns), .text(row.body)])
        return seq
    }

    func update(_ row: NoteRow, ns: String, changed: NoteChanges) throws {
        changes?.row(seq: row.seq, ns: ns, state: row.state, key: row.key)
        if changed == .weight {
            // A reinforcement, the hot path of W2: three columns.
            try db.execute(sql: "UPDATE note SET key = ?, state = ?, updated_at = ? WHERE seq = ?",
                           binding: [.double(row.key), .int(row.state.rawValue), .int(row.updatedAt), .int(row.seq)])
            return
        }
        try db.execute(sql: """
            UPDATE note SET key = ?, state = ?, deposits = ?, tags = ?, after = ?, updated_at = ?,
                retraction_reason = ?, retraction_agent = ?, retracted_at = ?
            WHERE seq = ?
            """, binding: [.double(row.key), .int(row.state.rawValue), .int(row.deposits), .text(row.tags), .text(row.after),
                           .int(row.updatedAt), .text(row.retractionReason), .text(row.retractionAgent), .int(row.retractedAt),
                           .int(row.seq)])
    }

    func addTags(_ tags: [String], note: Int64, ns: String) throws {
        for tag in tags {
            try db.execute(sql: "INSERT OR IGNORE INTO note_tag (ns, tag, note) VALUES (?, ?, ?)", binding: [.text(ns), .text(tag), .int(note)])
        }
    }

    func locate(_ prefix: IDPrefix, ns: String) throws -> LocatedNote {
        try Self.locate(db, prefix, ns: ns)
    }

    func byID(_ id: String, ns: String) throws -> LocatedNote? {
        try Self.byID(db, id: id, ns: ns)
    }

    /// Creates a namespace with `settings` (it does not exist: one writer).
    static func createNamespace(_ db: Database, _ settings: NamespaceSettings, at now: Double) throws -> NamespaceSettings {
        try db.run(sql: """
            INSERT INTO namespace (name, half_life_s, evaporate_below, max_note_bytes, landmark, created_at, contest_similarity)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [settings.name, settings.halfLife, settings.evaporateBelow, settings.maxNoteBytes,
                             settings.landmark, Timestamp.millis(now), settings.contestSimilarity])
        return settings
    }
}
