import Foundation

/// Everything the postgres phase measured: written as postgres.json and
/// rendered as postgres.md. Its rows are `TableRow`s whose `trail` is traild
/// on PostgreSQL (one daemon); peers are named in `PostgresPeer`.
struct PostgresResults: Codable, Sendable {
    var profile: Profile
    var startedAt: String
    var seconds: Double?
    var pipeline: Int
    var duration: Double
    var warmup: Double
    var sizes: [Int]
    var machine: MachineInfo
    var server: PostgresServerInfo
    var fsyncPerSecond: Double
    /// `SELECT 1` through postgres-nio, from this program.
    var roundTrip: RoundTrips
    /// Deposits per transaction of the raw peer (traild's mean group at the most clients).
    var rawBatch: Int
    var rows: [TableRow] = []
    /// What each W1 run cost, and the groups traild committed.
    var writes: [WriteCost] = []
    /// What reads (W3, W4, W6) cost each daemon and the server.
    var reads: [ReadCost] = []
    var preload: [PreloadStep] = []
    /// How the SQL preload was held to the engine's import.
    var preloadCheck: String
}

/// The peers of traild on PostgreSQL in `TableRow.peers`.
enum PostgresPeer {
    /// Two traild on one database, the clients split between their sockets (W1: the total rate).
    static let twoDaemons = "pg-2daemons"
    /// traild on its embedded SQLite store, the same workload in the same run.
    static let sqlite = "sqlite-traild"
    /// The engine's own statements from this process (W1: batched like traild's groups; W3: one statement).
    static let raw = "raw-pg"
    /// W3: the engine (`PostgresStore.sense`) in this process, without the daemon around it.
    static let engine = "engine-pg"
    /// W1: the statements of the engine before commit 23faa11 (one insert per deposit), batched the same way.
    static let rawPerDeposit = "raw-pg-per-deposit"
    /// W3: the statements of the engine before commit acd2809 (the clock and the namespace, then the page).
    static let rawTwo = "raw-pg-two"
    static let fsync = "fsync"
}

struct PostgresServerInfo: Codable, Sendable {
    var origin: String
    var version: String
    var settings: [Setting]
    var dataDir: String?
    /// The filesystem holding the data dir, and the one holding SQLite's stores.
    var filesystem: String
    var sqliteFilesystem: String

    struct Setting: Codable, Sendable {
        var name: String
        var value: String
    }
}

struct RoundTrips: Codable, Sendable {
    /// `try await connection.query(...)`, as the engine's readers.
    var async: Percentiles
    /// A thread blocked on the statement's future, as the engine's writer (`BlockingSession`).
    var blocking: Percentiles
}

/// One W1 run's cost.
struct WriteCost: Codable, Sendable {
    /// traild-pg, traild-pg-2daemons, traild-sqlite, raw-pg, raw-pg-per-deposit.
    var system: String
    var clients: Int?
    var perSecond: Double
    /// Deposits counted in the window.
    var deposits: Int
    /// The transactions traild committed (from its write-log rows: one `at` per group and daemon).
    var groups: GroupSizes?
    /// CPU microseconds per deposit: the daemons, the PostgreSQL server's processes, this program.
    var traildMicros: Double?
    var postgresMicros: Double?
    var benchMicros: Double?
}

/// One read run's cost: CPU microseconds per request of the daemon (or of
/// this program, for the raw peer) and of the PostgreSQL server's processes.
struct ReadCost: Codable, Sendable {
    var workload: String
    /// traild-pg, traild-sqlite, raw-pg (the engine's statement), engine-pg (the engine in process), raw-pg-two (the clock, then the page).
    var system: String
    var notes: Int
    var perSecond: Double
    var traildMicros: Double?
    var postgresMicros: Double?
    var benchMicros: Double?
}

struct GroupSizes: Codable, Sendable {
    var count: Int
    var mean: Double
    var p50: Int
    var max: Int

    init?(_ sizes: [Int]) {
        guard !sizes.isEmpty else { return nil }
        let sorted = sizes.sorted()
        count = sizes.count
        mean = Double(sizes.reduce(0, +)) / Double(sizes.count)
        p50 = sorted[sorted.count / 2]
        max = sorted.last!
    }
}

/// Loading one step of the read ladder.
struct PreloadStep: Codable, Sendable {
    var notes: Int
    /// The SQL preload into PostgreSQL (with VACUUM ANALYZE and a checkpoint after).
    var postgresSeconds: Double
    /// trail.import into traild on SQLite.
    var sqliteSeconds: Double
}
