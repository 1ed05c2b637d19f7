import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import TrailServer

/// `traild`: the trail daemon, in the foreground.
@main
struct Traild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traild",
        abstract: "Keep a shared, decaying memory of small notes for agents, on a Unix socket.",
        discussion: """
            Runs in the foreground, logs to stderr and prints a line containing "ready" on stdout once it \
            listens. SIGTERM or SIGINT stops it cleanly: queued writes commit and are answered first.
            Precedence: flags, then the --config file, then TRAIL_SOCKET / XDG_RUNTIME_DIR / XDG_DATA_HOME, then defaults.
            """,
        version: TrailVersion.current)

    @Option(help: "Unix socket to listen on (default: $TRAIL_SOCKET, else $XDG_RUNTIME_DIR/trail/traild.sock, else /tmp/trail-$UID/traild.sock).")
    var socket: String?

    @Option(name: .customLong("data-dir"), help: "Folder for the store and locks (default: $XDG_DATA_HOME/trail, else ~/.local/share/trail).")
    var dataDir: String?

    @Option(help: "sqlite:PATH (default: sqlite:DATA_DIR/trail.db) or postgres://...")
    var store: String?

    @Option(help: "A JSON config file (see Daemon/traild.example.json).")
    var config: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Option(name: .customLong("compaction-interval"), help: "Seconds between background compactions (default 600; 0 turns them off).")
    var compactionInterval: Double?

    @Option(name: .customLong("model-dir"), help: "The embedding model's folder for recall by meaning (default: DATA_DIR/models/all-MiniLM-L6-v2; `make model` fetches it).")
    var modelDir: String?

    @Flag(name: .customLong("no-semantic"), help: "Turn recall by meaning off even when the model is there.")
    var noSemantic = false

    @Option(name: .customLong("max-connections"), help: "Connections served at once (default 1024); one more is told overloaded and closed.")
    var maxConnections: Int?

    @Option(name: .customLong("http"), help: "Serve /healthz over HTTP on ADDR:PORT (loopback unless the config sets http_remote; port 0 takes a free one).")
    var http: String?

    @Option(name: .customLong("embedding-threads"), help: "Threads that embed new notes in the background (default 1).")
    var embeddingThreads: Int?

    func run() async throws {
        ProcessMemory.configure()
        var configuration = DaemonConfiguration()
        do {
            if let config { try configuration.apply(configFile: config) }
            if let dataDir {
                configuration.dataDir = dataDir
                if store == nil, case .sqlite = configuration.store {
                    configuration.store = .sqlite(path: (dataDir as NSString).appendingPathComponent("trail.db"))
                }
            }
            if let socket { configuration.socketPath = socket }
            if let store { configuration.store = try StoreLocation(store) }
            if let logLevel { configuration.logLevel = logLevel }
            if let compactionInterval {
                guard compactionInterval >= 0, compactionInterval.isFinite else {
                    throw ConfigurationError.invalid("--compaction-interval must be a number of seconds, 0 or more")
                }
                configuration.compactionInterval = compactionInterval
            }
            if let modelDir { configuration.modelDir = modelDir }
            if noSemantic { configuration.semantic = false }
            if let maxConnections {
                guard (1...1_000_000).contains(maxConnections) else {
                    throw ConfigurationError.invalid("--max-connections must be a whole number from 1 to 1000000")
                }
                configuration.maxConnections = maxConnections
            }
            if let http { configuration.http = try HTTPAddress(parsing: http, what: "--http") }
            try configuration.checkHTTP()
            if let embeddingThreads {
                guard (1...64).contains(embeddingThreads) else {
                    throw ConfigurationError.invalid("--embedding-threads must be a whole number from 1 to 64")
                }
                configuration.embeddingThreads = embeddingThreads
            }
        } catch {
            throw ValidationError((error as? ConfigurationError)?.description ?? "\(error)")
        }
        guard let level = Logger.Level(rawValue: configuration.logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "traild")
        let daemon = TrailDaemon(config: configuration, logger: logger, registry: Self.bootstrapMetrics(configuration)) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as ConfigurationError {
            logger.critical("\(error.description)")
            throw ExitCode(1)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }

    /// With an HTTP listener, swift-metrics reports to a Prometheus registry
    /// that /metrics writes out; without one, metrics stay the no-op default.
    private static func bootstrapMetrics(_ configuration: DaemonConfiguration) -> PrometheusCollectorRegistry? {
        guard configuration.http != nil else { return nil }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // traild answers in tens of microseconds: buckets from 25 µs to 10 s.
        factory.durationHistogramBuckets["trail_request_duration_seconds"] = [
            .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
            .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        factory.durationHistogramBuckets["trail_compaction_duration_seconds"] = [
            .milliseconds(10), .milliseconds(100), .seconds(1), .seconds(10), .seconds(60), .seconds(600),
        ]
        factory.valueHistogramBuckets["trail_group_commit_writes"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
        MetricsSystem.bootstrap(factory)
        return registry
    }
}
