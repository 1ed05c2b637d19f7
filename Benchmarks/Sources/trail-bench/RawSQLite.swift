import Foundation
import TrailCore
import TrailSQLite
import TrailStore

/// The embedded store's limit: traild's own schema (made by traild's
/// migrations, through `SQLiteStore`), WAL, `synchronous = FULL`, the same
/// SQL as traild's store, in this process, on one connection of the SQLite C
/// API, with writes batched `batch` to a transaction. No daemon, no socket,
/// no JSON, no thread hops, no database library between the program and SQLite.
final class RawSQLite {
    let path: String
    private let db: SQLiteConnection
    private let batch: Int
    /// seq of each loaded note, by data set and index.
    private var seqs: [String: [Int64]] = [:]

    static let columns = "n.seq, n.id, n.body, n.tags, n.after, n.key, n.state, n.deposits, n.agent, n.rank, n.created_at, n.updated_at, n.retraction_reason, n.retraction_agent, n.retracted_at"

    init(path: String, batch: Int) async throws {
        self.path = path
        self.batch = batch
        // traild's migrations make the file: the schema is the daemon's, not a copy of it.
        let store = try SQLiteStore(path: path, packDirectory: path + ".packs", keyMirror: false)
        await store.close()
        db = try SQLiteConnection(path: path)
        try db.exec("PRAGMA synchronous = FULL")
        let mode = try db.text("PRAGMA journal_mode")
        guard mode == "wal" else { throw BenchFailure("the raw SQLite file is in \(mode ?? "?") mode, not WAL") }
    }

    /// The namespace's decay, creating it (defaults, landmark now) if new.
    func namespace(_ ns: String) throws -> ForwardDecay {
        let find = try db.statement("SELECT half_life_s, landmark FROM namespace WHERE name = ?")
        find.bind([.text(ns)])
        if try find.step() {
            defer { find.reset() }
            return ForwardDecay(halfLife: find.double(0), landmark: find.double(1))
        }
        find.reset()
        let now = Date().timeIntervalSince1970
        try db.statement("""
            INSERT INTO namespace (name, half_life_s, evaporate_below, max_note_bytes, landmark, created_at)
            VALUES (?, 604800, 0.05, 4096, ?, ?)
            """).run([.text(ns), .double(now), .int(Int64(now * 1000))])
        return ForwardDecay(halfLife: 604_800, landmark: now)
    }

    // MARK: loading

    /// Loads notes `range` of `set` into `ns` as traild's import writes them
    /// (note, text, tag, trails, log row), `loadBatch` to a transaction.
    func load(_ set: inout Dataset, range: Range<Int>, ns: String, loadBatch: Int) throws {
        let decay = try namespace(ns)
        var known = seqs[set.name] ?? []
        precondition(known.count == range.lowerBound, "load data sets in order")
        let insert = try db.statement("""
            INSERT INTO note (ns, id, body, tags, after, key, state, deposits, agent, created_at, updated_at)
            VALUES (?, ?, ?, ?, '', ?, 0, 1, NULL, ?, ?)
            """)
        let text = try db.statement("INSERT INTO note_text(rowid, body) VALUES (?, ?)")
        let tag = try db.statement("INSERT OR IGNORE INTO note_tag (ns, tag, note) VALUES (?, ?, ?)")
        let edge = try db.statement("""
            INSERT INTO edge (src, dst, ns, key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (src, dst) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at
            """)
        let log = try logStatement()
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(range.upperBound, i + loadBatch)
            let now = Date().timeIntervalSince1970
            let millis = Int64(now * 1000)
            let notes = (i..<end).map { set.note($0) }
            let ids = (i..<end).map { set.id($0) }
            try db.transaction(write: true) {
                for (n, id) in zip(notes, ids) {
                    try insert.run([.text(ns), .text(id), .blob(n.body), .text(n.tag), .double(decay.key(weight: n.weight, at: now)),
                                    .int(millis), .int(millis)])
                    let seq = db.lastInsertedRowID
                    known.append(seq)
                    try text.run([.int(seq), .text(n.body)])
                    try tag.run([.text(ns), .text(n.tag), .int(seq)])
                    for t in n.trails {
                        try edge.run([.int(seq), .int(known[t.to]), .text(ns), .double(decay.key(weight: t.weight, at: now)),
                                      .int(millis), .int(millis)])
                    }
                    try log.run([.int(millis), .text(ns), .text("import"), .int(seq), .null])
                }
            }
            i = end
        }
        seqs[set.name] = known
    }

    private func logStatement() throws -> SQLiteStatement {
        try db.statement("""
            INSERT INTO write_log (at, ns, op, note, other, delta, detail, agent, uid, pid)
            VALUES (?, ?, ?, ?, NULL, ?, NULL, NULL, NULL, NULL)
            """)
    }

    // MARK: writes (W1, W2)

    /// W1: new deposits (the rows traild writes for a new note: the note,
    /// its text, its log row; the note is inserted first and the unique id
    /// index refuses it if it is there, as traild does), `batch` per
    /// transaction, for `duration` seconds after `warmup`. Returns deposits per second.
    func deposits(ns: String, warmup: Double, duration: Double) throws -> Double {
        let decay = try namespace(ns)
        var rng = SplitMix64(seed: 11)
        var n = 0
        let insert = try db.statement("""
            INSERT INTO note (ns, id, body, tags, after, key, state, deposits, agent, created_at, updated_at)
            VALUES (?, ?, ?, '', '', ?, 0, 1, NULL, ?, ?) ON CONFLICT (ns, id) DO NOTHING
            """)
        let text = try db.statement("INSERT INTO note_text(rowid, body) VALUES (?, ?)")
        let log = try logStatement()
        return try timed(warmup: warmup, duration: duration) {
            let now = Date().timeIntervalSince1970
            let millis = Int64(now * 1000)
            let bodies = (0..<batch).map { _ -> String in
                n += 1
                return "raw deposit \(n): " + Vocabulary.phrase(8, &rng)
            }
            try db.transaction(write: true) {
                for body in bodies {
                    let id = NoteID(body: body).hex
                    try insert.run([.text(ns), .text(id), .blob(body), .double(decay.key(weight: 1, at: now)), .int(millis), .int(millis)])
                    guard db.changes > 0 else { continue }
                    let seq = db.lastInsertedRowID
                    try text.run([.int(seq), .text(body)])
                    try log.run([.int(millis), .text(ns), .text("deposit"), .int(seq), .double(1)])
                }
            }
            return bodies.count
        }
    }

    /// W2: reinforce notes of `ids` drawn by `zipfRank`, `batch` per
    /// transaction (look up, decay and add, update, log). Returns reinforcements per second.
    func reinforce(ns: String, ids: [String], warmup: Double, duration: Double) throws -> Double {
        let decay = try namespace(ns)
        var rng = SplitMix64(seed: 12)
        let find = try db.statement("SELECT seq, key FROM note WHERE ns = ? AND id = ?")
        let update = try db.statement("UPDATE note SET key = ?, updated_at = ? WHERE seq = ?")
        let log = try logStatement()
        return try timed(warmup: warmup, duration: duration) {
            let now = Date().timeIntervalSince1970
            let millis = Int64(now * 1000)
            let picks = (0..<batch).map { _ in ids[zipfRank(rng.unit(), n: ids.count)] }
            try db.transaction(write: true) {
                for id in picks {
                    find.bind([.text(ns), .text(id)])
                    guard try find.step() else { throw BenchFailure("raw SQLite: note \(id) is missing") }
                    let seq = find.int(0)
                    let key = find.double(1)
                    find.reset()
                    try update.run([.double(decay.reinforced(key: key, by: 1, at: now)), .int(millis), .int(seq)])
                    try log.run([.int(millis), .text(ns), .text("reinforce"), .int(seq), .double(1)])
                }
            }
            return picks.count
        }
    }

    /// Runs `step` (which returns how many operations it did) through a
    /// `MeasuringWindow` of `warmup` and `duration` seconds; returns operations
    /// per second over the steps that started after the warm-up.
    private func timed(warmup: Double, duration: Double, _ step: () throws -> Int) throws -> Double {
        let window = MeasuringWindow(warmup: warmup, duration: duration)
        var counted = 0
        var first: UInt64?
        var last = window.countFrom
        while window.isOpen(at: monoNanos(), counted: first != nil) {
            let began = monoNanos()
            let n = try step()
            if began >= window.countFrom {
                if first == nil { first = began }
                counted += n
                last = monoNanos()
            }
        }
        guard let first, last > first else { throw window.nothingMeasured("raw SQLite writes") }
        return Double(counted) / (Double(last - first) / 1e9)
    }

    // MARK: reads (W3, W4, W5)

    /// Runs `query` back to back, one read transaction each, for `duration`
    /// seconds after `warmup`; returns the latencies.
    private func latency(warmup: Double, duration: Double, _ query: () throws -> Int) throws -> LatencyHistogram {
        var h = makeHistogram()
        let window = MeasuringWindow(warmup: warmup, duration: duration)
        while true {
            let t0 = monoNanos()
            if !window.isOpen(at: t0, counted: h.totalCount > 0) { break }
            let n = try db.transaction(write: false) { try query() }
            let t1 = monoNanos()
            if n == 0 { throw BenchFailure("raw SQLite: a read found nothing; the data set is not loaded") }
            if t0 >= window.countFrom { _ = h.record(t1 - t0) }
        }
        if h.totalCount == 0 { throw window.nothingMeasured("raw SQLite reads") }
        return h
    }

    /// Reads the rows of `statement` (columns as `columns`, then `extra`
    /// more) into Swift values, as traild's NoteRow does; returns them with
    /// their weights and the extra column (a trail key or a score).
    private static func notes(_ s: SQLiteStatement, decay: ForwardDecay, now: Double, extra: Bool = false) throws -> [DecodedNote] {
        var out: [DecodedNote] = []
        while try s.step() {
            out.append(DecodedNote(
                seq: s.int(0), id: s.text(1), body: s.blobText(2), tags: s.text(3), after: s.text(4),
                weight: decay.weight(key: s.double(5), at: now), state: s.int(6), deposits: s.int(7),
                agent: s.isNull(8) ? nil : s.text(8), rank: s.isNull(9) ? nil : s.double(9),
                createdAt: s.int(10), updatedAt: s.int(11), extra: extra ? s.double(15) : 0))
        }
        s.reset()
        return out
    }

    /// W3: top 10 by weight (traild's SenseReader SQL, first page).
    func senseLatency(ns: String, warmup: Double, duration: Double) throws -> LatencyHistogram {
        let decay = try namespace(ns)
        let sense = try db.statement("""
            SELECT \(Self.columns) FROM note n INDEXED BY note_by_key WHERE n.ns = ? AND n.state = 0 AND n.key >= ?
            ORDER BY n.key DESC, n.id ASC LIMIT ?
            """)
        return try latency(warmup: warmup, duration: duration) {
            let now = Date().timeIntervalSince1970
            sense.bind([.text(ns), .double(decay.thresholdKey(0.05, at: now)), .int(10)])
            return try Self.notes(sense, decay: decay, now: now).count
        }
    }

    /// W4: full-text query of one vocabulary word, top 10 by score
    /// (traild's SenseReader SQL with words).
    func queryLatency(ns: String, warmup: Double, duration: Double) throws -> LatencyHistogram {
        let decay = try namespace(ns)
        var rng = SplitMix64(seed: 44)
        let query = try db.statement("""
            SELECT \(Self.columns),
                   pow(2.0, n.key - ?) * (1.0 + max(0.0, -bm25(note_text))) * (1.0 + coalesce(n.rank, 0.0)) AS score
            FROM note_text JOIN note n ON n.seq = note_text.rowid
            WHERE note_text MATCH ? AND n.ns = ? AND n.state = 0 AND n.key >= ?
            ORDER BY score DESC, n.id ASC LIMIT ? OFFSET ?
            """)
        return try latency(warmup: warmup, duration: duration) {
            let now = Date().timeIntervalSince1970
            let word = Vocabulary.words[Int(rng.next() % UInt64(Vocabulary.words.count))]
            query.bind([.double(decay.offset(at: now)), .text("\"\(word)\""), .text(ns), .double(decay.thresholdKey(0.05, at: now)),
                        .int(10), .int(0)])
            return max(1, try Self.notes(query, decay: decay, now: now, extra: true).count)
        }
    }

    /// W5: the 10 strongest trails out of a note, with the notes they lead
    /// to (traild's FollowReader SQL: find the note, read its trails, sort).
    func followLatency(ns: String, ids: [String], warmup: Double, duration: Double) throws -> LatencyHistogram {
        let decay = try namespace(ns)
        var rng = SplitMix64(seed: 55)
        let origin = try db.statement("SELECT \(Self.columns) FROM note n WHERE n.ns = ? AND n.id = ?")
        let trails = try db.statement("""
            SELECT \(Self.columns), e.key FROM edge e JOIN note n ON n.seq = e.dst
            WHERE e.src = ? AND e.key > -1e300 AND n.state = 0 AND n.key >= ?
            ORDER BY e.key DESC LIMIT ?
            """)
        return try latency(warmup: warmup, duration: duration) {
            let now = Date().timeIntervalSince1970
            let id = ids[Int(rng.next() % UInt64(ids.count))]
            origin.bind([.text(ns), .text(id)])
            guard let from = try Self.notes(origin, decay: decay, now: now).first else {
                throw BenchFailure("raw SQLite: note \(id) is missing")
            }
            trails.bind([.int(from.seq), .double(decay.thresholdKey(0.05, at: now)), .int(1000)])
            let found = try Self.notes(trails, decay: decay, now: now, extra: true)
            var weighted: [(note: DecodedNote, weight: Double)] = []
            for note in found { weighted.append((note, decay.weight(key: note.extra, at: now))) }
            weighted.sort { a, b in a.weight > b.weight || (a.weight == b.weight && a.note.id < b.note.id) }
            return 1 + weighted.prefix(10).count
        }
    }

    // MARK: evaporation (W7)

    /// W7's store work without the archive: delete every faded note of `ns`
    /// (a range read on the key index) with its tags, trails, text and a log
    /// row, `batch` notes per transaction. Returns (seconds, notes removed).
    func evaporate(ns: String, batch: Int) throws -> (seconds: Double, notes: Int) {
        let decay = try namespace(ns)
        let faded = try db.statement("""
            SELECT seq, body FROM note n INDEXED BY note_by_key
            WHERE n.ns = ? AND n.state = 0 AND n.key < ? ORDER BY n.key DESC, n.id LIMIT ?
            """)
        let tags = try db.statement("DELETE FROM note_tag WHERE note = ?")
        let out = try db.statement("DELETE FROM edge WHERE src = ?")
        let into = try db.statement("DELETE FROM edge WHERE dst = ?")
        let text = try db.statement("INSERT INTO note_text(note_text, rowid, body) VALUES ('delete', ?, ?)")
        let note = try db.statement("DELETE FROM note WHERE seq = ?")
        let log = try logStatement()
        let start = monoNanos()
        var total = 0
        while true {
            let now = Date().timeIntervalSince1970
            let millis = Int64(now * 1000)
            let removed = try db.transaction(write: true) { () throws -> Int in
                faded.bind([.text(ns), .double(decay.thresholdKey(0.05, at: now)), .int(Int64(batch))])
                var rows: [(Int64, String)] = []
                while try faded.step() { rows.append((faded.int(0), faded.blobText(1))) }
                faded.reset()
                for (seq, body) in rows {
                    try tags.run([.int(seq)])
                    try out.run([.int(seq)])
                    try into.run([.int(seq)])
                    try text.run([.int(seq), .text(body)])
                    try note.run([.int(seq)])
                    try log.run([.int(millis), .text(ns), .text("evaporate"), .int(seq), .null])
                }
                return rows.count
            }
            total += removed
            if removed < batch { break }
        }
        return (Double(monoNanos() - start) / 1e9, total)
    }

    func close() throws {}
}

/// A note row read back, the values traild's NoteRow holds.
struct DecodedNote {
    var seq: Int64
    var id: String
    var body: String
    var tags: String
    var after: String
    var weight: Double
    var state: Int64
    var deposits: Int64
    var agent: String?
    var rank: Double?
    var createdAt: Int64
    var updatedAt: Int64
    /// The column after the note's: a trail's key, or a score.
    var extra: Double
}
