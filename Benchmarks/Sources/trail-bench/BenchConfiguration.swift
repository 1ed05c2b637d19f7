import Foundation

/// Everything a run needs to know, built once from the command line.
struct BenchConfiguration: Sendable {
    var profile: Profile
    /// Requests in flight per pipelining connection (redis-benchmark -P).
    var pipeline = 16
    /// Connection counts of the pipelining write runs (W1); the largest is
    /// also the reinforce (W2) and mixed (W6) count.
    var writeClients = [16, 64]
    /// Seconds each timed run measures, after `warmup` seconds not counted.
    var duration: Double
    var warmup: Double
    /// Store sizes of the read workloads (W3, W4, W5), ascending.
    var sizes: [Int]
    /// Notes in the Zipf-hot set of W2.
    var hotSet: Int
    /// Notes loaded for W7, of which `fadedShare` are faded.
    var compactNotes: Int
    var fadedShare = 0.9
    /// Records per trail.import call and per SQLite load transaction.
    var loadBatch = 1000
    /// Writes per transaction of the raw SQLite peer.
    var sqliteBatch = 1000
    /// Notes the compactor (and the peers' evaporation) handle per transaction.
    var evaporateBatch = 2000

    var outDir = "Benchmarks/results"
    var traild = ".build/release/traild"
    var redisServer = "redis-server"
    var redisBenchmark = "redis-benchmark"
    var workDir: String?
    var keepWorkDir = false
    /// The phases to run (the classic three by default).
    var phases = Set(Phase.classic)
    /// The postgres phase: an existing server to use (nil: a throwaway
    /// cluster in the work dir), and the binaries of that cluster.
    var postgresURL: String?
    var postgresBin: String?
    /// Where `perf record` profiles of traild go, one per trail workload (nil: no profiling).
    var perfDir: String?

    /// The meaning phase: the model's folder (nil: not found, the phase
    /// cannot run), questions asked at each size, real embeddings the
    /// synthetic vectors mix, notes of about 100 and 2,000 bytes embedded
    /// for the throughput, traild's embedding threads, and whether
    /// sqlite-vec and ONNX Runtime run beside traild.
    var modelDir: String?
    var meaningQueries = 300
    var meaningBaseVectors = 2000
    var embedNotesSmall = 1000
    var embedNotesLarge = 200
    var embeddingThreads = [1, 2]
    var sqliteVec = true
    var onnxRuntime = true

    init(profile: Profile) {
        self.profile = profile
        switch profile {
        case .quick:
            duration = 2.5
            warmup = 0.5
            sizes = [10_000, 100_000]
            hotSet = 10_000
            compactNotes = 100_000
        case .full:
            duration = 5
            warmup = 1
            sizes = [10_000, 100_000, 1_000_000]
            hotSet = 10_000
            compactNotes = 1_000_000
        case .smoke:
            duration = 0.3
            warmup = 0.05
            sizes = [300, 1_000]
            hotSet = 200
            compactNotes = 1_000
            loadBatch = 250
            meaningQueries = 12
            meaningBaseVectors = 64
            embedNotesSmall = 24
            embedNotesLarge = 4
            sqliteVec = false
        }
    }

    /// The connection count of W2 and W6: the largest write count.
    var manyClients: Int { writeClients.max() ?? 64 }
}
