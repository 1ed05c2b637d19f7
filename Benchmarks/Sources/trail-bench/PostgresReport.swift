import Foundation

/// Renders the postgres phase: `postgres.md` (the tables, the costs, the
/// goals) and `postgres.json` (every figure).
struct PostgresReport {
    let results: PostgresResults

    func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try markdown.write(toFile: dir + "/postgres.md", atomically: true, encoding: .utf8)
        try writeJSON(results, to: dir + "/postgres.json")
        print(markdown)
    }

    private func rows(_ workload: String) -> [TableRow] { results.rows.filter { $0.workload == workload } }


    private func p99(_ m: Measure?) -> String { m?.latency.map { Format.ms($0.p99) } ?? "—" }

    private func latRatio(_ row: TableRow, _ peer: String) -> String {
        guard row.peers[peer] != nil else { return "—" }
        return "\(Format.ratio(row.ratio(peer, percentile: 50))) / \(Format.ratio(row.ratio(peer, percentile: 99)))"
    }

    /// Two daemons' total rate over one daemon's.
    private func twoOverOne(_ row: TableRow) -> Double? {
        guard let two = row.peers[PostgresPeer.twoDaemons]?.value, let one = row.trail.value, one > 0 else { return nil }
        return two / one
    }

    private func micros(_ x: Double?) -> String {
        guard let x else { return "—" }
        return x >= 100 ? String(format: "%.0f", x) : String(format: "%.1f", x)
    }

    var markdown: String {
        let r = results
        let m = r.machine
        let target = r.profile == .quick ? "make bench-postgres" : "trail-bench --\(r.profile.rawValue) --only postgres"
        let settings = r.server.settings.map { "`\($0.name)` \($0.value)" }.joined(separator: ", ")
        var s = """
            # trail on PostgreSQL: \(r.profile.rawValue) run (`\(target)`)

            traild on its PostgreSQL engine, measured beside the engine's limit (raw PostgreSQL: the engine's own
            statements from one process through postgres-nio, without a daemon, a socket or JSON), two daemons on one
            database, and traild on its embedded SQLite store, in one run on one machine, one system at a time.
            A **ratio** is traild on PostgreSQL's speed over the peer's: **above 1.00x traild on PostgreSQL is faster**
            (rates: traild ÷ peer; latencies: peer ÷ traild).

            - **When**: \(r.startedAt), \(Int(r.seconds ?? 0)) s in all
            - **Machine**: \(m.cpu), \(m.cores) cores, \(String(format: "%.0f", m.memoryGiB)) GiB, \(m.kernel); load average \(m.loadAverageStart) at the start, \(m.loadAverageEnd ?? "?") at the end (other work on the machine shows here)
            - **Versions**: traild \(m.traild)\(m.commit.map { " (commit \($0))" } ?? ""), PostgreSQL \(r.server.version), SQLite \(m.sqlite)\(m.swift.map { ", \($0)" } ?? "")
            - **Server**: \(r.server.origin); \(settings)
            - **Disks**: PostgreSQL's data dir on \(r.server.filesystem)\(r.server.dataDir.map { " (`\($0)`)" } ?? ""); SQLite's stores on \(r.server.sqliteFilesystem); \(Format.rate(r.fsyncPerSecond)) fdatasync/s (4 KiB appends) there
            - **Runs**: \(Format.secs(r.warmup)) warm-up, then \(Format.secs(r.duration)) measured; pipeline depth \(r.pipeline); store sizes \(r.sizes.map(Format.count).joined(separator: ", ")) notes
            - **Round trip** (`SELECT 1` from this program through postgres-nio, p50 / p99): \(Format.ms(r.roundTrip.async.p50 * 1000)) / \(Format.ms(r.roundTrip.async.p99 * 1000)) µs with async/await, \(Format.ms(r.roundTrip.blocking.p50 * 1000)) / \(Format.ms(r.roundTrip.blocking.p99 * 1000)) µs blocking a thread on the future (as the engine's writer does)

            ## Durable writes: W1 new deposits (an acknowledged write is committed, WAL flushed)

            Raw PostgreSQL runs the engine's statements for a group of new deposits, from this program, with
            \(Format.count(r.rawBatch)) deposits per transaction (traild's mean group at \(rows("W1").last?.title.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "the most clients")):
            `BEGIN`; the clock with the namespace `FOR SHARE`; every new note in one `INSERT ... SELECT FROM unnest(...)
            ON CONFLICT (ns, id) DO NOTHING RETURNING ns, id, seq` (with `to_tsvector`); the write-log rows (one
            `jsonb_to_recordset` insert, returning their seqs) with the signal (one `pg_notify` of the range) in one statement; `COMMIT`. "Per deposit" is the engine's
            statements before commit 23faa11 (the clock, the namespace, one `INSERT ... VALUES ... RETURNING seq` per
            deposit, the write log, the notifies), batched the same way: what batching the inserts bought.

            | workload | traild on PostgreSQL | two daemons, one database | two ÷ one | traild on SQLite | × SQLite | raw PostgreSQL, engine's SQL | × raw | raw, per deposit | × | disk syncs | p99 ms: PG / two / SQLite |
            |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|

            """
        for row in rows("W1") {
            s += "| \(row.workload) \(row.title) | \(rateCell(row.trail)) | \(rateCell(row.peers[PostgresPeer.twoDaemons])) | \(Format.ratio(twoOverOne(row))) | "
            s += "\(rateCell(row.peers[PostgresPeer.sqlite])) | \(Format.ratio(row.ratio(PostgresPeer.sqlite))) | "
            for peer in [PostgresPeer.raw, PostgresPeer.rawPerDeposit] {
                s += "\(rateCell(row.peers[peer])) | \(Format.ratio(row.ratio(peer))) | "
            }
            s += "\(rateCell(row.peers[PostgresPeer.fsync])) | \(p99(row.trail)) / \(p99(row.peers[PostgresPeer.twoDaemons])) / \(p99(row.peers[PostgresPeer.sqlite])) |\n"
        }
        s += """

            ### What a deposit costs

            Groups are traild's write transactions, counted from its write-log rows (one instant per group and daemon);
            CPU is per deposit over each whole run (warm-up included), from /proc: the daemons, every process of the
            PostgreSQL server (backends, WAL writer...), and this program (the load generator, or the raw peer itself).

            | run | clients | deposits/s | groups: count, mean / p50 / max | traild CPU µs | PostgreSQL CPU µs | trail-bench CPU µs |
            |---|---:|---:|---:|---:|---:|---:|

            """
        for w in r.writes {
            let g = w.groups.map { "\(Format.count($0.count)), \(String(format: "%.1f", $0.mean)) / \($0.p50) / \($0.max)" } ?? "—"
            s += "| \(w.system) | \(w.clients.map(String.init) ?? "—") | \(Format.rate(w.perSecond)) | \(g) | \(micros(w.traildMicros)) | \(micros(w.postgresMicros)) | \(micros(w.benchMicros)) |\n"
        }
        s += """

            ## Reads (1 client, sequential; latency p50 / p99 / p99.9 in ms; ratios at p50 / p99)

            Raw PostgreSQL's sense is the engine's statement (`PostgresReads.firstPageByWeight`: the clock, the namespace
            and the first page of `note_by_key` from the top in one round trip, `LIMIT 10`, the rows decoded), prepared
            once on its connection as the engine prepares it on each of its own (since issue 24: planned once, not per
            sense); "two statements" is the engine's before commit acd2809 (the clock and the namespace, then the page,
            each planned every time). "The engine in process" is `PostgresStore.sense` called from this program on an
            event loop, as traild calls it, without the socket, JSON-RPC and the daemon around it.

            | workload | notes | traild on PostgreSQL | raw, engine's statement | × raw | the engine in process | × engine | raw, two statements | × raw | traild on SQLite | × SQLite |
            |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|

            """
        for row in rows("W3") + rows("W4") {
            s += "| \(row.workload) \(row.title) | \(row.notes.map(Format.count) ?? "") | \(latencyCell(row.trail)) | "
            s += "\(latencyCell(row.peers[PostgresPeer.raw])) | \(latRatio(row, PostgresPeer.raw)) | "
            s += "\(latencyCell(row.peers[PostgresPeer.engine])) | \(latRatio(row, PostgresPeer.engine)) | \(latencyCell(row.peers[PostgresPeer.rawTwo])) | \(latRatio(row, PostgresPeer.rawTwo)) | "
            s += "\(latencyCell(row.peers[PostgresPeer.sqlite])) | \(latRatio(row, PostgresPeer.sqlite)) |\n"
        }
        s += """

            ## Mixed load

            | workload | notes | traild on PostgreSQL | traild on SQLite | × SQLite | PostgreSQL p50 / p99 / p99.9 ms | SQLite p50 / p99 / p99.9 ms |
            |---|---:|---:|---:|---:|---:|---:|

            """
        for row in rows("W6") {
            s += "| \(row.workload) \(row.title) | \(row.notes.map(Format.count) ?? "") | \(rateCell(row.trail)) | \(rateCell(row.peers[PostgresPeer.sqlite])) | "
            s += "\(Format.ratio(row.ratio(PostgresPeer.sqlite))) | \(latencyCell(row.trail)) | \(latencyCell(row.peers[PostgresPeer.sqlite])) |\n"
            s += "\n"
            for how in [row.trail.how, row.peers[PostgresPeer.sqlite]?.how].compactMap({ $0 }) { s += "- \(how)\n" }
        }
        s += """

            ### What a read costs

            CPU per request over each whole run (warm-up included), from /proc: the daemon (or this program, for the raw
            peer) and every process of the PostgreSQL server.

            | workload | notes | system | requests/s | daemon CPU µs | PostgreSQL CPU µs | trail-bench CPU µs |
            |---|---:|---|---:|---:|---:|---:|

            """
        for c in r.reads {
            s += "| \(c.workload) | \(Format.count(c.notes)) | \(c.system) | \(Format.rate(c.perSecond)) | \(micros(c.traildMicros)) | \(micros(c.postgresMicros)) | \(micros(c.benchMicros)) |\n"
        }
        s += """

            ## Loading (not measured)

            PostgreSQL is loaded in SQL in the rows the engine's `trail.import` writes (notes with their `words`
            tsvector and keys at the database's clock, tags, trails, import log rows; 5,000 notes per transaction), then
            `VACUUM ANALYZE` and a `CHECKPOINT`; traild on SQLite through `trail.import`. Checked first: \(r.preloadCheck).

            | notes | PostgreSQL (SQL preload) | traild on SQLite (trail.import) |
            |---:|---:|---:|

            """
        for step in r.preload {
            s += "| \(Format.count(step.notes)) | \(Format.secs(step.postgresSeconds)) | \(Format.secs(step.sqliteSeconds)) |\n"
        }
        s += extendedWindows(r.rows, duration: r.duration)
        s += "\n## Goals and comparisons\n\n"
        for goal in goals {
            let mark = goal.met.map { $0 ? " — met" : " — **not met**" } ?? ""
            s += "- \(goal.text): \(goal.figure)\(mark)\n"
        }
        return s
    }

    /// The targets (met or not) and the comparisons asked for (no target).
    var goals: [(text: String, figure: String, met: Bool?)] {
        var out: [(String, String, Bool?)] = []
        if let w1 = rows("W1").last {
            let raw = w1.ratio(PostgresPeer.raw)
            out.append(("traild on PostgreSQL ÷ raw PostgreSQL batched, \(w1.title) ≥ 0.5x", Format.ratio(raw), raw.map { $0 >= 0.5 }))
            out.append(("the same ÷ raw PostgreSQL with the engine's statements before 23faa11, one INSERT per deposit (no target)", Format.ratio(w1.ratio(PostgresPeer.rawPerDeposit)), nil))
            out.append(("two daemons on one database ÷ one daemon, \(w1.title) (no target)", Format.ratio(twoOverOne(w1)), nil))
            out.append(("traild on PostgreSQL ÷ traild on SQLite, \(w1.title) (no target)", Format.ratio(w1.ratio(PostgresPeer.sqlite)), nil))
        }
        if let w3 = rows("W3").last {
            let size = w3.notes ?? 0
            let p99 = w3.trail.latency?.p99
            let at = size >= 100_000 ? "" : " (largest size of this run: \(Format.count(size)) notes; `make bench-postgres` measures 100k)"
            out.append(("sense top 10 p99 ≤ 2 ms at 100k notes", (p99.map { Format.ms($0) + " ms" } ?? "—") + at, size >= 100_000 ? p99.map { $0 <= 2 } : nil))
            let p50 = w3.trail.latency?.p50
            out.append(("sense top 10 p50 ≤ 0.3 ms at 100k notes", (p50.map { Format.ms($0) + " ms" } ?? "—") + at, size >= 100_000 ? p50.map { $0 <= 0.3 } : nil))
            out.append(("sense top 10 at \(Format.count(size)), traild on PostgreSQL ÷ traild on SQLite, p50 / p99 (no target)", latRatio(w3, PostgresPeer.sqlite), nil))
            out.append(("sense top 10 at \(Format.count(size)), traild on PostgreSQL ÷ the engine's statement in process, p50 / p99 (no target)", latRatio(w3, PostgresPeer.raw), nil))
        }
        if let w4 = rows("W4").last {
            out.append(("full-text sense at \(Format.count(w4.notes ?? 0)), traild on PostgreSQL ÷ traild on SQLite, p50 / p99 (no target)", latRatio(w4, PostgresPeer.sqlite), nil))
        }
        for w6 in rows("W6") {
            out.append(("W6 mix (\(w6.title.components(separatedBy: " / ").first ?? w6.title)) at \(Format.count(w6.notes ?? 0)), traild on PostgreSQL ÷ traild on SQLite ≥ 0.5x",
                        Format.ratio(w6.ratio(PostgresPeer.sqlite)), w6.ratio(PostgresPeer.sqlite).map { $0 >= 0.5 }))
        }
        return out
    }
}
