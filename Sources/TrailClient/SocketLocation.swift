import Foundation

/// Where a daemon's socket is, and how that was decided (for messages).
///
/// Found the way SPEC.md §3 says, first match wins: the `--socket` flag,
/// `TRAIL_SOCKET`, `$XDG_RUNTIME_DIR/trail/traild.sock`, then
/// `/tmp/trail-$UID/traild.sock`. Empty variables count as unset, as the
/// daemon reads them.
public struct SocketLocation: Sendable, Equatable, CustomStringConvertible {
    /// Which rule chose the path.
    public enum Source: Sendable, Equatable {
        case flag
        case environment
        case runtimeDirectory
        case fallback
    }

    public var path: String
    public var source: Source

    public init(path: String, source: Source) {
        self.path = path
        self.source = source
    }

    /// Resolves the socket: `flag` first, then the environment, then the default.
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               uid: UInt32 = getuid()) -> SocketLocation {
        if let flag, !flag.isEmpty { return SocketLocation(path: flag, source: .flag) }
        if let s = environment["TRAIL_SOCKET"], !s.isEmpty { return SocketLocation(path: s, source: .environment) }
        if let run = environment["XDG_RUNTIME_DIR"], !run.isEmpty {
            return SocketLocation(path: "\(run)/trail/traild.sock", source: .runtimeDirectory)
        }
        return SocketLocation(path: "/tmp/trail-\(uid)/traild.sock", source: .fallback)
    }

    /// How the path was chosen, in words: `from --socket`, `from TRAIL_SOCKET`, ...
    public var origin: String {
        switch source {
        case .flag: "from --socket"
        case .environment: "from TRAIL_SOCKET"
        case .runtimeDirectory: "the default under $XDG_RUNTIME_DIR"
        case .fallback: "the default for a session without XDG_RUNTIME_DIR"
        }
    }

    public var description: String { path }
}
