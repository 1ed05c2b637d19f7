import Foundation
import NIOCore
import PostgresNIO
import TrailCore
import TrailPostgres

/// The PostgreSQL engine's limit: the statements traild's engine runs
/// (Sources/TrailPostgres: PostgresCommit, DepositBatch, PostgresWrites,
/// PostgresReads, as of commit acd2809), on a database made by its own
/// migrations, from this process through postgres-nio on one connection,
/// with no daemon, socket or JSON-RPC, and writes batched `batch` to a
/// transaction. The engine's earlier statements (one insert per deposit;
/// a sense in two statements) run beside them, to show what each change bought.
final class RawPostgres {
    let link: PostgresLink
    let ns: String

    /// The engine's migrations make the schema (a `PostgresStore` opened
    /// and closed), so tables and indexes are the daemon's; then one
    /// connection of this process.
    static func make(_ location: PostgresLocation, ns: String = "default") async throws -> RawPostgres {
        do {
            let store = try PostgresStore(location: location, daemon: "trail-bench-migrate")
            await store.close()
        } catch {
            throw BenchFailure("the PostgreSQL engine could not open \(location.redacted): \(error)")
        }
        return RawPostgres(link: try await PostgresLink.connect(location, name: "trail-bench-raw"), ns: ns)
    }

    init(link: PostgresLink, ns: String) {
        self.link = link
        self.ns = ns
    }

    func close() async { await link.close() }

    // MARK: round trips

    /// `SELECT 1`, `count` times one after another: through async/await (as
    /// the engine's readers and this peer run statements), then by blocking
    /// a thread on each statement's future (as the engine's writer,
    /// `BlockingSession`, does). Latencies of each.
    func roundTrips(count: Int) async throws -> (async: LatencyHistogram, blocking: LatencyHistogram) {
        var asyncTimes = makeHistogram()
        for i in 0..<(count + count / 10) {
            let t0 = monoNanos()
            try await link.rows("SELECT 1")
            if i >= count / 10 { _ = asyncTimes.record(monoNanos() - t0) }
        }
        let connection = link.connection
        let logger = link.logger
        let blocking = try await withCheckedThrowingContinuation { (done: CheckedContinuation<LatencyHistogram, any Error>) in
            Thread.detachNewThread {
                var h = makeHistogram()
                do {
                    for i in 0..<(count + count / 10) {
                        let t0 = monoNanos()
                        _ = try connection.query("SELECT 1", logger: logger).wait()
                        if i >= count / 10 { _ = h.record(monoNanos() - t0) }
                    }
                    done.resume(returning: h)
                } catch {
                    done.resume(throwing: BenchFailure("SELECT 1 failed: \(error)"))
                }
            }
        }
        return (asyncTimes, blocking)
    }

    // MARK: W1

    /// How a transaction of new deposits goes to the server.
    enum Statements: String, Codable, Sendable {
        /// As the engine (`PostgresCommit` with `DepositBatch`, since commit
        /// 23faa11): the clock and the namespace `FOR SHARE` in one
        /// statement, every new note in one `INSERT ... SELECT FROM unnest`,
        /// the write log and the signals in one statement.
        case engine
        /// As the engine did before 23faa11: the clock, the namespace, one
        /// `INSERT ... VALUES ... RETURNING seq` per deposit, the write log,
        /// the signals, each a statement.
        case perDeposit
    }

    /// New deposits, `batch` to a transaction, for `duration` seconds after
    /// `warmup`; returns deposits per second over the transactions that
    /// started after the warm-up, how many transactions and deposits those were.
    ///
    /// A transaction is what the engine sends for a group of new deposits of
    /// one namespace (`BEGIN` ... `COMMIT`), each deposit with its SHA-256
    /// id, its folded search text and its key at the database's `now`.
    func deposits(batch: Int, statements: Statements, warmup: Double, duration: Double) async throws -> (rate: Double, transactions: Int, deposits: Int) {
        var rng = SplitMix64(seed: statements == .engine ? 21 : 22)
        var n = 0
        let window = MeasuringWindow(warmup: warmup, duration: duration)
        var counted = 0
        var transactions = 0
        var first: UInt64?
        var last = window.countFrom
        let prefix = "raw pg \(statements.rawValue) "
        while window.isOpen(at: monoNanos(), counted: first != nil) {
            let began = monoNanos()
            let bodies = (0..<batch).map { _ -> String in
                n += 1
                return prefix + String(n) + ": " + Vocabulary.phrase(8, &rng)
            }
            try await link.run("BEGIN")
            do {
                switch statements {
                case .engine: try await engineGroup(bodies)
                case .perDeposit: try await perDepositGroup(bodies)
                }
                try await link.run("COMMIT")
            } catch {
                try? await link.run("ROLLBACK")
                throw error
            }
            if began >= window.countFrom {
                if first == nil { first = began }
                counted += bodies.count
                transactions += 1
                last = monoNanos()
            }
        }
        guard let first, last > first else { throw window.nothingMeasured("raw PostgreSQL writes") }
        return (Double(counted) / (Double(last - first) / 1e9), transactions, counted)
    }

    /// `DepositBatch.insert`, then `PostgresWrites.flushLog(signals:)`: three statements for the group.
    private func engineGroup(_ bodies: [String]) async throws {
        let head = try await link.rows("""
            SELECT extract(epoch FROM clock_timestamp())::float8, s.*
            FROM (SELECT 1) one LEFT JOIN LATERAL (
                SELECT name, half_life_s, evaporate_below, max_note_bytes, landmark FROM namespace WHERE name = ANY(\([ns])::text[]) FOR SHARE) s ON true
            """)
        let now = try head[0][0].decode(Double.self)
        guard try head[0][1].decode(String?.self) != nil else { throw BenchFailure("raw PostgreSQL: namespace \(ns) is missing") }
        let decay = ForwardDecay(halfLife: try head[0][2].decode(Double.self), landmark: try head[0][5].decode(Double.self))
        let millis = Timestamp.millis(now)
        let ids = bodies.map { NoteID(body: $0).hex }
        let key = decay.key(weight: 1, at: now)
        let count = bodies.count
        let inserted = try await link.rows("""
            INSERT INTO note (ns, id, body, words, tags, after, key, state, deposits, agent, created_at, updated_at)
            SELECT d.ns, d.id, d.body, to_tsvector('english', d.text), d.tags, '', d.key, 0, 1, NULLIF(d.agent, ''), \(millis), \(millis)
            FROM unnest(\(Array(repeating: ns, count: count))::text[], \(ids)::text[], \(bodies.map { ByteBuffer(string: $0) })::bytea[],
                        \(bodies.map(Self.searchText))::text[], \(Array(repeating: "", count: count))::text[],
                        \(Array(repeating: key, count: count))::float8[], \(Array(repeating: "", count: count))::text[])
                AS d(ns, id, body, text, tags, key, agent)
            ON CONFLICT (ns, id) DO NOTHING RETURNING ns, id, seq
            """)
        guard inserted.count == count else { throw BenchFailure("raw PostgreSQL: \(count - inserted.count) new deposits were already there") }
        let seqs = try inserted.map { try $0[2].decode(Int64.self) }
        try await link.rows(Self.writeLog(seqs: seqs, ns: ns, at: millis, signal: true))
    }

    /// The engine before 23faa11: a statement per deposit.
    private func perDepositGroup(_ bodies: [String]) async throws {
        let now = try await link.rows("SELECT extract(epoch FROM clock_timestamp())::float8")[0][0].decode(Double.self)
        let millis = Timestamp.millis(now)
        guard let nsRow = try await link.rows("""
            SELECT name, half_life_s, evaporate_below, max_note_bytes, landmark FROM namespace WHERE name = \(ns) FOR SHARE
            """).first else { throw BenchFailure("raw PostgreSQL: namespace \(ns) is missing") }
        let decay = ForwardDecay(halfLife: try nsRow[1].decode(Double.self), landmark: try nsRow[4].decode(Double.self))
        let key = decay.key(weight: 1, at: now)
        var seqs: [Int64] = []
        var ids: [String] = []
        for body in bodies {
            let id = NoteID(body: body).hex
            let agent: String? = nil
            let rows = try await link.rows("""
                INSERT INTO note (ns, id, body, words, tags, after, key, state, deposits, agent, created_at, updated_at)
                VALUES (\(ns), \(id), \(ByteBuffer(string: body)), to_tsvector('english', \(Self.searchText(body))),
                        \(""), \(""), \(key), 0, 1, \(agent), \(millis), \(millis))
                ON CONFLICT (ns, id) DO NOTHING RETURNING seq
                """)
            guard let row = rows.first else { throw BenchFailure("raw PostgreSQL: a new deposit was already there") }
            seqs.append(try row[0].decode(Int64.self))
            ids.append(id)
        }
        try await link.rows(Self.writeLog(seqs: seqs, ns: ns, at: millis, signal: false))
        let signals = ids.map { "trail-bench:raw deposited \(ns) \($0)" }
        try await link.rows("SELECT pg_notify('trail_events', p) FROM unnest(\(signals)::text[]) p")
    }

    /// The engine's search text (`SearchText.of`): diacritics folded away, U+0000 as a space.
    static func searchText(_ body: String) -> String {
        body.folding(options: .diacriticInsensitive, locale: nil).replacingOccurrences(of: "\u{0}", with: " ")
    }

    /// `PostgresWrites.flushLog(signal:)`: the group's write-log rows as one
    /// JSON array, inserted by the statement that returns their seqs and
    /// sends the signal (one `pg_notify` of the range of seqs). The engine
    /// before 23faa11 sent a signal per write in a statement of its own
    /// (`signal` false, then a `pg_notify` statement).
    static func writeLog(seqs: [Int64], ns: String, at millis: Int64, signal: Bool, op: StaticString = "deposit",
                         daemon: String = "trail-bench:raw") -> PostgresQuery {
        var json = JSONText()
        json.append(byte: UInt8(ascii: "["))
        for (i, seq) in seqs.enumerated() {
            if i > 0 { json.append(byte: UInt8(ascii: ",")) }
            json.append(#"{"ns":"#)
            json.string(ns)
            json.append(#","op":""#)
            json.append(op)
            json.append(#"","note":"#)
            json.integer(seq)
            json.append(#","other":null,"delta":1,"detail":null,"agent":null,"uid":null,"pid":null}"#)
        }
        json.append(byte: UInt8(ascii: "]"))
        return """
            WITH logged AS (
                INSERT INTO write_log (at, ns, op, note, other, delta, detail, agent, uid, pid, daemon)
                SELECT \(millis), x.ns, x.op, x.note, x.other, x.delta, x.detail, x.agent, x.uid, x.pid, \(daemon)
                FROM jsonb_to_recordset(\(String(decoding: json.bytes, as: UTF8.self))::jsonb)
                    AS x(ns text, op text, note int8, other int8, delta float8, detail text, agent text, uid int8, pid int8)
                RETURNING seq)
            SELECT array_agg(seq ORDER BY seq), CASE WHEN \(signal) THEN pg_notify('trail_events',
                \(daemon)::text || ' ' || min(seq)::text || ' ' || max(seq)::text) END
            FROM logged
            """
    }

    // MARK: W3

    /// The columns the engine reads for a note (`noteColumns`).
    static let noteColumns = """
        n.seq, n.id, n.body, n.tags, n.after, n.key, n.state, n.deposits, n.agent, n.rank, n.created_at, n.updated_at, \
        n.retraction_reason, n.retraction_agent, n.retracted_at, n.block, n.archived_at
        """

    /// How a sense by weight goes to the server.
    enum SenseStatements: String, Codable, Sendable {
        /// As the engine (`PostgresReads.firstPageByWeight`, since commit
        /// acd2809): the clock, the namespace and the page in one statement,
        /// the floor key computed in SQL.
        case engine
        /// As the engine did before acd2809: the clock and the namespace,
        /// then the page with the floor key bound (two round trips).
        case twoStatements
    }

    /// Top 10 by weight, one sense after another, for `duration` seconds
    /// after `warmup`, each row decoded as `NoteRow(postgres:)` does
    /// (`note_by_key` from the top, above the faded threshold).
    func senseLatency(ns: String, statements: SenseStatements, warmup: Double, duration: Double) async throws -> LatencyHistogram {
        let settingsSQL = """
            SELECT extract(epoch FROM clock_timestamp())::float8, name, half_life_s, evaporate_below, max_note_bytes, landmark
            FROM (SELECT 1) one LEFT JOIN namespace ON name = $1
            """
        let pageSQL = "SELECT \(Self.noteColumns) FROM note n WHERE n.ns = $1 AND n.state = 0 AND n.key >= $2 ORDER BY n.key DESC, n.id ASC LIMIT $3"
        var h = makeHistogram()
        let window = MeasuringWindow(warmup: warmup, duration: duration)
        while true {
            let t0 = monoNanos()
            if !window.isOpen(at: t0, counted: h.totalCount > 0) { break }
            var binds = PostgresBindings()
            binds.append(ns)
            let rows: [PostgresRandomAccessRow]
            let now: Double
            let decay: ForwardDecay
            let o: Int  // where the note's columns start
            switch statements {
            case .engine:
                // The engine's own statement, prepared once on this connection as the engine does.
                rows = try await link.connection.rows(FirstPageByWeight<FirstPageOf10>(ns: ns), timeout: .seconds(60), logger: link.logger)
                guard let head = rows.first else { throw BenchFailure("raw PostgreSQL: namespace \(ns) is missing") }
                now = try head[0].decode(Double.self)
                decay = ForwardDecay(halfLife: try head[2].decode(Double.self), landmark: try head[5].decode(Double.self))
                o = firstPageNoteColumn
            case .twoStatements:
                let head = try await link.rows(PostgresQuery(unsafeSQL: settingsSQL, binds: binds))[0]
                guard try head[1].decode(String?.self) != nil else { throw BenchFailure("raw PostgreSQL: namespace \(ns) is missing") }
                now = try head[0].decode(Double.self)
                decay = ForwardDecay(halfLife: try head[2].decode(Double.self), landmark: try head[5].decode(Double.self))
                binds.append(decay.thresholdKey(try head[3].decode(Double.self), at: now))
                binds.append(Int64(10))
                rows = try await link.rows(PostgresQuery(unsafeSQL: pageSQL, binds: binds))
                o = 0
            }
            var decoded = 0
            for row in rows where try row[o].decode(Int64?.self) != nil {
                let note = try DecodedNote(
                    seq: row[o].decode(Int64.self), id: row[o + 1].decode(String.self), body: String(buffer: row[o + 2].decode(ByteBuffer.self)),
                    tags: row[o + 3].decode(String.self), after: row[o + 4].decode(String.self),
                    weight: decay.weight(key: row[o + 5].decode(Double.self), at: now), state: row[o + 6].decode(Int64.self),
                    deposits: row[o + 7].decode(Int64.self), agent: row[o + 8].decode(String?.self), rank: row[o + 9].decode(Double?.self),
                    createdAt: row[o + 10].decode(Int64.self), updatedAt: row[o + 11].decode(Int64.self), extra: 0)
                _ = (try row[o + 12].decode(String?.self), try row[o + 13].decode(String?.self), try row[o + 14].decode(Int64?.self))
                if note.weight > 0 { decoded += 1 }
            }
            let t1 = monoNanos()
            guard decoded == 10 else { throw BenchFailure("raw PostgreSQL: sense found \(decoded) notes, not 10; the data set is not loaded") }
            if t0 >= window.countFrom { _ = h.record(t1 - t0) }
        }
        if h.totalCount == 0 { throw window.nothingMeasured("raw PostgreSQL sense") }
        return h
    }
}
