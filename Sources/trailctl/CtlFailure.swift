import Foundation
import TrailClient

/// Why trailctl stops, with the exit code the contract gives it (SPEC.md §7):
/// 1 the daemon answered with an error (or the work failed), 2 usage,
/// 3 the daemon (or, for `check` and `backup`, the store) cannot be reached,
/// 4 `check` found damage.
struct CtlFailure: Error {
    var code: Int32
    var message: String

    static let daemonError: Int32 = 1
    static let usage: Int32 = 2
    static let unreachable: Int32 = 3
    static let damageFound: Int32 = 4

    /// A failure of the work itself (a corrupt file, a file that cannot be
    /// written): exit 1.
    static func failed(_ message: String) -> CtlFailure { CtlFailure(code: daemonError, message: message) }

    /// A usage error found after parsing (bad stdin, output to a terminal): exit 2.
    static func usage(_ message: String) -> CtlFailure { CtlFailure(code: usage, message: message) }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// The command that starts the daemon this socket belongs to.
    static func start(_ socket: SocketLocation) -> String {
        switch socket.source {
        case .flag: "`traild --socket \(socket.path)` (or `make run` in the trail repository)"
        case .system: "`sudo systemctl start trail` (the system daemon; to use it, be in its group: `sudo adduser $USER trail`, then log in again)"
        default: "`traild` (or `make run` in the trail repository)"
        }
    }

    /// The message and code for a client error; `socket` says which socket
    /// was tried and how it was chosen.
    init(_ error: TrailClientError, socket: SocketLocation) {
        switch error {
        case let .daemonUnavailable(path, reason):
            code = Self.unreachable
            message = """
            cannot reach traild at \(path) (\(socket.origin)): \(reason).
            Start the daemon with \(Self.start(socket)), \
            or point trailctl at the socket its ready line names with --socket PATH or TRAIL_SOCKET.
            """
        case let .rpc(_, text, _):
            code = Self.daemonError
            message = "\(text) [\(error.contractName ?? "error")]"
        case let .protocolViolation(what):
            code = Self.daemonError
            message = "traild broke the protocol: \(what)"
        case .connectionClosed:
            code = Self.unreachable
            message = "traild at \(socket.path) closed the connection before answering; is it stopping? Check its log and start it again with `traild`."
        }
    }

    /// Prints the message on stderr and exits with the code.
    func exit() -> Never {
        if !message.isEmpty { Terminal.printError(message) }
        Foundation.exit(code)
    }
}
