import Foundation
import TrailProtocol

/// One run of every workload on every system, in this order, one system
/// measured at a time so that none competes with another for the 2 cores:
///
/// 1. the disk's fsync rate;
/// 2. writes (W1 new deposits, W2 Zipf reinforce) on fresh stores;
/// 3. reads at each size (W3 sense, W4 full-text sense, W5 follow, peak
///    memory), growing one store per system, then W6 (90/10 mix) at the
///    largest size;
/// 4. W7 compaction of a fresh store with 90 % of its notes faded;
/// 5. recall by meaning (`MeaningPhase`): embedding throughput, sense by
///    meaning at each size beside sqlite-vec, and the index's memory.
final class BenchRun {
    let config: BenchConfiguration
    let work: String
    private let madeWorkDir: Bool
    private let start = monoNanos()
    private let startDate = Date()
    private var rows: [TableRow] = []
    private var memory: [MemoryRow] = []
    private var compactionPeakKiB: Int?
    private var fsyncRate = 0.0
    private var meaningResults: MeaningResults?
    private var versions: (traild: String, redis: String, sqlite: String) = ("?", "?", "?")
    private let profiler: Profiler?

    init(config: BenchConfiguration) throws {
        self.config = config
        profiler = try config.perfDir.map { try Profiler(dir: $0) }
        _ = try ChildProcess.resolve(config.traild)
        if !config.phases.isDisjoint(with: Phase.withRedis) {
            _ = try ChildProcess.resolve(config.redisServer)
            _ = try ChildProcess.resolve(config.redisBenchmark)
        }
        if let dir = config.workDir {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            work = dir
            madeWorkDir = false
        } else {
            let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
            var template = Array("\(base)/trail-bench-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw BenchFailure("cannot create a work dir under \(base)") }
            work = String(cString: made)
            madeWorkDir = true
            // The postgres phase's cluster lives here and runs as the postgres OS user when we are root:
            // it must be able to pass through (not list) this folder.
            if config.phases.contains(.postgres) { chmod(work, 0o711) }
        }
    }

    func run() async throws {
        ChildRegistry.shared.stopOnSignals()
        log("profile \(config.profile.rawValue), work dir \(work), traild \(config.traild)")
        let loadStart = Machine.loadAverage
        // The source state now, when the binaries were built, not after a long run.
        let commit = Machine.commit
        let classic = !config.phases.isDisjoint(with: Phase.classic)
        let redis = !config.phases.isDisjoint(with: Phase.withRedis)
        versions = (Machine.firstLine(config.traild, ["--version"]) ?? "unknown",
                    redis ? Machine.redisVersion(config.redisServer) : "not run", Machine.sqliteVersion)
        do {
            fsyncRate = try FsyncProbe.run(dir: work, seconds: config.profile == .smoke ? 0.3 : 2)
            log("disk: \(Format.rate(fsyncRate)) fdatasync/s")
            if config.phases.contains(.writes) { try await writes() }
            if config.phases.contains(.reads) { try await reads() }
            if config.phases.contains(.compaction) { try await compaction() }
            if config.phases.contains(.meaning) { try await meaning() }
            if config.phases.contains(.postgres) {
                let phase = PostgresPhase(config: config, work: work, fsyncRate: fsyncRate, profiler: profiler,
                                          commit: commit, traildVersion: versions.traild, log: log)
                try await phase.run()
            }
        } catch {
            if !config.keepWorkDir && madeWorkDir { log("work dir kept for inspection: \(work)") }
            throw error
        }
        guard classic else {
            if madeWorkDir && !config.keepWorkDir { try? FileManager.default.removeItem(atPath: work) }
            return
        }
        let machine = MachineInfo(
            cpu: Machine.cpu, cores: Machine.cores, memoryGiB: Machine.memoryGiB, kernel: Machine.kernel,
            filesystem: Machine.filesystem(of: work), loadAverageStart: loadStart, loadAverageEnd: Machine.loadAverage,
            traild: versions.traild, commit: commit, redis: versions.redis,
            redisBenchmark: redis ? Machine.firstLine(config.redisBenchmark, ["--version"]) ?? "unknown" : "not run",
            sqlite: versions.sqlite, swift: Machine.firstLine("swift", ["--version"]))
        let results = BenchResults(
            profile: config.profile, startedAt: rfc3339(startDate), seconds: elapsed, pipeline: config.pipeline,
            duration: config.duration, warmup: config.warmup, sizes: config.sizes, machine: machine,
            fsyncPerSecond: fsyncRate, rows: rows, memory: memory, compactionPeakKiB: compactionPeakKiB, meaning: meaningResults)
        try Report(results: results).write(to: config.outDir)
        log("wrote \(config.outDir)/latest.md, latest.json, sense-latency.svg in \(Int(elapsed)) s")
        if madeWorkDir && !config.keepWorkDir { try? FileManager.default.removeItem(atPath: work) }
    }

    private var elapsed: Double { Double(monoNanos() - start) / 1e9 }

    private func log(_ line: String) {
        FileHandle.standardError.write(Data(String(format: "[%6.1fs] ", elapsed).appending(line + "\n").utf8))
    }

    private var plan: LoadPlan {
        LoadPlan(connections: 1, depth: 1, warmup: config.warmup, duration: config.duration)
    }

    private func pipelined(_ clients: Int) -> LoadPlan {
        LoadPlan(connections: clients, depth: config.pipeline, warmup: config.warmup, duration: config.duration)
    }

    private var depthLabel: String { "\(config.pipeline)" }

    /// A timed trail run, under perf when profiling.
    private func measure(_ name: String, _ trail: TrailPeer, _ plan: LoadPlan,
                         stream: @escaping @Sendable (Int) -> any RequestStream) async throws -> LoadResult {
        guard let profiler else { return try await trail.run(plan, stream: stream) }
        return try await profiler.around(name, pid: trail.child.pid, seconds: plan.warmup + plan.duration) {
            try await trail.run(plan, stream: stream)
        }
    }

    // MARK: lifecycles

    private func withTrail<T>(_ name: String, _ body: (TrailPeer) async throws -> T) async throws -> T {
        let peer = try await TrailPeer(executable: config.traild, dir: work + "/" + name)
        do {
            let value = try await body(peer)
            await peer.stop()
            return value
        } catch {
            await peer.stop()
            throw error
        }
    }

    private func withRedis<T>(_ name: String, _ body: (RedisPeer) async throws -> T) async throws -> T {
        let peer = try RedisPeer(executable: config.redisServer, dir: work + "/" + name)
        do {
            let value = try await body(peer)
            peer.stop()
            return value
        } catch {
            peer.stop()
            throw error
        }
    }

    private func redisBench(_ redis: RedisPeer, _ command: [String], clients: Int, pipeline: Int, range: Int?) throws -> RedisBenchmarkResult {
        try redis.timedBenchmark(config.redisBenchmark, command: command, clients: clients, pipeline: pipeline,
                                 seconds: config.duration, range: range)
    }

    /// redis-benchmark's -r for "a new key every time": __rand_int__ below 2e9.
    private let freshKeys = 2_000_000_000

    // MARK: writes

    private func writes() async throws {
        let clients = config.writeClients
        let many = config.manyClients
        var hot = Dataset(name: "hot", trailsPerNote: 0)
        let hotIDs = (0..<config.hotSet).map { hot.id($0) }

        // traild
        var trailW1: [Int: Measure] = [:]
        var trailW2 = Measure()
        try await withTrail("writes-trail") { trail in
            let seq = try await measure("W1-1", trail, plan) { c in DepositStream(run: "seq", connection: c) }
            trailW1[1] = Measure(seq, how: "1 connection, 1 in flight")
            log("W1 trail 1 client: \(Format.rate(seq.perSecond))/s")
            for c in clients {
                let r = try await measure("W1-\(c)", trail, pipelined(c)) { conn in DepositStream(run: "p\(c)", connection: conn) }
                trailW1[c] = Measure(r, how: "\(c) connections, \(depthLabel) in flight each")
                log("W1 trail \(c)x\(depthLabel): \(Format.rate(r.perSecond))/s")
            }
            try await trail.load(&hot, range: 0..<config.hotSet, ns: "hot", batch: config.loadBatch)
            let ids = hotIDs
            let r = try await measure("W2", trail, pipelined(many)) { c in
                ReinforceStream(ns: "hot", ids: ids, rng: SplitMix64(seed: 200 &+ UInt64(c)))
            }
            trailW2 = Measure(r, how: "\(many) connections, \(depthLabel) in flight each")
            log("W2 trail \(many)x\(depthLabel): \(Format.rate(r.perSecond))/s")
        }

        // Redis
        var redisW1: [Int: Measure] = [:]
        var redisW2 = Measure()
        try withRedisSync("writes-redis") { redis in
            var rng = SplitMix64(seed: 99)
            let body = "w1 redis deposit: " + Vocabulary.phrase(8, &rng)
            let deposit = ["FCALL", "deposit", "1", "note:__rand_int__", body, "1"]
            let seq = try redisBench(redis, deposit, clients: 1, pipeline: 1, range: freshKeys)
            redisW1[1] = Measure(value: seq.perSecond, latency: Percentiles(seq), how: "redis-benchmark -c 1 -P 1 FCALL deposit")
            log("W1 redis 1 client: \(Format.rate(seq.perSecond))/s")
            for c in clients {
                let r = try redisBench(redis, deposit, clients: c, pipeline: config.pipeline, range: freshKeys)
                redisW1[c] = Measure(value: r.perSecond, latency: Percentiles(r), how: "redis-benchmark -c \(c) -P \(depthLabel) FCALL deposit")
                log("W1 redis \(c)x\(depthLabel): \(Format.rate(r.perSecond))/s")
            }
            try redis.load(hot, range: 0..<config.hotSet, prefix: "hot:")
            let r = try redisBench(redis, ["FCALL", "reinforce_zipf", "1", "u:__rand_int__", String(config.hotSet), "1"],
                                   clients: many, pipeline: config.pipeline, range: 1_000_000_000)
            redisW2 = Measure(value: r.perSecond, latency: Percentiles(r), how: "redis-benchmark -c \(many) -P \(depthLabel) FCALL reinforce_zipf")
            log("W2 redis \(many)x\(depthLabel): \(Format.rate(r.perSecond))/s")
        }

        // raw SQLite
        let raw = try await RawSQLite(path: work + "/writes-raw.db", batch: config.sqliteBatch)
        let rawW1 = try raw.deposits(ns: "default", warmup: config.warmup, duration: config.duration)
        log("W1 raw SQLite, \(config.sqliteBatch) per transaction: \(Format.rate(rawW1))/s")
        try raw.load(&hot, range: 0..<config.hotSet, ns: "hot", loadBatch: config.loadBatch)
        let rawW2 = try raw.reinforce(ns: "hot", ids: hotIDs, warmup: config.warmup, duration: config.duration)
        log("W2 raw SQLite: \(Format.rate(rawW2))/s")
        try raw.close()

        let sqliteHow = "one process, \(config.sqliteBatch) writes per transaction"
        let fsync = Measure(value: fsyncRate, how: "4 KiB append + fdatasync, in a loop")
        for c in [1] + clients {
            var peers: [String: Measure] = ["fsync": fsync]
            peers["redis"] = redisW1[c]
            peers["sqlite"] = Measure(value: rawW1, how: sqliteHow)
            let title = c == 1 ? "new deposits, 1 client, sequential" : "new deposits, \(c) clients × \(depthLabel) pipelined"
            rows.append(TableRow(workload: "W1", title: title, unit: "writes/s", better: .higher, trail: trailW1[c]!, peers: peers))
        }
        rows.append(TableRow(workload: "W2", title: "reinforce, Zipf over \(Format.count(config.hotSet)) notes, \(many) clients × \(depthLabel)",
                        unit: "writes/s", better: .higher, trail: trailW2,
                        peers: ["redis": redisW2, "sqlite": Measure(value: rawW2, how: sqliteHow), "fsync": fsync]))
    }

    private func withRedisSync<T>(_ name: String, _ body: (RedisPeer) throws -> T) throws -> T {
        let peer = try RedisPeer(executable: config.redisServer, dir: work + "/" + name)
        defer { peer.stop() }
        return try body(peer)
    }

    // MARK: reads

    private func reads() async throws {
        let trail = try await TrailPeer(executable: config.traild, dir: work + "/reads-trail")
        let redis: RedisPeer
        do {
            redis = try RedisPeer(executable: config.redisServer, dir: work + "/reads-redis")
        } catch {
            await trail.stop()
            throw error
        }
        do {
            try await ladder(trail: trail, redis: redis)
            await trail.stop()
            redis.stop()
        } catch {
            await trail.stop()
            redis.stop()
            throw error
        }
    }

    private func ladder(trail: TrailPeer, redis: RedisPeer) async throws {
        let raw = try await RawSQLite(path: work + "/reads-raw.db", batch: config.sqliteBatch)
        defer { try? raw.close() }
        var set = Dataset(name: "ladder")
        var loaded = 0
        let ns = "ladder"
        for size in config.sizes {
            trail.child.resetPeakRSS()
            redis.child.resetPeakRSS()
            let t0 = monoNanos()
            try await trail.load(&set, range: loaded..<size, ns: ns, batch: config.loadBatch)
            let t1 = monoNanos()
            try redis.load(set, range: loaded..<size)
            let t2 = monoNanos()
            try raw.load(&set, range: loaded..<size, ns: ns, loadBatch: config.loadBatch)
            let t3 = monoNanos()
            log("loaded \(Format.count(size)) notes: traild \(Format.seconds(t0, t1)), Redis \(Format.seconds(t1, t2)), raw SQLite \(Format.seconds(t2, t3))")
            loaded = size
            let ids = (0..<size).map { set.id($0) }
            try await check(trail: trail, redis: redis, ns: ns, set: set, ids: ids)

            // W3: top 10 by weight.
            let sense = try await measure("W3-\(size)", trail, plan) { _ in SenseStream(ns: ns) }
            let zrev = try redisBench(redis, ["ZREVRANGE", "weight", "0", "9", "WITHSCORES"], clients: 1, pipeline: 1, range: nil)
            let lua = try redisBench(redis, ["FCALL_RO", "sense", "0", "10"], clients: 1, pipeline: 1, range: nil)
            let rawSense = try raw.senseLatency(ns: ns, warmup: config.warmup, duration: config.duration)
            rows.append(TableRow(workload: "W3", title: "sense top 10 by weight", notes: size, unit: "ms", better: .lower,
                            trail: Measure(sense, rate: false, how: "1 connection, sequential"),
                            peers: ["redis-zrevrange": Measure(latency: Percentiles(zrev), how: "ZREVRANGE weight 0 9 WITHSCORES"),
                                    "redis": Measure(latency: Percentiles(lua), how: "FCALL_RO sense: ZREVRANGEBYSCORE + HGETALL of each"),
                                    "sqlite": Measure(latency: Percentiles(rawSense), how: "traild's sense SQL, in process")]))
            log("W3 \(Format.count(size)): trail p99 \(Format.ms(Percentiles(sense.allLatency).p99)), ZREVRANGE p99 \(Format.ms(zrev.p99)), Lua sense p99 \(Format.ms(lua.p99)), raw p99 \(Format.ms(Percentiles(rawSense).p99))")

            // W4: full-text query.
            let query = try await measure("W4-\(size)", trail, plan) { c in QueryStream(ns: ns, rng: SplitMix64(seed: 400 &+ UInt64(c))) }
            let rawQuery = try raw.queryLatency(ns: ns, warmup: config.warmup, duration: config.duration)
            rows.append(TableRow(workload: "W4", title: "sense with a full-text query (one word), top 10", notes: size, unit: "ms",
                            better: .lower, trail: Measure(query, rate: false, how: "1 connection, sequential"),
                            peers: ["sqlite": Measure(latency: Percentiles(rawQuery), how: "traild's FTS5 sense SQL, in process")]))
            log("W4 \(Format.count(size)): trail p99 \(Format.ms(Percentiles(query.allLatency).p99)), raw p99 \(Format.ms(Percentiles(rawQuery).p99))")

            // W5: follow.
            let follow = try await measure("W5-\(size)", trail, plan) { c in FollowStream(ns: ns, ids: ids, rng: SplitMix64(seed: 500 &+ UInt64(c))) }
            let redisFollow = try redisBench(redis, ["FCALL_RO", "follow", "1", "out:note:__rand_int__", "10"], clients: 1, pipeline: 1, range: size)
            let rawFollow = try raw.followLatency(ns: ns, ids: ids, warmup: config.warmup, duration: config.duration)
            rows.append(TableRow(workload: "W5", title: "follow, 10 strongest trails with their notes", notes: size, unit: "ms",
                            better: .lower, trail: Measure(follow, rate: false, how: "1 connection, sequential"),
                            peers: ["redis": Measure(latency: Percentiles(redisFollow), how: "FCALL_RO follow: ZREVRANGE out:<note> + HGETALL of each"),
                                    "sqlite": Measure(latency: Percentiles(rawFollow), how: "traild's follow SQL, in process")]))
            log("W5 \(Format.count(size)): trail p99 \(Format.ms(Percentiles(follow.allLatency).p99)), Redis p99 \(Format.ms(redisFollow.p99)), raw p99 \(Format.ms(Percentiles(rawFollow).p99))")

            memory.append(MemoryRow(notes: size, traildPeakKiB: trail.child.peakRSSKiB, redisPeakKiB: redis.child.peakRSSKiB))
            log("peak RSS at \(Format.count(size)): traild \(Format.kib(trail.child.peakRSSKiB)), redis-server \(Format.kib(redis.child.peakRSSKiB))")
        }

        // W6: 90/10 read/write mix at the largest size.
        let many = config.manyClients
        let size = config.sizes.last ?? 0
        let mix = try await measure("W6", trail, LoadPlan(connections: many, depth: config.pipeline, warmup: config.warmup,
                                               duration: config.duration, kinds: ["sense", "deposit"])) { c in
            MixStream(ns: ns, connection: c)
        }
        var rng = SplitMix64(seed: 98)
        let body = "w6 redis deposit: " + Vocabulary.phrase(8, &rng)
        let redisMix = try redisBench(redis, ["FCALL", "mix", "1", "note:__rand_int__", body, "1"],
                                      clients: many, pipeline: config.pipeline, range: freshKeys)
        rows.append(TableRow(workload: "W6", title: "90 % sense / 10 % deposit, \(many) clients × \(depthLabel)", notes: size,
                        unit: "requests/s", better: .higher,
                        trail: Measure(mix, how: "sense p99 \(Format.ms(Percentiles(mix.histogram("sense")).p99)) ms, deposit p99 \(Format.ms(Percentiles(mix.histogram("deposit")).p99)) ms"),
                        peers: ["redis": Measure(value: redisMix.perSecond, latency: Percentiles(redisMix),
                                                 how: "redis-benchmark -c \(many) -P \(depthLabel) FCALL mix")]))
        log("W6 \(Format.count(size)): trail \(Format.rate(mix.perSecond))/s, Redis \(Format.rate(redisMix.perSecond))/s")
    }

    /// Every system answers the reads with what was loaded (a store that
    /// answered nothing would be fast for the wrong reason).
    private func check(trail: TrailPeer, redis: RedisPeer, ns: String, set: Dataset, ids: [String]) async throws {
        let last = ids.count - 1
        let sensed = try await trail.call("trail.sense", ["ns": .string(ns), "limit": .int(10)])["notes"]?.array?.count ?? 0
        let word = String(set.note(last).body.split(separator: " ").last ?? "")
        let found = try await trail.call("trail.sense", ["ns": .string(ns), "query": .string(word), "limit": .int(10)])["notes"]?.array?.count ?? 0
        let followed = try await trail.call("trail.follow", ["ns": .string(ns), "from": .string(ids[last])])["trails"]?.array?.count ?? 0
        guard sensed == 10, found >= 1, followed >= 1 else {
            throw BenchFailure("traild answered sense with \(sensed) notes, a query with \(found), follow with \(followed) trails; expected 10, 1+, 1+")
        }
        guard case let .array(top?) = try redis.client.call(["FCALL_RO", "sense", "0", "10"]), top.count == 10,
              case let .array(trails?) = try redis.client.call(["FCALL_RO", "follow", "1", "out:" + Dataset.redisKey(last), "10"]),
              !trails.isEmpty else {
            throw BenchFailure("Redis's sense or follow function answered nothing; the data set did not load")
        }
    }

    // MARK: recall by meaning

    private func meaning() async throws {
        guard let modelDir = config.modelDir else {
            guard config.profile == .smoke else {
                throw BenchFailure("the meaning phase needs the embedding model (models/all-MiniLM-L6-v2): run `make model`, or give --model-dir, or leave meaning out of --only")
            }
            log("meaning: skipped, the embedding model is not installed (make model)")
            return
        }
        let phase = try MeaningPhase(config: config, work: work, modelDir: modelDir, log: log)
        meaningResults = try await phase.run()
    }

    // MARK: compaction

    private func compaction() async throws {
        let n = config.compactNotes
        let ns = "compact"
        var set = Dataset(name: "compact", fadedShare: config.fadedShare)
        var report: (wall: Double, ms: Double, evaporated: Int) = (0, 0, 0)
        try await withTrail("compact-trail") { trail in
            let t0 = monoNanos()
            try await trail.load(&set, range: 0..<n, ns: ns, batch: config.loadBatch)
            log("W7 loaded \(Format.count(n)) notes into traild in \(Format.seconds(t0, monoNanos()))")
            trail.child.resetPeakRSS()
            let t1 = monoNanos()
            let compact = { try await trail.call("trail.compact", ["ns": .string(ns)]) }
            let answer: JSONValue
            if let profiler {
                answer = try await profiler.around("W7", pid: trail.child.pid, seconds: nil, compact)
            } else {
                answer = try await compact()
            }
            let wall = Double(monoNanos() - t1) / 1e9
            compactionPeakKiB = trail.child.peakRSSKiB
            report = (wall, answer["duration_ms"]?.number ?? 0, Int(answer["evaporated"]?.number ?? 0))
            log("W7 trail.compact: \(Format.secs(wall)) wall, \(report.evaporated) evaporated, peak RSS \(Format.kib(compactionPeakKiB))")
        }
        let redis = try await withRedis("compact-redis") { redis in
            try redis.load(set, range: 0..<n)
            let r = try redis.evaporate(batch: config.evaporateBatch)
            log("W7 Redis evaporate: \(Format.secs(r.seconds)), \(r.notes) removed")
            return r
        }
        let raw = try await RawSQLite(path: work + "/compact-raw.db", batch: config.sqliteBatch)
        try raw.load(&set, range: 0..<n, ns: ns, loadBatch: config.loadBatch)
        let rawResult = try raw.evaporate(ns: ns, batch: config.evaporateBatch)
        try raw.close()
        log("W7 raw SQLite delete: \(Format.secs(rawResult.seconds)), \(rawResult.notes) removed")
        guard report.evaporated == redis.notes, report.evaporated == rawResult.notes, report.evaporated > 0 else {
            throw BenchFailure("W7 removed different notes: traild \(report.evaporated), Redis \(redis.notes), raw SQLite \(rawResult.notes)")
        }
        rows.append(TableRow(workload: "W7", title: "compaction, \(Int(config.fadedShare * 100)) % faded", notes: n, unit: "s",
                        better: .lower,
                        trail: Measure(value: report.wall, how: "trail.compact: \(report.evaporated) archived into zstd packs, the rest ranked; duration_ms \(Int(report.ms))"),
                        peers: ["redis": Measure(value: redis.seconds, how: "FCALL evaporate, \(config.evaporateBatch) per call: \(redis.notes) deleted (no archive)"),
                                "sqlite": Measure(value: rawResult.seconds, how: "\(config.evaporateBatch) per transaction: \(rawResult.notes) deleted with tags, trails, text (no archive, no rank)")]))
    }
}

/// Number formatting for the log and the table.
enum Format {
    static func rate(_ x: Double) -> String { count(Int(x.rounded())) }

    static func count(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }

    /// Milliseconds with three significant digits.
    static func ms(_ x: Double) -> String {
        if x >= 100 { return String(format: "%.0f", x) }
        if x >= 10 { return String(format: "%.1f", x) }
        if x >= 1 { return String(format: "%.2f", x) }
        return String(format: "%.3f", x)
    }

    static func secs(_ x: Double) -> String { x >= 10 ? String(format: "%.1f s", x) : String(format: "%.2f s", x) }

    static func seconds(_ from: UInt64, _ to: UInt64) -> String { secs(Double(to - from) / 1e9) }

    static func kib(_ k: Int?) -> String {
        guard let k else { return "?" }
        return k >= 10 * 1024 ? "\(k / 1024) MiB" : String(format: "%.1f MiB", Double(k) / 1024)
    }

    static func ratio(_ r: Double?) -> String {
        guard let r, r.isFinite else { return "—" }
        return r >= 10 ? String(format: "%.0fx", r) : String(format: "%.2fx", r)
    }
}
