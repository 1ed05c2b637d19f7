/// One JSON-RPC 2.0 request as received.
public struct RPCRequest: Sendable {
    /// `nil` for a notification (no `id` member): it gets no response.
    public var id: JSONValue?
    public var method: String
    /// The `params` object (empty when absent).
    public var params: JSONObject

    public init(id: JSONValue?, method: String, params: JSONObject) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// Reads a request out of a parsed JSON value.
    /// Throws `invalidRequest` with the id (if one could be read) for the answer.
    public init(_ value: JSONValue) throws(RPCRequestFailure) {
        guard case let .object(object) = value else {
            throw RPCRequestFailure(id: .null, error: .invalidRequest("A request must be a JSON object, not \(value.typeName)"))
        }
        var id: JSONValue? = object["id"]
        switch id {
        case nil, .null?, .string?, .int?, .double?: break
        default:
            id = .null
            throw RPCRequestFailure(id: .null, error: .invalidRequest("The id must be a string, a number or null"))
        }
        let answerID = id ?? .null
        guard object["jsonrpc"] == .string("2.0") else {
            throw RPCRequestFailure(id: answerID, error: .invalidRequest("The member jsonrpc must be \"2.0\""))
        }
        guard let methodValue = object["method"] else {
            throw RPCRequestFailure(id: answerID, error: .invalidRequest("The request has no method"))
        }
        guard case let .string(method) = methodValue else {
            throw RPCRequestFailure(id: answerID, error: .invalidRequest("The method must be a string, not \(methodValue.typeName)"))
        }
        var params = JSONObject()
        switch object["params"] {
        case nil, .null?: break
        case let .object(p)?: params = p
        case let other?:
            throw RPCRequestFailure(id: answerID, error: .invalidParams(
                "params must be an object of named parameters, not \(other.typeName); see docs/protocol.md"))
        }
        self.init(id: id, method: method, params: params)
    }
}

/// A request that could not be read, with the id to answer it under.
public struct RPCRequestFailure: Error, Sendable {
    public enum Kind: Sendable {
        case invalidRequest(String)
        case invalidParams(String)
    }
    public var id: JSONValue
    public var kind: Kind

    init(id: JSONValue, error: Kind) {
        self.id = id
        self.kind = error
    }

    public var rpcError: RPCError {
        switch kind {
        case let .invalidRequest(why): RPCError(ProtocolError.invalidRequest(why))
        case let .invalidParams(why): RPCError(code: -32602, message: why, data: ["reason": "invalid_params", "field": "params"])
        }
    }
}

/// Builds response lines.
public enum RPCResponse {
    public static func success(id: JSONValue, result: JSONValue) -> JSONValue {
        .object(["jsonrpc": "2.0", "id": id, "result": result])
    }

    public static func failure(id: JSONValue, error: RPCError) -> JSONValue {
        .object(["jsonrpc": "2.0", "id": id, "error": error.json])
    }

    public static func notification(method: String, params: JSONObject) -> JSONValue {
        .object(["jsonrpc": "2.0", "method": .string(method), "params": .object(params)])
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
}
