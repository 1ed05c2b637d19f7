import Foundation

/// Latency percentiles, in milliseconds.
struct Percentiles: Codable, Sendable {
    var p50: Double
    var p99: Double
    var p999: Double
    var samples: Int?

    init(p50: Double, p99: Double, p999: Double, samples: Int? = nil) {
        self.p50 = p50
        self.p99 = p99
        self.p999 = p999
        self.samples = samples
    }

    init(_ h: LatencyHistogram) {
        func ms(_ p: Double) -> Double { Double(h.valueAtPercentile(p)) / 1e6 }
        self.init(p50: ms(50), p99: ms(99), p999: ms(99.9), samples: Int(h.totalCount))
    }

    init(_ r: RedisBenchmarkResult) {
        self.init(p50: r.p50, p99: r.p99, p999: r.p999, samples: r.requests)
    }
}

/// One system's figure for one workload: a rate, a latency, or both.
struct Measure: Codable, Sendable {
    /// Operations per second (throughput rows), or seconds (compaction rows).
    var value: Double?
    var latency: Percentiles?
    /// How the figure was taken, e.g. the command redis-benchmark ran.
    var how: String?
    /// Set when the run's measuring window had to be stretched (`MeasuringWindow.note`).
    var window: String?
}

/// How a row's figures compare: higher throughput is better, lower time is.
enum Better: String, Codable, Sendable {
    case higher, lower
}

/// One line of the table: a workload on every system that ran it.
struct TableRow: Codable, Sendable {
    var workload: String
    var title: String
    /// Notes in the store while it ran (reads, mix, compaction).
    var notes: Int?
    var unit: String
    var better: Better
    var trail: Measure
    /// Peer name -> its figure. Peers: `redis` (for reads: whole notes
    /// through a Lua function), `redis-zrevrange` (W3: the bare index read,
    /// ids and scores only), `sqlite` (raw SQLite), `fsync` (the disk).
    var peers: [String: Measure]

    /// trail's speed over the peer's (above 1: trail is faster). Rates:
    /// trail / peer; times: peer / trail. Rows with latencies only (reads)
    /// compare them at `percentile` (50, 99 or 99.9), peer / trail.
    func ratio(_ peer: String, percentile: Double = 99) -> Double? {
        guard let p = peers[peer] else { return nil }
        if let a = trail.value, let b = p.value {
            guard a > 0, b > 0 else { return nil }
            return better == .higher ? a / b : b / a
        }
        if let a = trail.latency, let b = p.latency {
            let (x, y) = percentile == 50 ? (a.p50, b.p50) : percentile == 99.9 ? (a.p999, b.p999) : (a.p99, b.p99)
            return x > 0 ? y / x : nil
        }
        return nil
    }
}

/// traild's and redis-server's peak resident memory at one store size.
struct MemoryRow: Codable, Sendable {
    var notes: Int
    var traildPeakKiB: Int?
    var redisPeakKiB: Int?
}

/// What the machine is and what ran on it.
struct MachineInfo: Codable, Sendable {
    var cpu: String
    var cores: Int
    var memoryGiB: Double
    var kernel: String
    var filesystem: String
    var loadAverageStart: String
    var loadAverageEnd: String?
    var traild: String
    var commit: String?
    var redis: String
    var redisBenchmark: String
    var sqlite: String
    var swift: String?
}

/// Everything one run measured; written as latest.json and rendered as latest.md.
struct BenchResults: Codable, Sendable {
    var profile: Profile
    var startedAt: String
    var seconds: Double?
    var pipeline: Int
    var duration: Double
    var warmup: Double
    var sizes: [Int]
    var machine: MachineInfo
    var fsyncPerSecond: Double
    var rows: [TableRow] = []
    var memory: [MemoryRow] = []
    var compactionPeakKiB: Int?
    /// The meaning phase's figures (nil when it did not run).
    var meaning: MeaningResults?
}

extension Measure {
    /// traild's figure from a timed run: its rate (unless `rate` is false:
    /// latency rows), its latencies, and how it was taken, followed by the
    /// window's note when the window had to be extended.
    init(_ run: LoadResult, rate: Bool = true, how: String) {
        self.init(value: rate ? run.perSecond : nil, latency: Percentiles(run.allLatency),
                  how: run.windowNote.map { "\(how) (\($0))" } ?? how, window: run.windowNote)
    }
}
