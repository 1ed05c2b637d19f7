import Foundation
import PostgresNIO
import TrailPostgres
import TrailProtocol

/// The postgres phase (`--only postgres`): traild on PostgreSQL beside the
/// engine's limit (raw PostgreSQL, the engine's SQL in this process), two
/// daemons on one database, and traild on SQLite, in one run, one system at
/// a time; writes postgres.md and postgres.json.
///
/// 1. the server (a throwaway cluster in the work dir, or --postgres-url)
///    and the cost of one round trip through postgres-nio;
/// 2. W1 new deposits at 1 client and each pipelining count: traild on
///    PostgreSQL (one daemon), two daemons on one database, traild on
///    SQLite, then raw PostgreSQL batched like traild's groups;
/// 3. reads at each size (W3 sense top 10, W4 full-text), the PostgreSQL
///    store preloaded in SQL (held to the engine's import first): traild
///    on PostgreSQL, raw PostgreSQL's sense, traild on SQLite; then W6 at
///    the largest size on both daemons.
final class PostgresPhase {
    let config: BenchConfiguration
    let work: String
    let fsyncRate: Double
    let profiler: Profiler?
    let commit: String?
    let traildVersion: String
    let log: (String) -> Void
    private let startDate = Date()
    private let start = monoNanos()
    private var rows: [TableRow] = []
    private var writes: [WriteCost] = []
    private var reads: [ReadCost] = []
    private var preload: [PreloadStep] = []
    private var preloadCheck = "not run"
    private var rawBatch = 0
    private var roundTrip = RoundTrips(async: Percentiles(p50: 0, p99: 0, p999: 0), blocking: Percentiles(p50: 0, p99: 0, p999: 0))

    init(config: BenchConfiguration, work: String, fsyncRate: Double, profiler: Profiler?, commit: String?,
         traildVersion: String, log: @escaping (String) -> Void) {
        self.config = config
        self.work = work
        self.fsyncRate = fsyncRate
        self.profiler = profiler
        self.commit = commit
        self.traildVersion = traildVersion
        self.log = log
    }

    func run() async throws {
        let loadStart = Machine.loadAverage
        let server: PostgresServer
        if let url = config.postgresURL {
            server = try await PostgresServer.attach(url: url, keep: config.keepWorkDir)
        } else {
            server = try await PostgresServer.start(in: work, binaries: config.postgresBin, keep: config.keepWorkDir, log: log)
        }
        log("PostgreSQL \(server.version): \(server.origin)\(server.dataDir.map { ", data in \($0)" } ?? "")")
        do {
            try await roundTrips(server)
            try await depositRuns(server)
            try await readRuns(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()

        let machine = MachineInfo(
            cpu: Machine.cpu, cores: Machine.cores, memoryGiB: Machine.memoryGiB, kernel: Machine.kernel,
            filesystem: Machine.filesystem(of: work), loadAverageStart: loadStart, loadAverageEnd: Machine.loadAverage,
            traild: traildVersion, commit: commit, redis: "not run", redisBenchmark: "not run",
            sqlite: Machine.sqliteVersion, swift: Machine.firstLine("swift", ["--version"]))
        let info = PostgresServerInfo(
            origin: server.origin, version: server.version,
            settings: server.settings.map { .init(name: $0.name, value: $0.value) }, dataDir: server.dataDir,
            filesystem: server.dataDir.map { Machine.filesystem(of: $0) } ?? "elsewhere (--postgres-url)",
            sqliteFilesystem: Machine.filesystem(of: work))
        let results = PostgresResults(
            profile: config.profile, startedAt: rfc3339(startDate), seconds: Double(monoNanos() - start) / 1e9,
            pipeline: config.pipeline, duration: config.duration, warmup: config.warmup, sizes: config.sizes,
            machine: machine, server: info, fsyncPerSecond: fsyncRate, roundTrip: roundTrip, rawBatch: rawBatch,
            rows: rows, writes: writes, reads: reads, preload: preload, preloadCheck: preloadCheck)
        try PostgresReport(results: results).write(to: config.outDir)
        log("wrote \(config.outDir)/postgres.md and postgres.json")
    }

    // MARK: plans

    private var sequential: LoadPlan {
        LoadPlan(connections: 1, depth: 1, warmup: config.warmup, duration: config.duration)
    }

    private func pipelined(_ clients: Int) -> LoadPlan {
        LoadPlan(connections: clients, depth: config.pipeline, warmup: config.warmup, duration: config.duration)
    }

    private var depth: String { "\(config.pipeline)" }

    /// A timed run on `peers` (the clients split between them), under perf when profiling (the first daemon).
    private func measure(_ name: String, _ peers: [TrailPeer], _ plan: LoadPlan,
                         stream: @escaping @Sendable (Int) -> any RequestStream) async throws -> LoadResult {
        guard let profiler else { return try await TrailPeer.run(on: peers, plan, stream: stream) }
        return try await profiler.around(name, pid: peers[0].child.pid, seconds: plan.warmup + plan.duration) {
            try await TrailPeer.run(on: peers, plan, stream: stream)
        }
    }

    private func startTrail(_ name: String, store: String?) async throws -> TrailPeer {
        try await TrailPeer(executable: config.traild, dir: work + "/" + name, store: store)
    }

    // MARK: round trips

    private func roundTrips(_ server: PostgresServer) async throws {
        let db = try await server.createDatabase("bench_probe")
        let link = try await PostgresLink.connect(db.location)
        let raw = RawPostgres(link: link, ns: "default")
        let n = config.profile == .smoke ? 200 : 5000
        let (async, blocking) = try await raw.roundTrips(count: n)
        await raw.close()
        roundTrip = RoundTrips(async: Percentiles(async), blocking: Percentiles(blocking))
        log("postgres-nio round trip (SELECT 1) p50: async \(Format.ms(roundTrip.async.p50)) ms, blocking \(Format.ms(roundTrip.blocking.p50)) ms")
    }

    // MARK: W1

    private func depositRuns(_ server: PostgresServer) async throws {
        let counts = [1] + config.writeClients
        let plan = { (c: Int) in c == 1 ? self.sequential : self.pipelined(c) }
        let title = { (c: Int) in c == 1 ? "new deposits, 1 client, sequential" : "new deposits, \(c) clients × \(self.depth) pipelined" }

        // traild on PostgreSQL, one daemon.
        var one: [Int: (LoadResult, WriteCost)] = [:]
        let oneDB = try await server.createDatabase("bench_w1_one")
        let oneLink = try await PostgresLink.connect(oneDB.location)
        try await withTrails(["pg-w1-one"], store: oneDB.url, closing: oneLink) { peers in
            let link = oneLink
            for c in counts {
                let r = try await depositRun("PG-W1-\(c)", system: "traild-pg", peers: peers, clients: c, plan: plan(c),
                                             server: server, link: link)
                one[c] = r
                log("W1 traild on PostgreSQL, \(c == 1 ? "1 client" : "\(c)x\(depth)"): \(Format.rate(r.0.perSecond))/s, groups \(Self.describe(r.1.groups))")
            }
        }

        // Two daemons on one database.
        var two: [Int: LoadResult] = [:]
        let twoDB = try await server.createDatabase("bench_w1_two")
        let twoLink = try await PostgresLink.connect(twoDB.location)
        try await withTrails(["pg-w1-two-a", "pg-w1-two-b"], store: twoDB.url, closing: twoLink) { peers in
            let link = twoLink
            for c in counts where c >= 2 {
                let r = try await depositRun("PG2-W1-\(c)", system: "traild-pg-2daemons", peers: peers, clients: c, plan: plan(c),
                                             server: server, link: link)
                two[c] = r.0
                log("W1 two traild on one PostgreSQL database, \(c)x\(depth): \(Format.rate(r.0.perSecond))/s, groups \(Self.describe(r.1.groups))")
            }
        }

        // traild on SQLite.
        var sqlite: [Int: LoadResult] = [:]
        try await withTrails(["pg-w1-sqlite"], store: nil) { peers in
            for c in counts {
                let r = try await depositRun("SQ-W1-\(c)", system: "traild-sqlite", peers: peers, clients: c, plan: plan(c),
                                             server: nil, link: nil)
                sqlite[c] = r.0
                log("W1 traild on SQLite, \(c == 1 ? "1 client" : "\(c)x\(depth)"): \(Format.rate(r.0.perSecond))/s")
            }
        }

        // Raw PostgreSQL, batched like traild's groups at the most clients.
        let most = config.manyClients
        rawBatch = max(1, Int((one[most]?.1.groups?.mean ?? 1000).rounded()))
        let rawDB = try await server.createDatabase("bench_w1_raw")
        let raw = try await RawPostgres.make(rawDB.location)
        var rawRates: [RawPostgres.Statements: Double] = [:]
        do {
            for statements in [RawPostgres.Statements.engine, .perDeposit] {
                var pg = CPUWindow { server.processes }
                var me = CPUWindow { [getpid()] }
                pg.start()
                me.start()
                let r = try await raw.deposits(batch: rawBatch, statements: statements, warmup: config.warmup, duration: config.duration)
                let (pgCPU, _) = pg.stop()
                let (myCPU, _) = me.stop()
                // CPU over the whole run (warm-up included), per deposit of the whole run.
                let all = Double(r.deposits) * (config.warmup + config.duration) / config.duration
                let system = Self.rawSystem[statements]!
                writes.append(WriteCost(system: system, clients: nil, perSecond: r.rate, deposits: r.deposits,
                                        groups: GroupSizes(Array(repeating: rawBatch, count: r.transactions)),
                                        traildMicros: nil, postgresMicros: server.pid == nil ? nil : pgCPU / all * 1e6,
                                        benchMicros: myCPU / all * 1e6))
                rawRates[statements] = r.rate
                log("W1 raw PostgreSQL, \(rawBatch) per transaction, \(Self.rawWhat[statements]!): \(Format.rate(r.rate))/s")
            }
        } catch {
            await raw.close()
            throw error
        }
        await raw.close()

        let fsync = Measure(value: fsyncRate, how: "4 KiB append + fdatasync, in a loop")
        let rawHow = "this process, postgres-nio, one connection, \(rawBatch) deposits per transaction"
        for c in counts {
            guard let (trail, _) = one[c] else { continue }
            var peers: [String: Measure] = [PostgresPeer.fsync: fsync]
            if let t = two[c] { peers[PostgresPeer.twoDaemons] = Measure(t, how: "two traild, \(c / 2) connections each") }
            if let s = sqlite[c] { peers[PostgresPeer.sqlite] = Measure(s, how: "traild on SQLite") }
            peers[PostgresPeer.raw] = Measure(value: rawRates[.engine], how: rawHow + ": " + Self.rawWhat[.engine]!)
            peers[PostgresPeer.rawPerDeposit] = Measure(value: rawRates[.perDeposit], how: rawHow + ": " + Self.rawWhat[.perDeposit]!)
            rows.append(TableRow(workload: "W1", title: title(c), unit: "writes/s", better: .higher,
                                 trail: Measure(trail, how: "one traild on PostgreSQL"),
                                 peers: peers))
        }
    }

    static let rawSystem: [RawPostgres.Statements: String] = [.engine: "raw-pg", .perDeposit: "raw-pg-per-deposit"]
    static let rawWhat: [RawPostgres.Statements: String] = [
        .engine: "the engine's statements (the clock and namespace, one INSERT ... FROM unnest for the group, the write log with the signals)",
        .perDeposit: "the engine's statements before 23faa11 (one INSERT ... VALUES per deposit)",
    ]

    /// Starts traild `names` (one store), runs `body`, stops them (and closes `link`).
    private func withTrails(_ names: [String], store: String?, closing link: PostgresLink? = nil,
                            _ body: ([TrailPeer]) async throws -> Void) async throws {
        var peers: [TrailPeer] = []
        do {
            for name in names { peers.append(try await startTrail(name, store: store)) }
            try await body(peers)
        } catch {
            await link?.close()
            for p in peers { await p.stop() }
            throw error
        }
        await link?.close()
        for p in peers { await p.stop() }
    }

    /// One W1 run, with the CPU each side used and, on PostgreSQL, the
    /// groups traild committed (write-log rows of the run by daemon and instant).
    private func depositRun(_ name: String, system: String, peers: [TrailPeer], clients: Int, plan: LoadPlan,
                            server: PostgresServer?, link: PostgresLink?) async throws -> (LoadResult, WriteCost) {
        let since = try await link?.count("SELECT coalesce(max(seq), 0) FROM write_log") ?? 0
        var daemons = CPUWindow { peers.map(\.child.pid) }
        var pg = CPUWindow { server?.processes ?? [] }
        var me = CPUWindow { [getpid()] }
        daemons.start()
        pg.start()
        me.start()
        let result = try await measure(name, peers, plan) { c in DepositStream(run: name, connection: c) }
        let (daemonCPU, _) = daemons.stop()
        let (pgCPU, _) = pg.stop()
        let (myCPU, _) = me.stop()
        var groups: GroupSizes?
        if let link {
            let sizes = try await link.rows("""
                SELECT count(*) FROM write_log WHERE seq > \(Int64(since)) AND op = 'deposit' GROUP BY daemon, at
                """).map { Int(try $0[0].decode(Int64.self)) }
            groups = GroupSizes(sizes)
        }
        // The run's CPU over the deposits of the whole run (the rate times warm-up and window).
        let all = max(1, result.perSecond * result.elapsed)
        let cost = WriteCost(system: system, clients: clients, perSecond: result.perSecond, deposits: result.total, groups: groups,
                             traildMicros: daemonCPU / all * 1e6,
                             postgresMicros: server?.pid == nil ? nil : pgCPU / all * 1e6, benchMicros: myCPU / all * 1e6)
        writes.append(cost)
        return (result, cost)
    }

    static func describe(_ g: GroupSizes?) -> String {
        guard let g else { return "?" }
        return "\(g.count) of mean \(String(format: "%.1f", g.mean)), max \(g.max)"
    }

    // MARK: reads

    private func readRuns(_ server: PostgresServer) async throws {
        let ns = "ladder"
        let db = try await server.createDatabase("bench_reads")
        let pgTrail = try await startTrail("pg-reads", store: db.url)
        let sqliteTrail: TrailPeer
        do {
            sqliteTrail = try await startTrail("pg-reads-sqlite", store: nil)
        } catch {
            await pgTrail.stop()
            throw error
        }
        let link: PostgresLink
        do {
            link = try await PostgresLink.connect(db.location, name: "trail-bench-raw")
        } catch {
            await pgTrail.stop()
            await sqliteTrail.stop()
            throw error
        }
        do {
            try await ladder(server: server, pg: pgTrail, sqlite: sqliteTrail, link: link, ns: ns)
        } catch {
            await link.close()
            await pgTrail.stop()
            await sqliteTrail.stop()
            throw error
        }
        await link.close()
        await pgTrail.stop()
        await sqliteTrail.stop()
    }

    private func ladder(server: PostgresServer, pg: TrailPeer, sqlite: TrailPeer, link: PostgresLink, ns: String) async throws {
        let raw = RawPostgres(link: link, ns: ns)
        let engine = try await EnginePostgres.open(link.location, ns: ns)
        do {
            try await ladder(server: server, pg: pg, sqlite: sqlite, link: link, raw: raw, engine: engine, ns: ns)
        } catch {
            await engine.close()
            throw error
        }
        await engine.close()
    }

    private func ladder(server: PostgresServer, pg: TrailPeer, sqlite: TrailPeer, link: PostgresLink, raw: RawPostgres,
                        engine: EnginePostgres, ns: String) async throws {
        let preloader = PostgresPreload(link: link)
        // Whole milliseconds: the records' times travel as RFC 3339 with milliseconds.
        let created = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
        let createdMillis = Int64((created.timeIntervalSince1970 * 1000).rounded())

        // The SQL preload against the engine's own import of the same notes.
        var sample = Dataset(name: "ladder")
        let k = min(config.profile == .smoke ? 200 : 1000, config.sizes.first ?? 200)
        let t0 = monoNanos()
        try await pg.load(&sample, range: 0..<k, ns: "check-engine", batch: config.loadBatch, at: created)
        try await preloader.load(&sample, range: 0..<k, ns: "check-sql", chunk: config.loadBatch, createdAt: createdMillis)
        try await preloader.check(mine: "check-sql", engine: "check-engine", notes: k)
        preloadCheck = "\(Format.count(k)) notes loaded both ways (trail.import through traild, and the SQL preload) into two namespaces: "
            + "every note column but seq and key equal (body, words tsvector, tags, times, state...), keys equal as log2 weights at their write's instant "
            + "(within 1e-6), the same tags, trails and trail weights, one import log row per note, the same namespace settings"
        log("the SQL preload matches the engine's import (\(k) notes, \(Format.seconds(t0, monoNanos())))")

        var set = Dataset(name: "ladder")
        var loaded = 0
        let chunk = config.profile == .smoke ? config.loadBatch : 5000
        for size in config.sizes {
            let t1 = monoNanos()
            try await preloader.load(&set, range: loaded..<size, ns: ns, chunk: chunk, createdAt: createdMillis)
            try await link.run("VACUUM ANALYZE")
            await server.checkpoint()
            let t2 = monoNanos()
            try await sqlite.load(&set, range: loaded..<size, ns: ns, batch: config.loadBatch)
            let t3 = monoNanos()
            preload.append(PreloadStep(notes: size, postgresSeconds: Double(t2 - t1) / 1e9, sqliteSeconds: Double(t3 - t2) / 1e9))
            log("loaded \(Format.count(size)) notes: PostgreSQL (SQL preload, VACUUM ANALYZE, CHECKPOINT) \(Format.seconds(t1, t2)), traild on SQLite (trail.import) \(Format.seconds(t2, t3))")
            loaded = size
            for (name, trail) in [("PostgreSQL", pg), ("SQLite", sqlite)] {
                try await check(trail, name: name, ns: ns, set: set, size: size)
            }

            // W3: top 10 by weight.
            let pgSense = try await costed("W3", "traild-pg", pg, server, size, sequential) { _ in SenseStream(ns: ns) }
            let rawSense = try await rawCosted("W3", "raw-pg", server, size) {
                try await raw.senseLatency(ns: ns, statements: .engine, warmup: self.config.warmup, duration: self.config.duration)
            }
            let engineSense = try await rawCosted("W3", "engine-pg", server, size) {
                try await engine.senseLatency(warmup: self.config.warmup, duration: self.config.duration)
            }
            let rawTwo = try await rawCosted("W3", "raw-pg-two", server, size) {
                try await raw.senseLatency(ns: ns, statements: .twoStatements, warmup: self.config.warmup, duration: self.config.duration)
            }
            let sqSense = try await costed("W3", "traild-sqlite", sqlite, nil, size, sequential) { _ in SenseStream(ns: ns) }
            rows.append(TableRow(workload: "W3", title: "sense top 10 by weight", notes: size, unit: "ms", better: .lower,
                                 trail: Measure(pgSense, rate: false, how: "traild on PostgreSQL, 1 connection, sequential"),
                                 peers: [PostgresPeer.raw: Measure(latency: Percentiles(rawSense), how: "the engine's statement (clock, namespace and page in one round trip), in process"),
                                         PostgresPeer.engine: Measure(latency: Percentiles(engineSense), how: "the engine (PostgresStore.sense) in process, on an event loop as traild asks it"),
                                         PostgresPeer.rawTwo: Measure(latency: Percentiles(rawTwo), how: "the engine's statements before acd2809 (the clock and namespace, then the page: 2 round trips), in process"),
                                         PostgresPeer.sqlite: Measure(sqSense, rate: false, how: "traild on SQLite")]))
            log("W3 \(Format.count(size)): traild PG p99 \(Format.ms(Percentiles(pgSense.allLatency).p99)), raw (engine's statement) p99 \(Format.ms(Percentiles(rawSense).p99)), engine in process p99 \(Format.ms(Percentiles(engineSense).p99)), raw (two statements) p99 \(Format.ms(Percentiles(rawTwo).p99)), traild SQLite p99 \(Format.ms(Percentiles(sqSense.allLatency).p99))")

            // W4: a one-word full-text query.
            let pgQuery = try await costed("W4", "traild-pg", pg, server, size, sequential) { c in QueryStream(ns: ns, rng: SplitMix64(seed: 400 &+ UInt64(c))) }
            let sqQuery = try await costed("W4", "traild-sqlite", sqlite, nil, size, sequential) { c in QueryStream(ns: ns, rng: SplitMix64(seed: 400 &+ UInt64(c))) }
            rows.append(TableRow(workload: "W4", title: "sense with a full-text query (one word), top 10", notes: size, unit: "ms", better: .lower,
                                 trail: Measure(pgQuery, rate: false, how: "traild on PostgreSQL (tsvector, GIN, ts_rank)"),
                                 peers: [PostgresPeer.sqlite: Measure(sqQuery, rate: false, how: "traild on SQLite (FTS5, bm25)")]))
            log("W4 \(Format.count(size)): traild PG p99 \(Format.ms(Percentiles(pgQuery.allLatency).p99)), traild SQLite p99 \(Format.ms(Percentiles(sqQuery.allLatency).p99))")
        }

        // W6: 90/10 mix at the largest size.
        let many = config.manyClients
        let size = config.sizes.last ?? 0
        let mixPlan = LoadPlan(connections: many, depth: config.pipeline, warmup: config.warmup, duration: config.duration,
                               kinds: ["sense", "deposit"])
        func how(_ r: LoadResult, _ name: String) -> String {
            "\(name): sense p99 \(Format.ms(Percentiles(r.histogram("sense")).p99)) ms, deposit p99 \(Format.ms(Percentiles(r.histogram("deposit")).p99)) ms"
        }
        // The same sense from every client (traild shares identical senses in
        // flight), then no two senses alike (nothing to share).
        for distinct in [false, true] {
            let pgMix = try await costed("W6", "traild-pg", pg, server, size, mixPlan) { c in MixStream(ns: ns, connection: c, distinct: distinct) }
            let sqMix = try await costed("W6", "traild-sqlite", sqlite, nil, size, mixPlan) { c in MixStream(ns: ns, connection: c, distinct: distinct) }
            let senses = distinct ? "sense, no two alike" : "sense (one query)"
            rows.append(TableRow(workload: "W6", title: "90 % \(senses) / 10 % deposit, \(many) clients × \(depth)", notes: size,
                                 unit: "requests/s", better: .higher,
                                 trail: Measure(pgMix, how: how(pgMix, "traild on PostgreSQL")),
                                 peers: [PostgresPeer.sqlite: Measure(sqMix, how: how(sqMix, "traild on SQLite"))]))
            log("W6\(distinct ? " distinct" : "") \(Format.count(size)): traild PG \(Format.rate(pgMix.perSecond))/s, traild SQLite \(Format.rate(sqMix.perSecond))/s")
        }
    }

    /// A timed read run on one daemon, with the CPU it and the server used per request.
    private func costed(_ workload: String, _ system: String, _ trail: TrailPeer, _ server: PostgresServer?, _ notes: Int,
                        _ plan: LoadPlan, stream: @escaping @Sendable (Int) -> any RequestStream) async throws -> LoadResult {
        var daemon = CPUWindow { [trail.child.pid] }
        var pg = CPUWindow { server?.processes ?? [] }
        daemon.start()
        pg.start()
        let name = "\(system == "traild-pg" ? "PG" : "SQ")-\(workload)-\(notes)"
        let result = try await measure(name, [trail], plan, stream: stream)
        let all = max(1, result.perSecond * result.elapsed)
        reads.append(ReadCost(workload: workload, system: system, notes: notes, perSecond: result.perSecond,
                              traildMicros: daemon.stop().cpu / all * 1e6,
                              postgresMicros: server?.pid == nil ? nil : pg.stop().cpu / all * 1e6, benchMicros: nil))
        return result
    }

    /// The raw peer's read run, with the CPU this program and the server used per request.
    private func rawCosted(_ workload: String, _ system: String, _ server: PostgresServer, _ notes: Int,
                           _ body: () async throws -> LatencyHistogram) async throws -> LatencyHistogram {
        var me = CPUWindow { [getpid()] }
        var pg = CPUWindow { server.processes }
        me.start()
        pg.start()
        let h = try await body()
        let (myCPU, _) = me.stop()
        // Requests over the whole run: those counted, scaled to the warm-up too.
        let all = max(1, Double(h.totalCount) * (config.warmup + config.duration) / config.duration)
        reads.append(ReadCost(workload: workload, system: system, notes: notes, perSecond: Double(h.totalCount) / config.duration,
                              traildMicros: nil, postgresMicros: server.pid == nil ? nil : pg.stop().cpu / all * 1e6,
                              benchMicros: myCPU / all * 1e6))
        return h
    }

    /// The daemon answers the reads with what was loaded: ten notes sensed,
    /// a word of the last note found.
    private func check(_ trail: TrailPeer, name: String, ns: String, set: Dataset, size: Int) async throws {
        let sensed = try await trail.call("trail.sense", ["ns": .string(ns), "limit": .int(10)])["notes"]?.array?.count ?? 0
        let word = String(set.note(size - 1).body.split(separator: " ").last ?? "")
        let found = try await trail.call("trail.sense", ["ns": .string(ns), "query": .string(word), "limit": .int(10)])["notes"]?.array?.count ?? 0
        guard sensed == 10, found >= 1 else {
            throw BenchFailure("traild on \(name) answered sense with \(sensed) notes and a query with \(found); expected 10 and 1+")
        }
    }
}
