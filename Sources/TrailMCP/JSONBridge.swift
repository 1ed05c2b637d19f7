import MCP
import TrailProtocol

extension Value {
    /// The daemon's JSON as an MCP value, for a tool result's
    /// `structuredContent`. Member order is lost: MCP's `Value` keeps objects
    /// in a dictionary (and the SDK writes its keys sorted).
    init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case let .bool(b): self = .bool(b)
        case let .int(i): self = .int(i)
        case let .double(d): self = .double(d)
        case let .string(s): self = .string(s)
        case let .array(a): self = .array(a.map(Value.init))
        case let .object(o):
            var members: [String: Value] = [:]
            for (key, value) in o { members[key] = Value(value) }
            self = .object(members)
        }
    }
}
