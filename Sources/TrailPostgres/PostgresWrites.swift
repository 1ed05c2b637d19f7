import Foundation
import NIOCore
import PostgresNIO
import TrailCore
import TrailStore

/// Runs statements on one connection, blocking the calling thread (the
/// engine's commit thread, never an event loop).
protocol StatementRunner {
    /// Runs `query` and returns its rows.
    @discardableResult
    func rows(_ query: PostgresQuery) throws -> [PostgresRandomAccessRow]
}

/// What one write transaction has seen and still has to write: namespaces
/// already locked and read, and write-log rows gathered for one insert.
final class TransactionState {
    var namespaces: [String: NamespaceSettings] = [:]
    var log: [LogRow] = []
    /// The write-log seqs this transaction wrote, in the order of its rows
    /// (the first is the signal's `FIRST`).
    var logged: [Int64] = []
    /// Notes `DepositBatch` inserted ahead of their deposits, not yet claimed: seq by `key(ns:id:)`.
    var prepared: [String: Int64] = [:]
    /// Every (ns, id) `DepositBatch` handled: each is in the table now, made by it or before it.
    var batched: Set<String> = []

    static func key(ns: String, id: String) -> String { ns + " " + id }

    /// The seq of a note `DepositBatch` inserted for the deposit of (ns, id),
    /// once; `.some(nil)` when the batch found that note there already (or
    /// it was claimed); nil when the batch did not handle it.
    func claim(ns: String, id: String) -> Int64?? {
        let key = Self.key(ns: ns, id: id)
        guard batched.contains(key) else { return nil }
        return .some(prepared.removeValue(forKey: key))
    }

    struct LogRow {
        var ns: String
        var op: String
        var note: Int64?
        var other: Int64?
        var delta: Double?
        var detail: String?
        var writer: Writer
    }
}

/// The PostgreSQL engine's writes inside one transaction of the group commit,
/// at the database's instant `now`: how this database stores what
/// `NoteWrites` means, and the engine's own writes (restore, compaction).
///
/// Across daemons: every note a write reads is locked (`FOR UPDATE`) until
/// the transaction ends, so a weight read here and written back cannot lose
/// a reinforcement made through another daemon; a trail's weight is
/// computed by the database in the statement that writes it. Every write
/// transaction holds its namespaces' rows `FOR SHARE`, and a rebase updates
/// that row first: a rebase waits for the writers of every daemon that read
/// the old landmark, and they for it.
struct PostgresWrites: WriteTransaction {
    let db: any StatementRunner
    let now: Double
    let writer: Writer
    /// Names this daemon in the write log.
    let daemon: String
    let state: TransactionState

    var nowMillis: Int64 { Timestamp.millis(now) }

    /// The contract's writes through `NoteWrites`; restore and compaction are
    /// this engine's own.
    func apply(_ write: WriteRequest) throws -> WriteOutcome {
        if let outcome = try NoteWrites(self).apply(write) { return outcome }
        return try applyOwn(write)
    }

    // MARK: namespaces

    func existingNamespace(_ name: String) throws -> NamespaceSettings? {
        if let known = state.namespaces[name] { return known }
        let rows = try db.rows("SELECT \(unescaped: NamespaceSettings.postgresColumns) FROM namespace WHERE name = \(name) FOR SHARE")
        guard let row = rows.first else { return nil }
        let settings = try NamespaceSettings(postgres: row)
        state.namespaces[name] = settings
        return settings
    }

    func createNamespace(_ settings: NamespaceSettings) throws -> NamespaceSettings {
        // Another daemon may create it at the same moment: the one stored wins.
        try db.rows("""
            INSERT INTO namespace (name, half_life_s, evaporate_below, max_note_bytes, landmark, created_at, contest_similarity)
            VALUES (\(settings.name), \(settings.halfLife), \(settings.evaporateBelow), \(Int64(settings.maxNoteBytes)),
                    \(settings.landmark), \(nowMillis), \(settings.contestSimilarity))
            ON CONFLICT (name) DO NOTHING
            """)
        guard let stored = try existingNamespace(settings.name) else {
            throw TrailError.internal("namespace \(settings.name) was created but cannot be read")
        }
        return stored
    }

    func saveNamespace(_ settings: NamespaceSettings) throws {
        try db.rows("""
            UPDATE namespace SET half_life_s = \(settings.halfLife), evaporate_below = \(settings.evaporateBelow),
                max_note_bytes = \(Int64(settings.maxNoteBytes)), landmark = \(settings.landmark),
                contest_similarity = \(settings.contestSimilarity)
            WHERE name = \(settings.name)
            """)
        state.namespaces[settings.name] = settings
    }

    func rebase(_ settings: NamespaceSettings, to now: Double) throws {
        // The namespace row first: this waits for every transaction that
        // holds it FOR SHARE (writers that read the old landmark), and makes
        // the writers that come after wait for this one.
        try db.rows("UPDATE namespace SET landmark = \(now) WHERE name = \(settings.name)")
        let shift = settings.decay.offset(at: now)
        try db.rows("UPDATE note SET key = key - \(shift) WHERE ns = \(settings.name) AND key > -1e300")
        try db.rows("UPDATE edge SET key = key - \(shift) WHERE ns = \(settings.name) AND key > -1e300")
        var moved = settings
        moved.landmark = now
        state.namespaces[settings.name] = moved
    }

    // MARK: notes

    func locate(_ prefix: IDPrefix, ns: String) throws -> LocatedRow {
        let rows = try db.rows("""
            SELECT \(unescaped: noteColumns) FROM note n
            WHERE n.ns = \(ns) AND n.id >= \(prefix.hex) AND n.id < \(prefix.upperBound)
            ORDER BY n.id LIMIT 5 FOR UPDATE
            """)
        switch rows.count {
        case 0: throw TrailError.unknownNote(id: prefix.hex, ns: ns)
        case 1: return try LocatedRow(postgres: rows[0])
        default: throw TrailError.ambiguousID(prefix: prefix.hex, matches: try rows.map { try $0[1].decode(String.self) })
        }
    }

    func byID(_ id: String, ns: String) throws -> LocatedRow? {
        let rows = try db.rows("SELECT \(unescaped: noteColumns) FROM note n WHERE n.ns = \(ns) AND n.id = \(id) FOR UPDATE")
        return try rows.first.map { try LocatedRow(postgres: $0) }
    }

    func insert(_ row: NoteRow, ns: String) throws -> Int64? {
        if let done = state.claim(ns: ns, id: row.id) { return done }
        // Two daemons inserting one body at once: the second waits on the
        // unique index until the first commits, then inserts nothing and
        // reinforces the note the first made.
        let rows = try db.rows("""
            INSERT INTO note (ns, id, body, words, tags, after, key, state, deposits, agent, created_at, updated_at)
            VALUES (\(ns), \(row.id), \(ByteBuffer(string: row.body)), to_tsvector('english', \(SearchText.of(row.body))),
                    \(row.tags), \(row.after), \(row.key), 0, 1, \(row.agent), \(row.createdAt), \(row.updatedAt))
            ON CONFLICT (ns, id) DO NOTHING RETURNING seq
            """)
        return try rows.first.map { try $0[0].decode(Int64.self) }
    }

    func update(_ row: NoteRow, ns: String, changed: NoteChanges) throws {
        try db.rows("""
            UPDATE note SET key = \(row.key), state = \(Int16(row.state.rawValue)), deposits = \(row.deposits),
                tags = \(row.tags), after = \(row.after), updated_at = \(row.updatedAt),
                retraction_reason = \(row.retractionReason), retraction_agent = \(row.retractionAgent),
                retracted_at = \(row.retractedAt)
            WHERE seq = \(row.seq)
            """)
    }

    func addTags(_ tags: [String], note: Int64, ns: String) throws {
        try db.rows("""
            INSERT INTO note_tag (ns, tag, note) SELECT \(ns), unnest(\(tags)::text[]), \(note)
            ON CONFLICT DO NOTHING
            """)
    }

    /// `ForwardDecay.reinforced` in SQL, computed by the database in the
    /// statement that writes the trail (`$old` the stored key, `off` the
    /// offset `(now - L) / h`): `key(max(0, 2^(old - off) + delta))`, with
    /// -1e300 standing for a weight of 0.
    static func reinforcedKeySQL(old: String, delta: String, offset: String) -> String {
        let weight = "(CASE WHEN \(old) <= -1e300 THEN 0.0 ELSE power(2.0::float8, \(old) - \(offset)) END) + \(delta)"
        return "(CASE WHEN \(weight) > 0 THEN ln(\(weight)) / ln(2.0::float8) + \(offset) ELSE -1e300::float8 END)"
    }

    func walkTrail(from: Int64, to: Int64, ns: String, decay: ForwardDecay, delta: Double) throws -> Double {
        let offset = decay.offset(at: now)
        let fresh = decay.key(weight: max(0, delta), at: now)
        let reinforced = Self.reinforcedKeySQL(old: "e.key", delta: "$7::float8", offset: "$8::float8")
        var binds = PostgresBindings()
        binds.append(from)
        binds.append(to)
        binds.append(ns)
        binds.append(fresh)
        binds.append(nowMillis)
        binds.append(nowMillis)
        binds.append(delta)
        binds.append(offset)
        let rows = try db.rows(PostgresQuery(unsafeSQL: """
            INSERT INTO edge AS e (src, dst, ns, key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (src, dst) DO UPDATE SET key = \(reinforced), updated_at = excluded.updated_at
            RETURNING key
            """, binds: binds))
        return decay.weight(key: try rows[0][0].decode(Double.self), at: now)
    }

    func unarchive(_ entry: ArchivedRow, settings: NamespaceSettings, weight: Double) throws -> NoteRow {
        let ns = settings.name
        guard let frameRow = try db.rows("SELECT frame FROM archive_block WHERE seq = \(entry.block)").first else {
            throw TrailError.storageUnavailable("archive block \(entry.block) of note \(entry.id) is missing")
        }
        let frame = Array(buffer: try frameRow[0].decode(ByteBuffer.self))
        let record = try ArchiveFrames.record(id: entry.id, in: frame, source: "archive block \(entry.block)")
        let decay = settings.decay
        let key = decay.key(weight: weight, at: now)
        let tags = record.tags.joined(separator: " ")
        let after = record.after.joined(separator: " ")
        try db.rows("""
            UPDATE note SET body = \(ByteBuffer(string: record.body)), words = to_tsvector('english', \(SearchText.of(record.body))),
                tags = \(tags), after = \(after), key = \(key), state = 0, deposits = \(record.deposits),
                agent = \(record.agent), rank = \(record.rank), created_at = \(record.createdAt), updated_at = \(nowMillis),
                block = NULL, archived_at = NULL
            WHERE seq = \(entry.seq)
            """)
        try db.rows("UPDATE archive_block SET revived = revived + 1 WHERE seq = \(entry.block)")
        if !record.tags.isEmpty { try addTags(record.tags, note: entry.seq, ns: ns) }
        // Trails a bulk evaporation left behind are dead; the record has them.
        try db.rows("DELETE FROM edge WHERE src = \(entry.seq) OR dst = \(entry.seq)")
        // The trails whose other end is hot come back, decayed since.
        let outIDs = record.trailsOut.map(\.id)
        let outKeys = record.trailsOut.map { decay.key(weight: record.decayed($0.weight, at: now, halfLife: settings.halfLife), at: now) }
        let inIDs = record.trailsIn.map(\.id)
        let inKeys = record.trailsIn.map { decay.key(weight: record.decayed($0.weight, at: now, halfLife: settings.halfLife), at: now) }
        try db.rows("""
            INSERT INTO edge (src, dst, ns, key, created_at, updated_at)
            SELECT \(entry.seq), n.seq, \(ns), t.key, \(nowMillis), \(nowMillis)
            FROM unnest(\(outIDs)::text[], \(outKeys)::float8[]) AS t(id, key) JOIN note n ON n.ns = \(ns) AND n.id = t.id
            WHERE n.state <> 2
            UNION ALL
            SELECT n.seq, \(entry.seq), \(ns), t.key, \(nowMillis), \(nowMillis)
            FROM unnest(\(inIDs)::text[], \(inKeys)::float8[]) AS t(id, key) JOIN note n ON n.ns = \(ns) AND n.id = t.id
            WHERE n.state <> 2
            ON CONFLICT (src, dst) DO NOTHING
            """)
        try log(ns: ns, op: "unarchive", note: entry.seq, other: nil, delta: nil, detail: "block \(entry.block)")
        var row = NoteRow(inserted: entry.seq, id: entry.id, body: record.body, tags: tags, after: after, key: key,
                          agent: record.agent, at: nowMillis)
        row.deposits = record.deposits
        row.rank = record.rank
        row.createdAt = record.createdAt
        return row
    }

    // MARK: write log

    /// Gathered, and written in one statement by `flushLog` before the
    /// transaction (or the write's savepoint) ends.
    func log(ns: String, op: String, note: Int64?, other: Int64?, delta: Double?, detail: String?) throws {
        state.log.append(.init(ns: ns, op: op, note: note, other: other, delta: delta, detail: detail, writer: writer))
    }

    /// Writes the gathered write-log rows in one statement (a JSON array
    /// of rows: postgres-nio binds no arrays with nulls in them). With
    /// `signal`, the transaction's last, the same round trip tells the other
    /// daemons (`WriteSignal`: this daemon and the range of log seqs the
    /// transaction wrote; a NOTIFY is delivered when, and only if, the
    /// transaction commits).
    func flushLog(signal: Bool = false) throws {
        let log = state.log
        state.log.removeAll()
        if log.isEmpty {
            if signal, let first = state.logged.first, let last = state.logged.last {
                try db.rows("SELECT pg_notify(\(unescaped: WriteSignal.channelLiteral), \("\(daemon) \(first) \(last)"))")
            }
            return
        }
        var json = JSONText()
        json.append(byte: UInt8(ascii: "["))
        for (i, entry) in log.enumerated() {
            if i > 0 { json.append(byte: UInt8(ascii: ",")) }
            json.append(#"{"ns":"#)
            json.string(entry.ns)
            json.append(#","op":"#)
            json.string(entry.op)
            json.append(#","note":"#)
            Self.optional(entry.note, into: &json)
            json.append(#","other":"#)
            Self.optional(entry.other, into: &json)
            json.append(#","delta":"#)
            if let d = entry.delta { json.number(d) } else { json.append("null") }
            json.append(#","detail":"#)
            if let d = entry.detail { json.string(d) } else { json.append("null") }
            json.append(#","agent":"#)
            if let a = entry.writer.agent { json.string(a) } else { json.append("null") }
            json.append(#","uid":"#)
            Self.optional(entry.writer.uid.map(Int64.init), into: &json)
            json.append(#","pid":"#)
            Self.optional(entry.writer.pid.map(Int64.init), into: &json)
            json.append(byte: UInt8(ascii: "}"))
        }
        json.append(byte: UInt8(ascii: "]"))
        let inserted = try db.rows("""
            WITH logged AS (
                INSERT INTO write_log (at, ns, op, note, other, delta, detail, agent, uid, pid, daemon)
                SELECT \(nowMillis), x.ns, x.op, x.note, x.other, x.delta, x.detail, x.agent, x.uid, x.pid, \(daemon)
                FROM jsonb_to_recordset(\(String(decoding: json.bytes, as: UTF8.self))::jsonb)
                    AS x(ns text, op text, note int8, other int8, delta float8, detail text, agent text, uid int8, pid int8)
                RETURNING seq)
            SELECT array_agg(seq ORDER BY seq), CASE WHEN \(signal) THEN pg_notify(\(unescaped: WriteSignal.channelLiteral),
                \(daemon)::text || ' ' || least(min(seq), \(state.logged.first ?? Int64.max)::int8)::text || ' ' || max(seq)::text) END
            FROM logged
            """)
        // Given out row by row in the order of the array, so in the rows' order.
        state.logged += try inserted[0][0].decode([Int64].self)
    }

    private static func optional(_ value: Int64?, into json: inout JSONText) {
        if let value { json.integer(value) } else { json.append("null") }
    }

    // MARK: compaction records

    func recordCompaction(_ report: CompactionReport) throws {
        try db.rows("""
            INSERT INTO compaction (ns, started_at, duration_ms, evaporated, archived_bytes, ranked, rebased)
            VALUES (\(report.ns), \(report.startedAtMillis), \(report.durationMillis), \(Int64(report.evaporated)),
                    \(Int64(report.archivedBytes)), \(Int64(report.ranked)), \(report.rebased))
            """)
    }
}
