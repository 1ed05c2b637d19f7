import TrailCore
import TrailProtocol

/// Everything a call through `TrailConnection` can fail with.
public enum TrailClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No daemon could be reached on `socket`: no socket file, nothing
    /// listening, no permission. `reason` says which.
    case daemonUnavailable(socket: String, reason: String)
    /// The daemon answered with an error. `data` is the error's `data` member
    /// (it always carries `reason`); see `contractName` and `errorCode`.
    case rpc(code: Int, message: String, data: JSONObject)
    /// The daemon sent something that is not the protocol: a line that is not
    /// JSON, an answer to no request, a result of the wrong shape.
    case protocolViolation(String)
    /// The connection closed before the answer came (the daemon stopped, or
    /// `close()` was called).
    case connectionClosed

    /// The contract's code, for `.rpc` errors with a code the contract names.
    public var errorCode: TrailErrorCode? {
        guard case let .rpc(code, _, _) = self else { return nil }
        return TrailErrorCode(rawValue: code)
    }

    /// The contract's name of an `.rpc` error: `data.reason` as the daemon
    /// sent it (it may be more precise than the code, e.g. `frame_too_large`),
    /// else the code's name; nil for the other cases.
    public var contractName: String? {
        guard case let .rpc(code, _, data) = self else { return nil }
        if let reason = data["reason"]?.string { return reason }
        return TrailErrorCode(rawValue: code)?.name ?? "error \(code)"
    }

    public var description: String {
        switch self {
        case let .daemonUnavailable(socket, reason): "cannot reach traild at \(socket): \(reason)"
        case let .rpc(_, message, _): message
        case let .protocolViolation(what): "traild broke the protocol: \(what)"
        case .connectionClosed: "the connection to traild closed before the answer came"
        }
    }
}

extension TrailClientError {
    /// The error of a JSON-RPC `error` member.
    init(errorMember value: JSONValue) {
        guard let o = value.object, let code = o["code"], case let .int(c) = code else {
            self = .protocolViolation("an error member without an integer code")
            return
        }
        let message = o["message"]?.string ?? "traild answered error \(c)"
        self = .rpc(code: c, message: message, data: o["data"]?.object ?? JSONObject())
    }

    /// A result that does not decode.
    init(_ error: WireDecodingError) {
        self = .protocolViolation(error.description)
    }
}
