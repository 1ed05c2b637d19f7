import ArgumentParser
import Foundation
import TrailPostgres

/// Which store a command that works on the store's files (not through the
/// daemon) opens: `check` and `backup`.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp(
        "traild's data dir: the store is DIR/trail.db, its packs DIR/packs (default: traild's default).", valueName: "dir"))
    var dataDir: String?

    @Option(name: .long, help: ArgumentHelp(
        "sqlite:PATH (its packs in --data-dir's packs/, as traild keeps them) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB.", valueName: "store"))
    var store: String?

    @Flag(name: .long, help: "Print the report as one line of JSON, for scripts.")
    var json = false

    enum Location {
        case sqlite(path: String, packs: String)
        case postgres(PostgresLocation)
    }

    /// The store named, as traild would find it with the same flags.
    func resolve() throws -> Location {
        if let store {
            if store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") {
                do {
                    return .postgres(try PostgresLocation(parsing: store))
                } catch {
                    throw CtlFailure.usage("--store: \(error.description)")
                }
            }
            guard store.hasPrefix("sqlite:"), store.count > 7 else {
                throw CtlFailure.usage("--store must be sqlite:PATH or postgres://..., not \(store.debugDescription)")
            }
            let path = String(store.dropFirst(7))
            // As traild: packs are in the data dir's packs/, whatever --store says.
            return .sqlite(path: path, packs: (dataDir ?? Self.defaultDataDir(ProcessInfo.processInfo.environment)) + "/packs")
        }
        let dir = dataDir ?? Self.defaultDataDir(ProcessInfo.processInfo.environment)
        return .sqlite(path: dir + "/trail.db", packs: dir + "/packs")
    }

    /// traild's default data dir (SPEC.md §7): $XDG_DATA_HOME/trail, else ~/.local/share/trail.
    static func defaultDataDir(_ environment: [String: String]) -> String {
        if let d = environment["XDG_DATA_HOME"], !d.isEmpty { return "\(d)/trail" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share/trail"
    }
}
