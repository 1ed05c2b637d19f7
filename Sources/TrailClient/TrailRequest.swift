import TrailCore
import TrailProtocol

/// One method call with its params and the way to read its result.
///
/// `TrailConnection.send(_:)` returns the typed result; `call(_:)` returns the
/// result as sent, for callers that print it unchanged (`trailctl --json`) and
/// can still decode it later with `decode(_:)`.
public protocol TrailRequest: Sendable {
    associatedtype Result: Sendable
    /// The method name, `trail.deposit` and so on.
    var method: String { get }
    /// The params object. Optional params left at nil are not sent, so the
    /// daemon applies its own defaults.
    var params: JSONObject { get }
    /// Reads the `result` member of the answer.
    func decode(_ result: JSONValue) throws(WireDecodingError) -> Result
}

extension JSONObject {
    /// Sets `key` when `value` is not nil.
    mutating func put(_ key: String, _ value: String?) { if let value { self[key] = .string(value) } }
    mutating func put(_ key: String, _ value: Double?) { if let value { self[key] = .double(value) } }
    mutating func put(_ key: String, _ value: Int?) { if let value { self[key] = .int(value) } }
    mutating func put(_ key: String, _ value: Bool?) { if let value { self[key] = .bool(value) } }
    /// Sets `key` when `values` is not empty.
    mutating func put(_ key: String, _ values: [String]) {
        if !values.isEmpty { self[key] = .array(values.map(JSONValue.string)) }
    }
}

func object(_ result: JSONValue) throws(WireDecodingError) -> WireObject { try WireObject(result, path: "result") }
