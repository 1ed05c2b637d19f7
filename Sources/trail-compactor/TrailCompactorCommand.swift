import ArgumentParser
import Foundation
import TrailCompactor
import TrailCore
import TrailPostgres
import TrailSQLite
import TrailStore

/// `trail-compactor`: compaction as its own process, against a store that a
/// running `traild` may be using at the same time (SQLite's write lock keeps
/// the two apart: a batch is packed outside it and archived in short write
/// transactions, and a pack being written is claimed; on PostgreSQL,
/// a namespace's advisory lock keeps every daemon's compaction of it apart).
@main
struct TrailCompactorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trail-compactor",
        abstract: "Evaporate faded notes into archive packs, rank the trail graph, rebase old landmarks.",
        discussion: """
            Works on the store directly, beside a running traild or without one. Each batch of notes is \
            packed outside the store's write lock and archived in short transactions under it, so traild \
            keeps serving. \
            Prints one JSON report per namespace and run on stdout.
            """)

    @Option(name: .customLong("data-dir"), help: "traild's data dir (the store is DATA_DIR/trail.db).")
    var dataDir: String?

    @Option(help: "sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DB of the store (default: sqlite:DATA_DIR/trail.db).")
    var store: String?

    @Option(help: "Only this namespace (default: every namespace).")
    var ns: String?

    @Flag(help: "Run once and exit (the default).")
    var once = false

    @Option(help: "Run every this many seconds until interrupted.")
    var interval: Double?

    @Option(help: "Notes per archive pack and transaction.")
    var batch: Int = CompactorSettings().batch

    func validate() throws {
        if once && interval != nil { throw ValidationError("give --once or --interval, not both") }
        if let interval, !(interval > 0) { throw ValidationError("--interval must be a number of seconds above 0") }
        if dataDir == nil && store == nil { throw ValidationError("give --data-dir DIR or --store sqlite:PATH (or postgres://...)") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let ns { _ = try Validate.namespace(ns) }
    }

    func run() async throws {
        let opened = try await openStore()
        var settings = CompactorSettings()
        settings.batch = batch
        let compactor = Compactor(store: opened, settings: settings)
        repeat {
            for report in try await compactor.compact(ns: ns) {
                let line: [String: Any] = [
                    "ns": report.ns, "started_at": Timestamp.rfc3339(millis: report.startedAtMillis),
                    "duration_ms": report.durationMillis, "evaporated": report.evaporated,
                    "archived_bytes": report.archivedBytes, "ranked": report.ranked, "rebased": report.rebased,
                ]
                let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            }
            if let interval { try await Task.sleep(for: .seconds(interval)) }
        } while interval != nil
        await opened.close()
    }

    /// The store `--store` or `--data-dir` names.
    private func openStore() async throws -> any TrailStore {
        if let store, store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") {
            let location: PostgresLocation
            do {
                location = try PostgresLocation(parsing: store)
            } catch {
                throw ValidationError("--store: \(error.description)")
            }
            let daemon = "trail-compactor@\(ProcessInfo.processInfo.hostName):\(getpid())"
            do {
                return try await Task.detached { try PostgresStore(location: location, daemon: daemon, readConnections: 1) }.value
            } catch let error as TrailError {
                FileHandle.standardError.write(Data("trail-compactor: \(error.message)\n".utf8))
                throw ExitCode(1)
            }
        }
        let path: String
        if let store {
            guard store.hasPrefix("sqlite:"), store.count > 7 else { throw ValidationError("--store must be sqlite:PATH or postgres://...") }
            path = String(store.dropFirst(7))
        } else {
            path = dataDir! + "/trail.db"
        }
        guard FileManager.default.fileExists(atPath: path) else {
            FileHandle.standardError.write(Data("trail-compactor: no store at \(path); start traild once with this data dir first\n".utf8))
            throw ExitCode(1)
        }
        return try SQLiteStore(path: path, keyMirror: false, fault: CompactionFault.fromEnvironment())
    }
}
