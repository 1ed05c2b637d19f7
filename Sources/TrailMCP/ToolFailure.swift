import MCP
import TrailClient
import TrailCore
import TrailProtocol

/// Why a tool call did not do its work, turned into an MCP tool error
/// (`isError: true`): a text that says what went wrong and what to do, and a
/// `structuredContent` of `{"error": {"reason", "message", ...}}` whose
/// `reason` is a contract name (`unknown_note`, ...), `invalid_arguments`, or
/// `daemon_unavailable`.
enum ToolFailure: Error {
    /// The call's arguments are missing, of the wrong type or unknown.
    case input(ToolInputError)
    /// The daemon could not be reached, answered with an error, or broke
    /// the protocol.
    case daemon(TrailClientError)

    func result(tool: String, socket: SocketLocation) -> CallTool.Result {
        let (text, error) = describe(tool: tool, socket: socket)
        return .answer(text, structured: .object(["error": .object(error)]), isError: true)
    }

    /// What to do when traild is not there, in words that work for a person
    /// reading the host's log as well as for the model.
    static func howToStart(_ socket: SocketLocation) -> String {
        let command = switch socket.source {
        case .flag: "traild --socket \(socket.path)"
        case .environment: "TRAIL_SOCKET=\(socket.path) traild"
        case .runtimeDirectory, .fallback: "traild"
        case .system: "sudo systemctl start trail"
        }
        return "Start the daemon with `\(command)` (or `make run` in the trail repository), as the same user as this MCP host, then call the tool again: trail-mcp reconnects by itself."
    }

    private func describe(tool: String, socket: SocketLocation) -> (String, [String: Value]) {
        switch self {
        case let .input(e):
            var error: [String: Value] = ["reason": "invalid_arguments", "message": .string(e.message)]
            if let a = e.argument { error["argument"] = .string(a) }
            return ("\(tool) was not called: \(e.message)", error)
        case let .daemon(e):
            return Self.describe(e, tool: tool, socket: socket)
        }
    }

    private static func describe(_ e: TrailClientError, tool: String, socket: SocketLocation) -> (String, [String: Value]) {
        switch e {
        case let .daemonUnavailable(path, reason):
            let text = "The trail daemon (traild) is not reachable at \(path) (\(socket.origin)): \(reason). " + howToStart(socket)
            return (text, ["reason": "daemon_unavailable", "socket": .string(path), "message": .string(text)])
        case let .rpc(code, message, data):
            let name = e.contractName ?? "error"
            var text = "\(tool) failed: \(message) [\(name)]"
            if name == "retracted", let r = data["retraction"]?.object, let why = r["reason"]?.string {
                let by = r["agent"]?.string.map { " by \($0)" } ?? ""
                text += "\nIt was retracted\(by) because: \(why)"
            }
            if name == "ambiguous_id", let matches = data["matches"]?.array?.compactMap(\.string), !matches.isEmpty {
                text += "\nIt matches: " + matches.joined(separator: ", ")
            }
            return (text, ["reason": .string(name), "code": .int(code), "message": .string(message),
                           "data": Value(.object(data))])
        case let .protocolViolation(what):
            let text = "\(tool) failed: traild answered something that is not the trail protocol (\(what)). Is the socket \(socket.path) really traild's, and of the same version as trail-mcp?"
            return (text, ["reason": "protocol_violation", "message": .string(text)])
        case .connectionClosed:
            let text = "\(tool): the connection to traild at \(socket.path) closed before the answer came (the daemon restarted). "
                + "The write may or may not have been applied: check with trail_get or trail_sense before calling again."
            return (text, ["reason": "connection_closed", "socket": .string(socket.path), "message": .string(text)])
        }
    }
}
