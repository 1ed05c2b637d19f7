import Foundation
import Glibc
import TrailCompactor
import TrailCore
import TrailPostgres

/// Where the store lives.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// Reads `sqlite:PATH` or `postgres://...` (also `postgresql://`).
    public init(_ text: String) throws(ConfigurationError) {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw .invalid("--store sqlite: needs a file path, as in sqlite:/var/lib/trail/trail.db") }
            self = .sqlite(path: path)
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            do {
                self = .postgres(try PostgresLocation(parsing: text))
            } catch {
                throw .invalid("--store: \(error.description)")
            }
        } else {
            throw .invalid("--store must be sqlite:PATH or postgres://..., not \(text.debugDescription)")
        }
    }

    public var description: String {
        switch self {
        case let .sqlite(path): "sqlite:\(path)"
        case let .postgres(location): location.redacted
        }
    }
}

/// A configuration that cannot be used, with what to change.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public static func invalid(_ why: String) -> ConfigurationError { ConfigurationError(description: why) }
}

/// Everything `traild` needs to start: built from defaults, the `--config`
/// file, the environment and the flags, in that order of precedence (flags win).
public struct DaemonConfiguration: Sendable {
    public var socketPath: String
    public var dataDir: String
    public var store: StoreLocation
    /// The socket's group (`socket_group`); the socket is 0660 with it
    /// unless `socketMode` says otherwise.
    public var socketGroup: String?
    /// The socket's mode (`socket_mode`); nil means 0600, or 0660 with a group.
    public var socketMode: mode_t?
    /// Who may do what (`access`, contract §10); without rules, every peer may do everything.
    public var access: AccessPolicy
    /// The `--config` file, re-read for its access rules on SIGHUP.
    public var configFile: String?
    public var maxFrameBytes: Int
    public var logLevel: String
    /// Seconds between background compactions; 0 turns them off.
    public var compactionInterval: Double
    /// How the compactor works (batch size, rebase bound).
    public var compaction: CompactorSettings
    /// The embedding model's folder (recall by meaning); nil means
    /// `DATA_DIR/models/all-MiniLM-L6-v2`. Without its files traild runs
    /// without recall by meaning.
    public var modelDir: String?
    /// False turns recall by meaning off even when the model is there.
    public var semantic: Bool
    /// Threads the indexer embeds new notes on.
    public var embeddingThreads: Int
    /// Connections served at once; one more is told `overloaded` and closed.
    public var maxConnections: Int
    /// The HTTP listener (`--http`, config `http`): off when nil.
    public var http: HTTPAddress?
    /// Lets `http` be an address other hosts reach (config `http_remote`).
    public var httpRemote: Bool
    /// Bytes of watch events one connection may leave unread before its
    /// events are dropped and counted (`watch_backlog_bytes`).
    public var watchBacklogBytes: Int
    public static let defaultWatchBacklogBytes = 4 << 20
    /// With several daemons on one database: the most write-log rows of the
    /// others' writes a daemon replays to its watchers after its listening
    /// connection was down; beyond, they get `trail.gap` (`watch_catch_up_rows`).
    public var watchCatchUpRows: Int
    public static let defaultWatchCatchUpRows = 10_000

    /// The model folder in force.
    public var modelPath: String {
        modelDir ?? (dataDir as NSString).appendingPathComponent("models/all-MiniLM-L6-v2")
    }

    /// The contract's defaults for this environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = Self.defaultSocketPath(environment: environment)
        dataDir = Self.defaultDataDir(environment: environment)
        store = .sqlite(path: (dataDir as NSString).appendingPathComponent("trail.db"))
        socketGroup = nil
        socketMode = nil
        access = AccessPolicy(rules: nil, owner: getuid())
        configFile = nil
        maxFrameBytes = Limits.maxFrameBytes
        logLevel = "info"
        compactionInterval = 600
        compaction = CompactorSettings()
        modelDir = nil
        semantic = true
        embeddingThreads = 1
        maxConnections = 1024
        watchBacklogBytes = Self.defaultWatchBacklogBytes
        watchCatchUpRows = Self.defaultWatchCatchUpRows
        http = nil
        httpRemote = false
    }

    /// `TRAIL_SOCKET`, else `$XDG_RUNTIME_DIR/trail/traild.sock`, else `/tmp/trail-$UID/traild.sock`.
    public static func defaultSocketPath(environment: [String: String]) -> String {
        if let s = environment["TRAIL_SOCKET"], !s.isEmpty { return s }
        if let run = environment["XDG_RUNTIME_DIR"], !run.isEmpty { return "\(run)/trail/traild.sock" }
        return "/tmp/trail-\(getuid())/traild.sock"
    }

    /// `$XDG_DATA_HOME/trail`, else `~/.local/share/trail`.
    public static func defaultDataDir(environment: [String: String]) -> String {
        if let d = environment["XDG_DATA_HOME"], !d.isEmpty { return "\(d)/trail" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return "\(home)/.local/share/trail"
    }

    /// Refuses an HTTP address other hosts could reach unless the config
    /// says so: the listener serves the store's figures (and, with its
    /// token, its notes).
    public func checkHTTP() throws(ConfigurationError) {
        guard let http, !http.isLoopback, !httpRemote else { return }
        throw .invalid("the HTTP listener's address \(http) is not a loopback address; use 127.0.0.1 or [::1], or set \"http_remote\": true in the config to serve other hosts")
    }

    /// The socket's mode in force.
    public var effectiveSocketMode: mode_t { socketMode ?? (socketGroup == nil ? 0o600 : 0o660) }

    /// Applies a JSON config file: `socket`, `data_dir`, `store`, `socket_group`,
    /// `socket_mode`, `access`, `max_frame_bytes`, `log_level` and the rest
    /// of Daemon/README.md's list. Unknown keys are refused.
    public mutating func apply(configFile path: String) throws(ConfigurationError) {
        configFile = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalid("cannot read the config file \(path); check the path and its permissions")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalid("the config file \(path) is not a JSON object; see Daemon/traild.example.json")
        }
        let known: Set = ["socket", "data_dir", "store", "socket_group", "max_frame_bytes", "log_level",
                          "compaction_interval_s", "compaction_batch", "rebase_after_half_lives", "model_dir", "semantic",
                          "embedding_threads", "max_connections", "socket_mode", "access", "watch_backlog_bytes", "watch_catch_up_rows", "http", "http_remote"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw .invalid("the config file \(path) has an unknown key \(unknown.debugDescription); known keys: \(known.sorted().joined(separator: ", "))")
        }
        func string(_ key: String) throws(ConfigurationError) -> String? {
            guard let v = object[key] else { return nil }
            guard let s = v as? String else { throw .invalid("\(key) in \(path) must be a string") }
            return s
        }
        if let v = try string("data_dir") {
            dataDir = v
            store = .sqlite(path: (v as NSString).appendingPathComponent("trail.db"))
        }
        if let v = try string("socket") { socketPath = v }
        if let v = try string("store") { store = try StoreLocation(v) }
        if let v = try string("socket_group") { socketGroup = v }
        if let v = object["socket_mode"] { socketMode = try AccessConfiguration.socketMode(v, path: path) }
        if let v = object["access"] { access = try AccessConfiguration.policy(from: v, path: path) }
        if let v = try string("log_level") { logLevel = v }
        if let v = try string("model_dir") { modelDir = v }
        if let v = object["semantic"] {
            guard let b = v as? Bool else { throw .invalid("semantic in \(path) must be true or false") }
            semantic = b
        }
        if let v = object["max_connections"] {
            guard let n = v as? Int, (1...1_000_000).contains(n) else { throw .invalid("max_connections in \(path) must be a whole number from 1 to 1000000") }
            maxConnections = n
        }
        if let v = try string("http") { http = try HTTPAddress(parsing: v, what: "http in \(path)") }
        if let v = object["http_remote"] {
            guard let b = v as? Bool else { throw .invalid("http_remote in \(path) must be true or false") }
            httpRemote = b
        }
        if let v = object["watch_backlog_bytes"] {
            guard let n = v as? Int, (4096...(1 << 30)).contains(n) else {
                throw .invalid("watch_backlog_bytes in \(path) must be a whole number of bytes from 4096 to 1073741824")
            }
            watchBacklogBytes = n
        }
        if let v = object["watch_catch_up_rows"] {
            guard let n = v as? Int, !(v is Bool), (1...1_000_000).contains(n) else {
                throw .invalid("watch_catch_up_rows in \(path) must be a whole number of write-log rows from 1 to 1000000")
            }
            watchCatchUpRows = n
        }
        if let v = object["embedding_threads"] {
            guard let n = v as? Int, (1...64).contains(n) else { throw .invalid("embedding_threads in \(path) must be a whole number from 1 to 64") }
            embeddingThreads = n
        }
        func number(_ key: String, atLeast low: Double) throws(ConfigurationError) -> Double? {
            guard let v = object[key] else { return nil }
            guard let n = (v as? NSNumber)?.doubleValue, n.isFinite, n >= low else {
                throw .invalid("\(key) in \(path) must be a number of at least \(low)")
            }
            return n
        }
        if let v = try number("compaction_interval_s", atLeast: 0) { compactionInterval = v }
        if let v = try number("compaction_batch", atLeast: 1) { compaction.batch = Int(v) }
        if let v = try number("rebase_after_half_lives", atLeast: 0) { compaction.rebaseBound = v }
        if let v = object["max_frame_bytes"] {
            guard let n = v as? Int, n >= 1024 else { throw .invalid("max_frame_bytes in \(path) must be a whole number of at least 1024") }
            maxFrameBytes = n
        }
    }
}

extension DaemonConfiguration {
    /// The access rules of the config file at `path` as it is now (SIGHUP):
    /// the whole file must still be a valid config; only its rules are taken.
    public static func accessRules(reReading path: String) throws(ConfigurationError) -> AccessPolicy {
        var fresh = DaemonConfiguration()
        try fresh.apply(configFile: path)
        return fresh.access
    }
}
