import TrailCore

/// Failures of the JSON-RPC layer itself, before a method runs.
public enum ProtocolError: Error, Equatable, Sendable {
    /// The line is not JSON (or not UTF-8).
    case parseError(String)
    /// JSON, but not a JSON-RPC 2.0 request.
    case invalidRequest(String)
    /// A line longer than the frame limit.
    case frameTooLarge(limit: Int)
    /// No such method.
    case methodNotFound(String)

    /// The contract's code for this error.
    public var errorCode: TrailErrorCode {
        switch self {
        case .parseError: .parseError
        case .invalidRequest, .frameTooLarge: .invalidRequest
        case .methodNotFound: .methodNotFound
        }
    }

    public var code: Int { errorCode.rawValue }

    /// `data.reason`: the code's name, except that an over-long line says so.
    public var reason: String {
        if case .frameTooLarge = self { return "frame_too_large" }
        return errorCode.name
    }

    public var message: String {
        switch self {
        case let .parseError(why): "The line is not valid JSON (\(why)); send one UTF-8 JSON text per line."
        case let .invalidRequest(why): "\(why); send {\"jsonrpc\": \"2.0\", \"id\": ..., \"method\": ..., \"params\": {...}}."
        case let .frameTooLarge(limit): "The line is longer than \(limit) bytes; keep each request under the limit (the connection is closed)."
        case let .methodNotFound(method): "There is no method \(method.debugDescription); call trail.hello and see docs/protocol.md for the list."
        }
    }
}

/// The `error` member of a JSON-RPC response.
public struct RPCError: Error, Sendable, Equatable {
    public var code: Int
    public var message: String
    public var data: JSONObject

    public init(code: Int, message: String, data: JSONObject) {
        self.code = code
        self.message = message
        self.data = data
    }

    public init(_ error: ProtocolError) {
        var data: JSONObject = ["reason": .string(error.reason)]
        if case let .frameTooLarge(limit) = error { data["limit"] = .int(limit) }
        self.init(code: error.code, message: error.message, data: data)
    }

    /// Builds the contract's error, with its `data` members, from a `TrailError`.
    public init(_ error: TrailError) {
        var data: JSONObject = ["reason": .string(error.reason)]
        switch error {
        case let .invalidParams(field, _):
            if let field { data["field"] = .string(field) }
        case let .unknownNote(id, ns):
            data["id"] = .string(id)
            data["ns"] = .string(ns)
        case let .noteTooLarge(size, limit):
            data["limit"] = .int(limit)
            data["size"] = .int(size)
        case let .invalidNamespace(ns):
            data["ns"] = .string(ns)
        case let .ambiguousID(prefix, matches):
            data["prefix"] = .string(prefix)
            data["matches"] = .array(matches.map(JSONValue.string))
        case let .unknownSubscription(sub):
            data["subscription"] = .string(sub)
        case let .retracted(id, retraction):
            data["id"] = .string(id)
            data["retraction"] = Wire.retraction(retraction)
        case let .permissionDenied(ns, right, _):
            data["ns"] = .string(ns)
            data["right"] = .string(right.description)
        case let .storageDamaged(file, _):
            data["file"] = .string(file)
        case .overloaded, .storageUnavailable, .semanticUnavailable, .internal:
            break
        }
        self.init(code: error.code, message: error.message, data: data)
    }

    public var json: JSONValue {
        .object(["code": .int(code), "message": .string(message), "data": .object(data)])
    }
}
