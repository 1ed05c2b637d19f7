import Foundation
import GRDB
import TrailCore
import TrailStore

/// The embedded store's limit: traild's own schema (made by traild's
/// migrations, through `SQLiteStore`), WAL, `synchronous = FULL`, the same
/// SQL as traild's store, in this process, on one connection, with writes
/// batched `batch` to a transaction. No daemon, no socket, no JSON.
final class RawSQLite {
    let path: String
    private let queue: DatabaseQueue
    private let batch: Int
    /// seq of each loaded note, by data set and index.
    private var seqs: [String: [Int64]] = [:]

    static let columns = "n.seq, n.id, n.body, n.tags, n.after, n.key, n.state, n.deposits, n.agent, n.rank, n.created_at, n.updated_at, n.retraction_reason, n.retraction_agent, n.retracted_at"

    init(path: String, batch: Int) async throws {
        self.path = path
        self.batch = batch
        // traild's migrations make the file: the schema is the daemon's, not a copy of it.
        let store = try SQLiteStore(path: path, packDirectory: path + ".packs")
        await store.close()
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        queue = try DatabaseQueue(path: path, configuration: config)
        let mode = try queue.inDatabase { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        guard mode == "wal" else { throw BenchFailure("the raw SQLite file is in \(mode ?? "?") mode, not WAL") }
    }

    /// The namespace's decay, creating it (defaults, landmark now) if new.
    func namespace(_ ns: String) throws -> ForwardDecay {
        try queue.inDatabase { db in
            if let row = try Row.fetchOne(db, sql: "SELECT half_life_s, landmark FROM namespace WHERE name = ?", arguments: [ns]) {
                return ForwardDecay(halfLife: row[0], landmark: row[1])
            }
            let now = Date().timeIntervalSince1970
            try db.execute(sql: """
                INSERT INTO namespace (name, half_life_s, evaporate_below, max_note_bytes, landmark, created_at)
                VALUES (?, 604800, 0.05, 4096, ?, ?)
                """, arguments: [ns, now, Int64(now * 1000)])
            return ForwardDecay(halfLife: 604_800, landmark: now)
        }
    }

    // MARK: loading

    /// Loads notes `range` of `set` into `ns` as traild's import writes them
    /// (note, text, tag, trails, log row), `loadBatch` to a transaction.
    func load(_ set: inout Dataset, range: Range<Int>, ns: String, loadBatch: Int) throws {
        let decay = try namespace(ns)
        var known = seqs[set.name] ?? []
        precondition(known.count == range.lowerBound, "load data sets in order")
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(range.upperBound, i + loadBatch)
            let now = Date().timeIntervalSince1970
            let millis = Int64(now * 1000)
            let notes = (i..<end).map { set.note($0) }
            let ids = (i..<end).map { set.id($0) }
            try queue.inTransaction { db in
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO note (ns, id, body, tags, after, key, state, deposits, agent, created_at, updated_at)
                    VALUES (?, ?, ?, ?, '', ?, 0, 1, NULL, ?, ?)
                    """)
                let text = try db.cachedStatement(sql: "INSERT INTO note_text(rowid, body) VALUES (?, ?)")
                let tag = try db.cachedStatement(sql: "INSERT OR IGNORE INTO note_tag (ns, tag, note) VALUES (?, ?, ?)")
                let edge = try db.cachedStatement(sql: """
                    INSERT INTO edge (src, dst, ns, key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (src, dst) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at
                    """)
                let log = try Self.logStatement(db)
                for (n, id) in zip(notes, ids) {
                    try insert.execute(arguments: [ns, id, Data(n.body.utf8), n.tag, decay.key(weight: n.weight, at: now), millis, millis])
                    let seq = db.lastInsertedRowID
                    known.append(seq)
                    try text.execute(arguments: [seq, n.body])
                    try tag.execute(arguments: [ns, n.tag, seq])
                    for t in n.trails {
                        try edge.execute(arguments: [seq, known[t.to], ns, decay.key(weight: t.weight, at: now), millis, millis])
                    }
                    try log.execute(arguments: [millis, ns, "import", seq, nil, nil])
                }
                return .commit
            }
            i = end
        }
        seqs[set.name] = known
    }

    private static func logStatement(_ db: Database) throws -> Statement {
        try db.cachedStatement(sql: """
            INSERT INTO write_log (at, ns, op, note, other, delta, detail, agent, uid, pid)
            VALUES (?, ?, ?, ?, NULL, ?, ?, NULL, NULL, NULL)
            """)
    }

    // MARK: writes (W1, W2)

    /// W1: new deposits (the rows traild writes for a new note: the note,
    /// its text, its log row, after looking the id up), `batch` per
    /// transaction, for `duration` seconds after `warmup`. Returns deposits per second.
    func deposits(ns: String, warmup: Double, duration: Double) throws -> Double {
        let decay = try namespace(ns)
        var rng = SplitMix64(seed: 11)
        var n = 0
        return try timed(warmup: warmup, duration: duration) {
            let now = Date().timeIntervalSince1970
            let millis = Int64(now * 1000)
            let bodies = (0..<batch).map { _ -> String in
                n += 1
                return "raw deposit \(n): " + Vocabulary.phrase(8, &rng)
            }
            try queue.inTransaction { db in
                let find = try db.cachedStatement(sql: "SELECT seq FROM note WHERE ns = ? AND id = ?")
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO note (ns, id, body, tags, after, key, state, deposits, agent, created_at, updated_at)
                    VALUES (?, ?, ?, '', '', ?, 0, 1, NULL, ?, ?)
                    """)
                let text = try db.cachedStatement(sql: "INSERT INTO note_text(rowid, body) VALUES (?, ?)")
                let log = try Self.logStatement(db)
                for body in bodies {
                    let id = NoteID(body: body).hex
                    guard try Int64.fetchOne(find, arguments: [ns, id]) == nil else { continue }
                    try insert.execute(arguments: [ns, id, Data(body.utf8), decay.key(weight: 1, at: now), millis, millis])
                    let seq = db.lastInsertedRowID
                    try text.execute(arguments: [seq, body])
                    try log.execute(arguments: [millis, ns, "deposit", seq, 1.0, nil])
                }
                return .commit
            }
            return bodies.count
        }
    }

    /// W2: reinforce notes of `ids` drawn by `zipfRank`, `batch` per
    /// transaction (look up, decay and add, update, log). Returns reinforcements per second.
    func reinforce(ns: String, ids: [String], warmup: Double, duration: Double) throws -> Double {
        let decay = try namespace(ns)
        var rng = SplitMix64(seed: 12)
        return try timed(warmup: warmup, duration: duration) {
            let now = Date().timeIntervalSince1970
            let millis = Int64(now * 1000)
            let picks = (0..<batch).map { _ in ids[zipfRank(rng.unit(), n: ids.count)] }
            try queue.inTransaction { db in
                let find = try db.cachedStatement(sql: "SELECT seq, key FROM note WHERE ns = ? AND id = ?")
                let update = try db.cachedStatement(sql: "UPDATE note SET key = ?, updated_at = ? WHERE seq = ?")
                let log = try Self.logStatement(db)
                for id in picks {
                    guard let row = try Row.fetchOne(find, arguments: [ns, id]) else { throw BenchFailure("raw SQLite: note \(id) is missing") }
                    let seq: Int64 = row[0]
                    try update.execute(arguments: [decay.reinforced(key: row[1], by: 1, at: now), millis, seq])
                    try log.execute(arguments: [millis, ns, "reinforce", seq, 1.0, nil])
                }
                return .commit
            }
            return picks.count
        }
    }

    /// Runs `step` (which returns how many operations it did) until
    /// `warmup + duration` seconds have passed; returns operations per second
    /// over the steps that started after the warm-up.
    private func timed(warmup: Double, duration: Double, _ step: () throws -> Int) throws -> Double {
        let start = monoNanos()
        let countFrom = start + UInt64(warmup * 1e9)
        let stopAt = countFrom + UInt64(duration * 1e9)
        var counted = 0
        var first: UInt64?
        var last = countFrom
        while monoNanos() < stopAt {
            let began = monoNanos()
            let n = try step()
            if began >= countFrom {
                if first == nil { first = began }
                counted += n
                last = monoNanos()
            }
        }
        guard let first, last > first else { return 0 }
        return Double(counted) / (Double(last - first) / 1e9)
    }

    // MARK: reads (W3, W4, W5)

    /// Runs `query` back to back, one read transaction each, for `duration`
    /// seconds after `warmup`; returns the latencies.
    private func latency(warmup: Double, duration: Double, _ query: (Database) throws -> Int) throws -> LatencyHistogram {
        var h = makeHistogram()
        let start = monoNanos()
        let countFrom = start + UInt64(warmup * 1e9)
        let stopAt = countFrom + UInt64(duration * 1e9)
        while true {
            let t0 = monoNanos()
            if t0 >= stopAt { break }
            let n = try queue.read { try query($0) }
            let t1 = monoNanos()
            if n == 0 { throw BenchFailure("raw SQLite: a read found nothing; the data set is not loaded") }
            if t0 >= countFrom { _ = h.record(t1 - t0) }
        }
        return h
    }

    /// W3: top 10 by weight (traild's SenseReader SQL, first page).
    func senseLatency(ns: String, warmup: Double, duration: Double) throws -> LatencyHistogram {
        let decay = try namespace(ns)
        let sql = """
            SELECT \(Self.columns) FROM note n INDEXED BY note_by_key WHERE n.ns = ? AND n.state = 0 AND n.key >= ?
            ORDER BY n.key DESC, n.id ASC LIMIT ?
            """
        return try latency(warmup: warmup, duration: duration) { db in
            let now = Date().timeIntervalSince1970
            let rows = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: [ns, decay.thresholdKey(0.05, at: now), 10])
            return Self.decode(rows, decay: decay, now: now)
        }
    }

    /// W4: full-text query of one vocabulary word, top 10 by score
    /// (traild's SenseReader SQL with words).
    func queryLatency(ns: String, warmup: Double, duration: Double) throws -> LatencyHistogram {
        let decay = try namespace(ns)
        var rng = SplitMix64(seed: 44)
        let sql = """
            SELECT \(Self.columns),
                   pow(2.0, n.key - ?) * (1.0 + max(0.0, -bm25(note_text))) * (1.0 + coalesce(n.rank, 0.0)) AS score
            FROM note_text JOIN note n ON n.seq = note_text.rowid
            WHERE note_text MATCH ? AND n.ns = ? AND n.state = 0 AND n.key >= ?
            ORDER BY score DESC, n.id ASC LIMIT ? OFFSET ?
            """
        return try latency(warmup: warmup, duration: duration) { db in
            let now = Date().timeIntervalSince1970
            let word = Vocabulary.words[Int(rng.next() % UInt64(Vocabulary.words.count))]
            let rows = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: [
                decay.offset(at: now), "\"\(word)\"", ns, decay.thresholdKey(0.05, at: now), 10, 0])
            return max(1, Self.decode(rows, decay: decay, now: now))
        }
    }

    /// W5: the 10 strongest trails out of a note, with the notes they lead
    /// to (traild's FollowReader SQL: find the note, read its trails, sort).
    func followLatency(ns: String, ids: [String], warmup: Double, duration: Double) throws -> LatencyHistogram {
        let decay = try namespace(ns)
        var rng = SplitMix64(seed: 55)
        let origin = "SELECT \(Self.columns) FROM note n WHERE n.ns = ? AND n.id = ?"
        let trails = """
            SELECT \(Self.columns), e.key FROM edge e JOIN note n ON n.seq = e.dst
            WHERE e.src = ? AND e.key > -1e300 AND n.state = 0 AND n.key >= ?
            ORDER BY e.key DESC LIMIT ?
            """
        return try latency(warmup: warmup, duration: duration) { db in
            let now = Date().timeIntervalSince1970
            let id = ids[Int(rng.next() % UInt64(ids.count))]
            guard let from = try Row.fetchOne(db.cachedStatement(sql: origin), arguments: [ns, id]) else {
                throw BenchFailure("raw SQLite: note \(id) is missing")
            }
            let seq: Int64 = from[0]
            let rows = try Row.fetchAll(db.cachedStatement(sql: trails), arguments: [seq, decay.thresholdKey(0.05, at: now), 1000])
            let weighted = rows.map { (row: $0, weight: decay.weight(key: $0[15], at: now)) }
                .sorted { $0.weight > $1.weight }
                .prefix(10)
            return 1 + Self.decode(weighted.map(\.row), decay: decay, now: now)
        }
    }

    /// Reads rows of `columns` into Swift values, as traild's NoteRow does; returns how many.
    private static func decode(_ rows: [Row], decay: ForwardDecay, now: Double) -> Int {
        var n = 0
        for row in rows {
            let id: String = row[1]
            let body = String(decoding: row[2] as Data, as: UTF8.self)
            let tags: String = row[3]
            let weight = decay.weight(key: row[5], at: now)
            if !id.isEmpty && !body.isEmpty && weight >= 0 && tags.count >= 0 { n += 1 }
        }
        return n
    }

    // MARK: evaporation (W7)

    /// W7's store work without the archive: delete every faded note of `ns`
    /// (a range read on the key index) with its tags, trails, text and a log
    /// row, `batch` notes per transaction. Returns (seconds, notes removed).
    func evaporate(ns: String, batch: Int) throws -> (seconds: Double, notes: Int) {
        let decay = try namespace(ns)
        let start = monoNanos()
        var total = 0
        while true {
            let now = Date().timeIntervalSince1970
            let millis = Int64(now * 1000)
            var removed = 0
            try queue.inTransaction { db in
                let rows = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT seq, body FROM note n INDEXED BY note_by_key
                    WHERE n.ns = ? AND n.state = 0 AND n.key < ? ORDER BY n.key DESC, n.id LIMIT ?
                    """), arguments: [ns, decay.thresholdKey(0.05, at: now), batch])
                let tags = try db.cachedStatement(sql: "DELETE FROM note_tag WHERE note = ?")
                let out = try db.cachedStatement(sql: "DELETE FROM edge WHERE src = ?")
                let into = try db.cachedStatement(sql: "DELETE FROM edge WHERE dst = ?")
                let text = try db.cachedStatement(sql: "INSERT INTO note_text(note_text, rowid, body) VALUES ('delete', ?, ?)")
                let note = try db.cachedStatement(sql: "DELETE FROM note WHERE seq = ?")
                let log = try Self.logStatement(db)
                for row in rows {
                    let seq: Int64 = row[0]
                    try tags.execute(arguments: [seq])
                    try out.execute(arguments: [seq])
                    try into.execute(arguments: [seq])
                    try text.execute(arguments: [seq, String(decoding: row[1] as Data, as: UTF8.self)])
                    try note.execute(arguments: [seq])
                    try log.execute(arguments: [millis, ns, "evaporate", seq, nil, nil])
                }
                removed = rows.count
                return .commit
            }
            total += removed
            if removed < batch { break }
        }
        return (Double(monoNanos() - start) / 1e9, total)
    }

    func close() throws {
        try queue.close()
    }
}
