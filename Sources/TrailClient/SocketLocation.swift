import Foundation

/// Where a daemon's socket is, and how that was decided (for messages).
///
/// Found the way SPEC.md §3 says, first match wins: the `--socket` flag,
/// `TRAIL_SOCKET`, `$XDG_RUNTIME_DIR/trail/traild.sock`, then
/// `/tmp/trail-$UID/traild.sock`. Empty variables count as unset, as the
/// daemon reads them. A client given neither flag nor variable whose own
/// default has no socket uses the system daemon's, `/run/trail/traild.sock`
/// (the Debian package's), when its folder exists: as docker's CLI finds
/// its daemon. The folder, not the socket, decides: a user outside the
/// daemon's group cannot see into it, and is better told "permission
/// denied" there than "no daemon" at a path of their own. traild itself
/// never falls back (it listens where it was told).
public struct SocketLocation: Sendable, Equatable, CustomStringConvertible {
    /// Which rule chose the path.
    public enum Source: Sendable, Equatable {
        case flag
        case environment
        case runtimeDirectory
        case fallback
        /// The system daemon's socket, used because the user's own default had none.
        case system
    }

    /// The system daemon's socket (Daemon/trail.service, the Debian package).
    public static let systemSocket = "/run/trail/traild.sock"

    public var path: String
    public var source: Source

    public init(path: String, source: Source) {
        self.path = path
        self.source = source
    }

    /// Resolves the socket: `flag` first, then the environment, then the
    /// user's default, then (when `system` is given, the user's default has
    /// no socket and `system`'s folder exists) the system daemon's.
    /// `exists` says whether a path has something there.
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               uid: UInt32 = getuid(), system: String? = nil,
                               exists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> SocketLocation {
        if let flag, !flag.isEmpty { return SocketLocation(path: flag, source: .flag) }
        if let s = environment["TRAIL_SOCKET"], !s.isEmpty { return SocketLocation(path: s, source: .environment) }
        let own: SocketLocation
        if let run = environment["XDG_RUNTIME_DIR"], !run.isEmpty {
            own = SocketLocation(path: "\(run)/trail/traild.sock", source: .runtimeDirectory)
        } else {
            own = SocketLocation(path: "/tmp/trail-\(uid)/traild.sock", source: .fallback)
        }
        if let system, !exists(own.path), exists((system as NSString).deletingLastPathComponent) {
            return SocketLocation(path: system, source: .system)
        }
        return own
    }

    /// How a client resolves it: as `resolve`, falling back to the system daemon's socket.
    public static func forClient(flag: String?) -> SocketLocation {
        resolve(flag: flag, system: systemSocket)
    }

    /// How the path was chosen, in words: `from --socket`, `from TRAIL_SOCKET`, ...
    public var origin: String {
        switch source {
        case .flag: "from --socket"
        case .environment: "from TRAIL_SOCKET"
        case .runtimeDirectory: "the default under $XDG_RUNTIME_DIR"
        case .fallback: "the default for a session without XDG_RUNTIME_DIR"
        case .system: "the system daemon's, since there is no socket of your own"
        }
    }

    public var description: String { path }
}
