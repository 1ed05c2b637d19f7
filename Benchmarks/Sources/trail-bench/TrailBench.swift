import ArgumentParser
import Foundation

/// `trail-bench`: traild side by side with Redis (AOF, appendfsync always),
/// raw SQLite (same schema, synchronous=FULL, batched) and the disk's fsync
/// rate, on this machine, in one run. Writes `latest.md`, `latest.json` and
/// `sense-latency.svg` into `--out`.
@main
struct TrailBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trail-bench",
        abstract: "Measure traild against Redis, raw SQLite and the disk, and write one table of ratios.",
        discussion: """
            Starts its own traild and redis-server on temporary sockets and data dirs, loads them with \
            this program (traild) and redis-benchmark (Redis) at the same client counts and pipeline depth, \
            and runs the raw SQLite peer in this process. See Benchmarks/README.md.
            """)

    @Flag(help: "The profile: --quick (default, under 5 minutes), --full (up to 1M notes) or --smoke (tiny sizes, for tests).")
    var profile: Profile = .quick

    @Option(help: "Folder for latest.md, latest.json and sense-latency.svg.")
    var out: String = "Benchmarks/results"

    @Option(help: "The traild binary (default: traild beside this program).")
    var traild: String?

    @Option(name: .customLong("redis-server"), help: "The redis-server binary.")
    var redisServer: String = "redis-server"

    @Option(name: .customLong("redis-benchmark"), help: "The redis-benchmark binary.")
    var redisBenchmark: String = "redis-benchmark"

    @Option(help: "Pipeline depth of the pipelining clients (requests in flight per connection).")
    var pipeline: Int = 16

    @Option(help: "Client counts of the pipelining write runs, comma-separated.")
    var clients: String = "16,64"

    @Option(help: "Seconds each timed run measures (default: the profile's).")
    var duration: Double?

    @Option(help: "Store sizes for the read workloads, comma-separated (default: the profile's).")
    var sizes: String?

    @Option(name: .customLong("work-dir"), help: "Where the temporary sockets and data dirs go (default: a new folder under $TMPDIR).")
    var workDir: String?

    @Flag(help: "Keep the work dir (stores, logs) afterwards, and the databases made on --postgres-url's server.")
    var keep = false

    @Option(help: "Run only these phases, comma-separated: writes (W1, W2), reads (W3-W6), compaction (W7), meaning (recall by meaning: embedding throughput, sense by meaning beside sqlite-vec, the index's memory), postgres (traild on PostgreSQL beside raw PostgreSQL and traild on SQLite: postgres.md; not run unless named).")
    var only: String?

    @Option(name: .customLong("model-dir"), help: "The embedding model's folder for the meaning phase (default: models/all-MiniLM-L6-v2 of this repository; `make model` fetches it).")
    var modelDir: String?

    @Option(name: .customLong("postgres-url"), help: "With --only postgres: use this server (postgres://USER:PASSWORD@HOST:PORT/DB; USER needs CREATEDB) instead of starting a throwaway cluster.")
    var postgresURL: String?

    @Option(name: .customLong("postgres-bin"), help: "The PostgreSQL server's binaries for the throwaway cluster (default: the newest /usr/lib/postgresql/*/bin).")
    var postgresBin: String?

    @Option(help: "Measure nothing: render latest.md and the chart again from this latest.json (after a change to the report).")
    var render: String?

    @Option(help: "Record traild with perf during each trail workload and write the flat profiles (NAME.txt) into this folder.")
    var perf: String?

    func validate() throws {
        guard pipeline >= 1, pipeline <= 512 else { throw ValidationError("--pipeline must be 1 to 512 (traild reads at most 512 unanswered requests per connection)") }
        guard parsedClients != nil else { throw ValidationError("--clients must be whole numbers from 1 to 1000, comma-separated") }
        if sizes != nil, parsedSizes == nil { throw ValidationError("--sizes must be whole numbers of at least 100, comma-separated") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a number of seconds above 0") }
        if parsedPhases == nil { throw ValidationError("--only takes writes, reads, compaction, meaning and postgres, comma-separated") }
        if let postgresURL, !(postgresURL.hasPrefix("postgres://") || postgresURL.hasPrefix("postgresql://")) {
            throw ValidationError("--postgres-url must be postgres://USER:PASSWORD@HOST:PORT/DB")
        }
    }

    private var parsedClients: [Int]? {
        let values = clients.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 1000 }) else { return nil }
        return values.compactMap { $0 }
    }

    private var parsedPhases: Set<Phase>? {
        guard let only else { return Set(Phase.classic) }
        let values = only.split(separator: ",").map { Phase(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { return nil }
        return Set(values.compactMap { $0 })
    }

    private var parsedSizes: [Int]? {
        guard let sizes else { return nil }
        let values = sizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 100 }) else { return nil }
        return values.compactMap { $0 }.sorted()
    }

    func run() async throws {
        if let render {
            do {
                let results = try JSONDecoder().decode(BenchResults.self, from: Data(contentsOf: URL(fileURLWithPath: render)))
                try Report(results: results).write(to: out)
            } catch {
                FileHandle.standardError.write(Data("trail-bench: cannot render \(render): \(error)\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        var config = BenchConfiguration(profile: profile)
        config.pipeline = pipeline
        config.writeClients = parsedClients ?? config.writeClients
        if let duration { config.duration = duration }
        if let s = parsedSizes { config.sizes = s }
        config.outDir = out
        config.traild = traild ?? Self.besideSelf("traild")
        config.redisServer = redisServer
        config.redisBenchmark = redisBenchmark
        config.workDir = workDir
        config.keepWorkDir = keep
        config.perfDir = perf
        config.phases = parsedPhases ?? Set(Phase.classic)
        config.postgresURL = postgresURL
        config.postgresBin = postgresBin
        config.modelDir = modelDir ?? Self.inRepository("models/all-MiniLM-L6-v2")
        let run = try BenchRun(config: config)
        do {
            try await run.run()
        } catch let failure as BenchFailure {
            FileHandle.standardError.write(Data("trail-bench: \(failure.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// A program in the same folder as this one (the same build's traild).
    static func besideSelf(_ name: String) -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// A file of this repository (`relative` to its root): under the
    /// working directory, else under a folder above this program (which
    /// lives in .build/<triple>/release/).
    static func inRepository(_ relative: String) -> String? {
        var candidates = [FileManager.default.currentDirectoryPath + "/" + relative]
        var dir = URL(fileURLWithPath: TrailBench.besideSelf("trail-bench")).deletingLastPathComponent()
        for _ in 0..<5 {
            dir = dir.deletingLastPathComponent()
            candidates.append(dir.appendingPathComponent(relative).path)
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}

/// Which sizes and durations a run uses.
enum Profile: String, EnumerableFlag, Codable, Sendable {
    case quick, full, smoke
}

/// The parts of a run, for --only. A run without --only runs the classic
/// four (latest.md); `postgres` runs when named (postgres.md).
enum Phase: String, CaseIterable, Sendable {
    case writes, reads, compaction, meaning, postgres

    /// traild beside Redis, raw SQLite, sqlite-vec and the disk: latest.md.
    static let classic: [Phase] = [.writes, .reads, .compaction, .meaning]
    /// The phases that start Redis.
    static let withRedis: Set<Phase> = [.writes, .reads, .compaction]
}

/// A failure that ends the run with a message saying what to do.
struct BenchFailure: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
