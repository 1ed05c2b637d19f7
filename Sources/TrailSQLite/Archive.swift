import Foundation
import GRDB
import GRDBSQLite
import TrailCore
import TrailStore

/// An archived note's slim row: which pack frame holds its record, and its
/// key, which goes on decaying like a live note's.
struct ArchiveRow: ArchivedEntry {
    var ns: String
    var id: String
    var seq: Int64
    /// The pack's file name and row id.
    var pack: String
    var packRow: Int64
    var offset: Int64
    var length: Int64
    var key: Double
    var archivedAt: Double

    /// Columns of an archived row joined with its pack (`note n LEFT JOIN pack p ON p.rowid = n.pack`).
    static let columns = "p.name, n.pack, n.pack_offset, n.pack_length, n.archived_at"

    /// Reads `noteColumns`, then `columns` right after them, from a statement
    /// positioned on a row (`Database.forEachRow`); `ns` is the caller's.
    init(ns: String, columns s: SQLiteStatement) {
        self.ns = ns
        seq = RawColumn.int64(s, 0)
        id = RawColumn.text(s, 1)
        key = RawColumn.double(s, 5)
        pack = RawColumn.text(s, 15)
        packRow = RawColumn.int64(s, 16)
        offset = RawColumn.int64(s, 17)
        length = RawColumn.int64(s, 18)
        archivedAt = RawColumn.double(s, 19)
    }

    /// Its weight at `now`.
    func weight(at now: Double, decay: ForwardDecay) -> Double {
        decay.weight(key: key, at: now)
    }
}

/// A note found by id or prefix: in the hot tables, or in an archive pack.
typealias LocatedNote = Located<ArchiveRow>

extension SQLiteWrites {
    /// A note row with its pack location, when archived.
    static let locatedColumns = "\(noteColumns), \(ArchiveRow.columns) FROM note n LEFT JOIN pack p ON p.rowid = n.pack"

    static func located(_ s: SQLiteStatement, ns: String) -> LocatedNote {
        RawColumn.int64(s, 6) == StoredState.archived.rawValue ? .archived(ArchiveRow(ns: ns, columns: s)) : .hot(NoteRow(columns: s))
    }

    /// Finds the one note an id or prefix names, live or archived.
    static func locate(_ db: Database, _ prefix: IDPrefix, ns: String) throws -> LocatedNote {
        var all: [LocatedNote] = []
        try db.forEachRow(sql: "SELECT \(locatedColumns) WHERE n.ns = ? AND n.id >= ? AND n.id < ? LIMIT 5",
                          binding: [.text(ns), .text(prefix.hex), .text(prefix.upperBound)]) { all.append(located($0, ns: ns)) }
        switch all.count {
        case 0: throw TrailError.unknownNote(id: prefix.hex, ns: ns)
        case 1: return all[0]
        default: throw TrailError.ambiguousID(prefix: prefix.hex, matches: Array(all.map(\.id).sorted().prefix(5)))
        }
    }

    /// The note with this full id, hot or archived, if there is one: one
    /// probe of the id index where a deposit used to make two.
    static func byID(_ db: Database, id: String, ns: String) throws -> LocatedNote? {
        var found: LocatedNote?
        try db.forEachRow(sql: "SELECT \(locatedColumns) WHERE n.ns = ? AND n.id = ?", binding: [.text(ns), .text(id)]) {
            found = located($0, ns: ns)
        }
        return found
    }

    /// The note as `get` shows an archived one: state `archived`, its
    /// weight decayed since; `record` is its record from the pack.
    static func archivedNote(_ entry: ArchiveRow, record: ArchivedNote, settings: NamespaceSettings, at now: Double) -> Note {
        record.note(settings: settings, weight: entry.weight(at: now, decay: settings.decay))
    }

    /// Brings an archived note back into the hot tables with `weight`: its
    /// row (same seq) gets its body back from the pack, with its tags, text
    /// and the trails whose other end is hot. The pack is not touched (packs
    /// are immutable); a pack whose every note is back is dropped by the
    /// next sweep.
    func unarchive(_ entry: ArchiveRow, settings: NamespaceSettings, weight: Double) throws -> NoteRow {
        let record = try packs.read(id: entry.id, pack: entry.pack, offset: entry.offset, length: entry.length)
        let decay = settings.decay
        let key = decay.key(weight: weight, at: now)
        try db.run(sql: """
            UPDATE note SET body = ?, tags = ?, after = ?, key = ?, state = 0, deposits = ?, agent = ?, rank = ?,
                created_at = ?, updated_at = ?, pack = NULL, pack_offset = NULL, pack_length = NULL, archived_at = NULL
            WHERE seq = ?
            """, arguments: [Data(record.body.utf8), record.tags.joined(separator: " "), record.after.joined(separator: " "),
                             key, record.deposits, record.agent, record.rank, record.createdAt, nowMillis, entry.seq])
        changes?.row(seq: entry.seq, ns: entry.ns, state: .live, key: key, rank: record.rank ?? 0)
        try db.run(sql: "UPDATE pack SET revived = revived + 1 WHERE rowid = ?", arguments: [entry.packRow])
        // Evaporation leaves the text entry behind unless a rebuild has since
        // dropped it: remove it if it is there, then index the body again.
        if try db.int(sql: "SELECT count(*) FROM text_left_behind WHERE seq = ?", arguments: [entry.seq]) == 1 {
            try db.run(sql: "INSERT INTO note_text(note_text, rowid, ns, body) VALUES ('delete', ?, ?, ?)", arguments: [entry.seq, entry.ns, record.body])
            try db.run(sql: "DELETE FROM text_left_behind WHERE seq = ?", arguments: [entry.seq])
        }
        try db.run(sql: "INSERT INTO note_text(rowid, ns, body) VALUES (?, ?, ?)", arguments: [entry.seq, entry.ns, record.body])
        for tag in record.tags {
            try db.run(sql: "INSERT OR IGNORE INTO note_tag (ns, tag, note) VALUES (?, ?, ?)", arguments: [entry.ns, tag, entry.seq])
        }
        // Trails a bulk evaporation left behind are dead; the record has them.
        try db.run(sql: "DELETE FROM edge WHERE src = ?", arguments: [entry.seq])
        try db.run(sql: "DELETE FROM edge WHERE dst = ?", arguments: [entry.seq])
        func restoreTrail(from: Int64, to: Int64, weight archived: Double) throws {
            let w = record.decayed(archived, at: now, halfLife: settings.halfLife)
            try db.run(sql: """
                INSERT INTO edge (src, dst, ns, key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (src, dst) DO NOTHING
                """, arguments: [from, to, entry.ns, decay.key(weight: w, at: now), nowMillis, nowMillis])
        }
        /// The hot note `id` names, set live again if it was set aside for
        /// evaporation (a trail of it changes: `NoteWrites.keepFromEvaporation`).
        func hotEnd(_ id: String) throws -> Int64? {
            var found: (seq: Int64, state: Int64, key: Double)?
            try db.forEachRow(sql: "SELECT seq, state, key FROM note WHERE ns = ? AND id = ? AND state <> 2",
                              binding: [.text(entry.ns), .text(id)]) {
                found = (RawColumn.int64($0, 0), RawColumn.int64($0, 1), RawColumn.double($0, 2))
            }
            guard let found else { return nil }
            if found.state == StoredState.evaporating.rawValue {
                try db.run(sql: "UPDATE note SET state = 0 WHERE seq = ?", arguments: [found.seq])
                changes?.row(seq: found.seq, ns: entry.ns, state: .live, key: found.key)
            }
            return found.seq
        }
        for t in record.trailsOut {
            if let other = try hotEnd(t.id) { try restoreTrail(from: entry.seq, to: other, weight: t.weight) }
        }
        for t in record.trailsIn {
            if let other = try hotEnd(t.id) { try restoreTrail(from: other, to: entry.seq, weight: t.weight) }
        }
        try log(ns: entry.ns, op: "unarchive", note: entry.seq, detail: entry.pack)
        var row = NoteRow(inserted: entry.seq, id: entry.id, body: record.body, tags: record.tags.joined(separator: " "),
                          after: record.after.joined(separator: " "), key: key, agent: record.agent, at: nowMillis)
        row.deposits = record.deposits
        row.rank = record.rank
        row.createdAt = record.createdAt
        return row
    }

    // MARK: evaporation

    /// Moves the notes of `batch` that are still faded live (or set-aside)
    /// notes of `ns` (one may have been reinforced since the batch was
    /// planned) into a new pack, with their trails, and out of the hot tables.
    func evaporate(ns: String, batch: EvaporationBatch, fault: CompactionFault?) throws -> EvaporationReport {
        if let packed = batch.packed { return try commitPacked(packed, ns: ns, keepTrails: batch.keepTrails, fault: fault) }
        guard let settings = try Self.existingNamespace(db, ns) else { return EvaporationReport(ns: ns) }
        let rows = try Self.fadedRows(db, batch.handles, settings: settings, at: now, setAsideOnly: false)
        return try archive(rows, settings: settings, fault: fault, reportNotes: batch.reportNotes, keepTrails: batch.keepTrails)
    }

    /// Sets aside the notes of `batch` that are still faded live notes of
    /// `ns` (state 3): out of the key index, to be evaporated by the
    /// batches that follow. When they are a good share of the index it is
    /// built again rather than losing one entry per note, and the batches
    /// after it touch neighbouring rows only; see `keyIndexRebuildPays`.
    func markEvaporating(ns: String, batch: EvaporationBatch) throws -> Int {
        guard let settings = try Self.existingNamespace(db, ns) else { return 0 }
        let threshold = settings.decay.thresholdKey(settings.evaporateBelow, at: now)
        let rebuild = try Self.keyIndexRebuildPays(db, notes: batch.handles.count)
        changes?.markBulk()
        return try Self.rebuildingIndexes(db, rebuild ? "name = 'note_by_key'" : nil) {
            // One statement per `statementNotes`, all in this one transaction:
            // SQLite keeps the pages a statement changes in its statement
            // journal (in memory, temp_store) until the statement ends, and
            // one statement for 900,000 notes held 275 MB of them.
            var changed = 0
            for start in stride(from: 0, to: batch.handles.count, by: Self.statementNotes) {
                let seqs = jsonArray(batch.handles[start..<min(start + Self.statementNotes, batch.handles.count)])
                try db.run(sql: """
                    UPDATE note SET state = 3
                    WHERE seq IN (SELECT value FROM json_each(?)) AND +ns = ? AND +state = 0 AND +key < ?
                    """, arguments: [seqs, ns, threshold])
                changed += db.changesCount
            }
            return changed
        }
    }

    /// The most notes one statement of a bulk change takes (its statement
    /// journal holds a page for each, in memory).
    static let statementNotes = 20_000

    /// Drops, in one pass, the trails of `ns` that a bulk evaporation left
    /// behind (those with an archived end; they are in the packs). The two
    /// trail indexes are dropped and built again from what stays: most
    /// trails go, and their entries are in no useful order. Returns how
    /// many went; 0 at once when none were left behind.
    func dropDeadTrails(ns: String) throws -> Int {
        guard try db.int(sql: "SELECT dead_trails FROM namespace WHERE name = ?", arguments: [ns]) == 1 else { return 0 }
        let dropped = try Self.dropTrailsWithArchivedEnds(db, ns: ns).dropped
        try db.run(sql: "UPDATE namespace SET dead_trails = 0 WHERE name = ?", arguments: [ns])
        return dropped
    }

    /// How the trails with an archived end are dropped. When what stays
    /// (every other namespace's trails and the namespace's trails between two
    /// hot notes) is at most a quarter of the table and at most
    /// `keptTrailsInMemory` trails, it is copied aside (in memory), the
    /// table is emptied at once and the copy put back: a deleted row costs
    /// SQLite about as much as a written one, and the table is mostly dead.
    /// Otherwise the dead ones are deleted where they are.
    enum DeadTrailsDrop: Equatable {
        case copyingWhatStays(kept: Int)
        case deletingInPlace
    }

    /// The most trails `dropTrailsWithArchivedEnds` copies into memory
    /// (about 50 bytes each).
    static let keptTrailsInMemory = 1_000_000

    /// Drops the trails of `ns` with an archived end, with the trail indexes
    /// built again afterwards; returns how many went, and how (nil: none did).
    static func dropTrailsWithArchivedEnds(_ db: Database, ns: String) throws -> (dropped: Int, way: DeadTrailsDrop?) {
        // The namespace's hot notes (live, retracted, set aside), by seq, in
        // memory (temp_store): a trail stays when both its ends are in it.
        try db.execute(sql: "CREATE TEMP TABLE compaction_hot (seq INTEGER PRIMARY KEY)")
        defer { try? db.execute(sql: "DROP TABLE IF EXISTS temp.compaction_hot; DROP TABLE IF EXISTS temp.compaction_kept") }
        try db.execute(sql: """
            INSERT INTO temp.compaction_hot
            SELECT seq FROM note INDEXED BY note_by_key WHERE ns = ? AND (state = 0 OR state = 1)
            UNION ALL SELECT seq FROM note INDEXED BY note_evaporating WHERE ns = ? AND state = 3
            """, arguments: [ns, ns])
        // The namespace's trails that stay, found from their source: one range
        // of the primary key per hot note, not a pass over every trail. The
        // unary + keep the planner off edge_by_ns and off a lookup per pair.
        let keptHere = """
            FROM temp.compaction_hot h CROSS JOIN edge e ON e.src = h.seq
            WHERE +e.ns = ? AND +e.dst IN (SELECT seq FROM temp.compaction_hot)
            """
        let total = try db.int(sql: "SELECT count(*) FROM edge") ?? 0
        let here = try db.int(sql: "SELECT count(*) FROM edge INDEXED BY edge_by_ns WHERE ns = ?", arguments: [ns]) ?? 0
        let stay = total - here + (try db.int(sql: "SELECT count(*) \(keptHere)", arguments: [ns]) ?? 0)
        guard stay < total else { return (0, nil) }
        let way: DeadTrailsDrop = stay * 4 <= total && stay <= keptTrailsInMemory ? .copyingWhatStays(kept: stay) : .deletingInPlace
        if way != .deletingInPlace {
            // Copied while the indexes are there to find them by: the other
            // namespaces' trails by edge_by_ns (one range each side of ns).
            try db.execute(sql: "CREATE TEMP TABLE compaction_kept AS SELECT e.* \(keptHere)", arguments: [ns])
            try db.execute(sql: "INSERT INTO temp.compaction_kept SELECT * FROM edge WHERE ns < ?", arguments: [ns])
            try db.execute(sql: "INSERT INTO temp.compaction_kept SELECT * FROM edge WHERE ns > ?", arguments: [ns])
        }
        try rebuildingIndexes(db, "tbl_name = 'edge'") {
            switch way {
            case .copyingWhatStays:
                // No WHERE: SQLite empties the table at once instead of row by row.
                try db.execute(sql: "DELETE FROM edge")
                try db.execute(sql: "INSERT INTO edge SELECT * FROM temp.compaction_kept ORDER BY src, dst")
            case .deletingInPlace:
                try db.execute(sql: """
                    DELETE FROM edge WHERE ns = ? AND NOT (
                        src IN (SELECT seq FROM temp.compaction_hot) AND dst IN (SELECT seq FROM temp.compaction_hot))
                    """, arguments: [ns])
            }
        }
        return (total - stay, way)
    }

    /// Runs `change` with the indexes that `which` selects from
    /// `sqlite_master` (nil: none) dropped, then builds them again from
    /// their own definitions: one sorted pass, where a change to most of
    /// their entries would write a random page per entry.
    static func rebuildingIndexes<T>(_ db: Database, _ which: String?, _ change: () throws -> T) throws -> T {
        let indexes = try which.map {
            try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND \($0)")
        } ?? []
        for index in indexes { try db.execute(sql: "DROP INDEX \(index["name"] as String)") }
        let result = try change()
        for index in indexes { try db.execute(sql: index["sql"] as String) }
        return result
    }

    /// Moves `rows` of one namespace into a new pack, with their trails, and
    /// out of the hot tables.
    func archive(_ rows: [NoteRow], settings: NamespaceSettings, fault: CompactionFault? = nil,
                 reportNotes: Bool = true, keepTrails: Bool = false) throws -> EvaporationReport {
        let ns = settings.name
        guard !rows.isEmpty else { return EvaporationReport(ns: ns) }
        let records = try Self.records(db, rows, settings: settings, at: now)
        let notes = reportNotes ? Self.evaporatedNotes(rows, settings: settings, at: now) : []
        let name = Self.packName(ns: ns, at: nowMillis)
        let written = try packs.write(records, name: name)
        try fault?.trip(.packWritten)
        let entries = zip(records, written.entries).map { (handle: $0.seq, offset: $1.offset, length: $1.length) }
        try slim(entries, pack: name, raw: written.raw, packed: written.packed, ns: ns, keepTrails: keepTrails, fault: fault)
        return EvaporationReport(ns: ns, notes: notes, count: records.count, packedBytes: written.packed, rawBytes: written.raw)
    }

    /// Archives the notes of a batch packed outside the write lock
    /// (`PackedEvaporation`, or a slice of its entries) that are still set
    /// aside and faded; a note used since (set live again, or retracted)
    /// stays, and its record in the pack is never named. The first slice
    /// that archives a note names the pack; a pack none of whose notes is
    /// left stays unnamed, for the sweep once its claim goes.
    func commitPacked(_ packed: PackedEvaporation, ns: String, keepTrails: Bool, fault: CompactionFault?) throws -> EvaporationReport {
        guard let settings = try Self.existingNamespace(db, ns) else { return EvaporationReport(ns: ns) }
        let threshold = settings.decay.thresholdKey(settings.evaporateBelow, at: now)
        var still = Set<Int64>()
        still.reserveCapacity(packed.entries.count)
        try db.forEachRow(sql: """
            SELECT n.seq FROM note n
            WHERE n.seq IN (SELECT value FROM json_each(?)) AND +n.ns = ? AND +n.state = 3 AND +n.key < ?
            """, binding: [.text(jsonArray(packed.entries.map(\.handle))), .text(ns), .double(threshold)]) {
            still.insert(RawColumn.int64($0, 0))
        }
        guard !still.isEmpty else { return EvaporationReport(ns: ns) }
        let kept = packed.entries.indices.filter { still.contains(packed.entries[$0].handle) }
        try slim(kept.map { packed.entries[$0] }, pack: packed.pack, raw: packed.rawBytes, packed: packed.packedBytes,
                 ns: ns, keepTrails: keepTrails, fault: fault)
        return EvaporationReport(ns: ns, notes: packed.notes.isEmpty ? [] : kept.map { packed.notes[$0] }, count: kept.count,
                                 packedBytes: packed.packedBytes, rawBytes: packed.rawBytes)
    }

    /// The rows of `handles` that are still faded notes of the namespace, in
    /// storage order: set aside only (`setAsideOnly`, what a pack from a
    /// read takes), or live and set aside.
    static func fadedRows(_ db: Database, _ handles: [Int64], settings: NamespaceSettings, at now: Double,
                          setAsideOnly: Bool) throws -> [NoteRow] {
        let threshold = settings.decay.thresholdKey(settings.evaporateBelow, at: now)
        // The unary + keep the planner on the rowid lookups: with the key index
        // it would walk the whole faded range for every batch. Each row is
        // decoded straight from the statement.
        var rows: [NoteRow] = []
        rows.reserveCapacity(handles.count)
        try db.forEachRow(sql: """
            SELECT \(noteColumns) FROM note n
            WHERE n.seq IN (SELECT value FROM json_each(?)) AND +n.ns = ? AND +n.state IN (3, ?) AND +n.key < ? ORDER BY n.seq
            """, binding: [.text(jsonArray(handles)), .text(settings.name), .int(setAsideOnly ? 3 : 0), .double(threshold)]) {
            rows.append(NoteRow(columns: $0))
        }
        return rows
    }

    /// A new pack's file name.
    static func packName(ns: String, at millis: Int64) -> String {
        "\(ns)-\(millis)-\(UInt32.random(in: 0...UInt32.max)).zst"
    }

    /// The archive records of `rows` (notes of one namespace), with their
    /// trails named by the other end's id, as `db` has them.
    static func records(_ db: Database, _ rows: [NoteRow], settings: NamespaceSettings, at now: Double) throws -> [ArchivedNote] {
        let decay = settings.decay
        // Every statement below works on the whole batch at once (the seqs as
        // a JSON array through json_each): a few statements per batch, not
        // several per note.
        let seqs = jsonArray(rows.map(\.seq))
        // The trails of the batch, then the ids of their other ends in one
        // lookup in storage order (not one random lookup per trail).
        var outEnds: [Int64: [(other: Int64, key: Double)]] = [:]
        var inEnds: [Int64: [(other: Int64, key: Double)]] = [:]
        var others = Set<Int64>()
        for (sql, forward) in [
            ("SELECT e.src, e.dst, e.key FROM edge e WHERE e.src IN (SELECT value FROM json_each(?))", true),
            ("SELECT e.dst, e.src, e.key FROM edge e INDEXED BY edge_by_dst WHERE e.dst IN (SELECT value FROM json_each(?))", false),
        ] {
            try db.forEachRow(sql: sql, binding: [.text(seqs)]) { s in
                let end = (other: RawColumn.int64(s, 1), key: RawColumn.double(s, 2))
                if forward { outEnds[RawColumn.int64(s, 0), default: []].append(end) } else { inEnds[RawColumn.int64(s, 0), default: []].append(end) }
                others.insert(end.other)
            }
        }
        var ids: [Int64: String] = [:]
        ids.reserveCapacity(others.count)
        try db.forEachRow(sql: "SELECT n.seq, n.id FROM note n WHERE n.seq IN (SELECT value FROM json_each(?))",
                          binding: [.text(jsonArray(others.sorted()))]) { ids[RawColumn.int64($0, 0)] = RawColumn.text($0, 1) }
        func trails(_ ends: [(other: Int64, key: Double)]?) -> [ArchivedNote.Trail] {
            (ends ?? []).compactMap { end in
                ids[end.other].map { ArchivedNote.Trail(id: $0, weight: decay.weight(key: end.key, at: now)) }
            }
        }
        return rows.map { row in
            ArchivedNote(
                id: row.id, seq: row.seq, body: row.body, tags: row.tagList, after: row.afterList,
                weight: decay.weight(key: row.key, at: now), archivedAt: now, deposits: row.deposits, agent: row.agent,
                rank: row.rank, createdAt: row.createdAt, updatedAt: row.updatedAt,
                trailsOut: trails(outEnds[row.seq]), trailsIn: trails(inEnds[row.seq]))
        }
    }

    /// `rows` as watchers see them evaporate: state `archived`.
    static func evaporatedNotes(_ rows: [NoteRow], settings: NamespaceSettings, at now: Double) -> [Note] {
        rows.map { row in
            var note = row.note(ns: settings, at: now)
            note.state = .archived
            return note
        }
    }

    /// Names the pack `name` (written and synced) in a pack row, and slims
    /// the rows of `entries` into archived rows that point at their frames:
    /// body, tags and trails are in the pack now; each row's key stays, so
    /// its weight goes on decaying. Their trails go too, unless kept for
    /// `dropDeadTrails` (a bulk evaporation).
    private func slim(_ entries: [(handle: Int64, offset: Int64, length: Int64)], pack name: String, raw: Int, packed: Int,
                      ns: String, keepTrails: Bool, fault: CompactionFault?) throws {
        let seqs = jsonArray(entries.map(\.handle))
        // A pack archived in slices is named by the first and counts the notes of each.
        try db.run(sql: """
            INSERT INTO pack (name, ns, notes, raw_bytes, packed_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET notes = notes + excluded.notes
            """, arguments: [name, ns, entries.count, raw, packed, nowMillis])
        guard let packRow = try db.int(sql: "SELECT rowid FROM pack WHERE name = ?", arguments: [name]) else {
            throw TrailError.internal("pack \(name) was not recorded")
        }
        let index = "[" + entries.map { "[\($0.handle),\($0.offset),\($0.length)]" }.joined(separator: ",") + "]"
        changes?.markBulk()
        try db.run(sql: """
            UPDATE note SET state = 2, body = x'', tags = '', after = '', pack = ?,
                pack_offset = j.value ->> 1, pack_length = j.value ->> 2, archived_at = ?
            FROM json_each(?) j WHERE note.seq = j.value ->> 0
            """, arguments: [packRow, now, index])
        try db.run(sql: "DELETE FROM note_tag WHERE note IN (SELECT value FROM json_each(?))", arguments: [seqs])
        if keepTrails {
            // Dead now (every reader skips trails of archived notes), dropped by dropDeadTrails.
            try db.run(sql: "UPDATE namespace SET dead_trails = 1 WHERE name = ? AND dead_trails = 0", arguments: [ns])
        } else {
            try db.run(sql: "DELETE FROM edge WHERE src IN (SELECT value FROM json_each(?))", arguments: [seqs])
            try db.run(sql: "DELETE FROM edge WHERE dst IN (SELECT value FROM json_each(?))", arguments: [seqs])
        }
        // The full-text entries stay behind (searches join on the row and
        // want state live): removing them would tokenize every body again.
        // They are counted, and the index is rebuilt once they outnumber the notes.
        // One log entry for the batch: each note's own is its row's archived_at.
        try log(ns: ns, op: "evaporate", delta: Double(entries.count), detail: name)
        try db.run(sql: "INSERT INTO text_left_behind (seq) SELECT value FROM json_each(?)", arguments: [seqs])
        try fault?.trip(.indexWritten)
    }

    /// Rebuilds the full-text index from the note table once the entries
    /// left behind by evaporation are at least 10,000 and four times the
    /// notes: the rebuild costs time in proportion to the notes, so it is
    /// amortised over the evaporations. Returns whether it rebuilt.
    func rebuildTextIfStale() throws -> Bool {
        let stale = try db.int(sql: "SELECT count(*) FROM text_left_behind") ?? 0
        guard stale >= 10_000, stale > 4 * (try Self.keyIndexEntries(db)) else { return false }
        // Not 'rebuild', which would index the archived rows' empty bodies too.
        try db.run(sql: "INSERT INTO note_text(note_text) VALUES ('delete-all')")
        try db.run(sql: "INSERT INTO note_text(rowid, ns, body) SELECT seq, ns, body FROM note WHERE state <> 2")
        try db.run(sql: "DELETE FROM text_left_behind")
        return true
    }

    /// Whether taking `notes` out of the key index at once costs more in
    /// deletes than building the index again. A delete costs a random page when
    /// faded notes are not stored together (about 5 us each, measured at 1M
    /// notes); a rebuild sorts the entries that stay (about 2 us each). So
    /// rebuild once the batch is a third of the entries left.
    static func keyIndexRebuildPays(_ db: Database, notes: Int) throws -> Bool {
        guard notes >= 256 else { return false }
        return notes * 3 >= (try keyIndexEntries(db))
    }

    /// The live and retracted rows: the entries of the key index.
    static func keyIndexEntries(_ db: Database) throws -> Int {
        try db.int(sql: "SELECT count(*) FROM note INDEXED BY note_by_key WHERE state = 0 OR state = 1") ?? 0
    }

    /// Removes pack files that no committed pack row names (a crash between
    /// writing a pack and committing its index), and pack rows (and files)
    /// that no archived note uses any more. Runs under the write lock, so no
    /// other writer can be between its pack and its commit.
    func sweepPacks() throws -> Int {
        var removed = 0
        let unused = try db.rows(sql: "SELECT name FROM pack WHERE revived >= notes").map { $0[0] as String }
        for name in unused {
            try db.run(sql: "DELETE FROM pack WHERE name = ?", arguments: [name])
        }
        // A claimed file is a pack being packed outside the write lock, by
        // this process or another on the store: not an orphan (yet).
        let known = Set(try db.rows(sql: "SELECT name FROM pack").map { $0[0] as String })
        for file in packs.files() where !known.contains(file) && !packs.isClaimed(packs.path(file)) {
            packs.remove(file)
            removed += 1
        }
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: packs.directory)) ?? [])
        where file.hasSuffix(".tmp") && !packs.isClaimed(packs.path(file)) {
            packs.remove(String(file.dropLast(4)))
        }
        return removed
    }

    /// Sets the rank of each note (by handle) of `ns` that is still hot, in one statement.
    func setRanks(ns: String, ranks: [(handle: Int64, rank: Double)]) throws -> Int {
        let list = "[" + ranks.map { "[\($0.handle),\($0.rank.isFinite ? $0.rank : 0)]" }.joined(separator: ",") + "]"
        // The unary + keep the planner off note_by_id (it would scan the
        // namespace once per handle) and on the rowid.
        changes?.markBulk()
        try db.run(sql: """
            UPDATE note SET rank = j.value ->> 1 FROM json_each(?) j
            WHERE note.seq = j.value ->> 0 AND +note.ns = ? AND +note.state <> 2
            """, arguments: [list, ns])
        return ranks.count
    }

    /// Rebases the namespace's landmark to now when `(now - L) / h` is past
    /// `bound` half-lives, keeping every weight; returns whether it did.
    func recordCompaction(_ report: CompactionReport) throws {
        try db.run(sql: """
            INSERT INTO compaction (ns, started_at, duration_ms, evaporated, archived_bytes, ranked, rebased)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [report.ns, report.startedAtMillis, report.durationMillis, report.evaporated,
                             report.archivedBytes, report.ranked, report.rebased ? 1 : 0])
    }
}

/// Integers as a JSON array, the form the statements read with `json_each`.
func jsonArray<Values: Collection<Int64>>(_ values: Values) -> String {
    "[" + values.map(String.init).joined(separator: ",") + "]"
}
