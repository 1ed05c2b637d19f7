import Foundation
import MCP

/// A tool call's arguments that cannot be used: missing, of the wrong type,
/// out of range, or unknown. The message says what to send instead; it
/// becomes the text of a tool error, so the model can correct its call.
public struct ToolInputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The argument at fault, when there is one.
    public var argument: String?
    public var message: String

    public init(argument: String?, _ message: String) {
        self.argument = argument
        self.message = message
    }

    public var description: String { message }
}

/// The arguments of one tool call, read with the checks that turn a bad call
/// into a clear `ToolInputError` instead of a daemon round trip.
///
/// Types are checked here; ranges and patterns (tags, namespaces, ids) are
/// the daemon's to check, so there is one source of truth for them. A `null`
/// argument counts as absent, as the daemon reads params.
struct ToolArguments {
    let tool: String
    private let values: [String: Value]
    /// The arguments given as an explicit `null`, for the one argument where
    /// null means something (`merge_similar`: do not merge).
    private let nulls: Set<String>

    /// Refuses arguments the tool does not take, naming the ones it does, so
    /// a misspelt name never passes silently.
    init(tool: String, values: [String: Value]?, allowed: [String]) throws(ToolInputError) {
        self.tool = tool
        self.values = (values ?? [:]).filter { !$0.value.isNull }
        nulls = Set((values ?? [:]).filter { $0.value.isNull && allowed.contains($0.key) }.keys)
        let unknown = self.values.keys.filter { !allowed.contains($0) }.sorted()
        if let first = unknown.first {
            let takes = allowed.isEmpty ? "no arguments" : "only " + allowed.map { "`\($0)`" }.joined(separator: ", ")
            throw ToolInputError(argument: first, "\(tool) has no argument `\(first)`; it takes \(takes).")
        }
    }

    /// A string argument, nil when absent.
    func string(_ name: String) throws(ToolInputError) -> String? {
        guard let value = values[name] else { return nil }
        if let s = Self.text(value) { return s }
        throw ToolInputError(argument: name, "`\(name)` must be a string, not \(Self.typeName(value)).")
    }

    /// A string argument that must be present and not blank; `hint` says
    /// what it is for, in the error.
    func requiredString(_ name: String, hint: String) throws(ToolInputError) -> String {
        guard let s = try string(name) else {
            throw ToolInputError(argument: name, "\(tool) needs `\(name)`: \(hint)")
        }
        guard !s.allSatisfy(\.isWhitespace) else {
            throw ToolInputError(argument: name, "\(tool) needs a `\(name)` that is not blank: \(hint)")
        }
        return s
    }

    /// An array of strings; a lone string is taken as a one-element array.
    func strings(_ name: String) throws(ToolInputError) -> [String] {
        guard let value = values[name] else { return [] }
        if let s = Self.text(value) { return [s] }
        guard case let .array(items) = value else {
            throw ToolInputError(argument: name, "`\(name)` must be an array of strings, not \(Self.typeName(value)).")
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = Self.text(item) else {
                throw ToolInputError(argument: name, "`\(name)[\(i)]` must be a string, not \(Self.typeName(item)).")
            }
            out.append(s)
        }
        return out
    }

    /// A number, nil when absent.
    func number(_ name: String) throws(ToolInputError) -> Double? {
        guard let value = values[name] else { return nil }
        switch value {
        case let .int(i): return Double(i)
        case let .double(d) where d.isFinite: return d
        default: throw ToolInputError(argument: name, "`\(name)` must be a number, not \(Self.typeName(value)).")
        }
    }

    /// A whole number (`5` or `5.0`) of at least `minimum`, nil when absent.
    func integer(_ name: String, minimum: Int) throws(ToolInputError) -> Int? {
        guard let value = values[name] else { return nil }
        let n: Int
        switch value {
        case let .int(i): n = i
        case let .double(d) where d.isFinite && d == d.rounded() && abs(d) < 9.0e15: n = Int(d)
        default: throw ToolInputError(argument: name, "`\(name)` must be a whole number, not \(Self.typeName(value)).")
        }
        guard n >= minimum else {
            throw ToolInputError(argument: name, "`\(name)` must be at least \(minimum), not \(n).")
        }
        return n
    }

    /// Whether the argument was given as `null` (which otherwise counts as absent).
    func isNull(_ name: String) -> Bool { nulls.contains(name) }

    /// A threshold that can be switched off.
    enum Threshold: Equatable {
        /// `0`, `false` or an explicit `null`.
        case off
        case at(Double)
    }

    /// A number that `0`, `false` or an explicit `null` switch off; nil when
    /// absent. Ranges are the daemon's to check.
    func threshold(_ name: String) throws(ToolInputError) -> Threshold? {
        if isNull(name) { return .off }
        guard let value = values[name] else { return nil }
        switch value {
        case .bool(false): return .off
        case let .int(i): return i == 0 ? .off : .at(Double(i))
        case let .double(d) where d.isFinite: return d == 0 ? .off : .at(d)
        default:
            throw ToolInputError(argument: name, "`\(name)` must be a number, or 0, false or null to turn it off; not \(Self.typeName(value)).")
        }
    }

    /// A boolean, nil when absent.
    func bool(_ name: String) throws(ToolInputError) -> Bool? {
        guard let value = values[name] else { return nil }
        guard case let .bool(b) = value else {
            throw ToolInputError(argument: name, "`\(name)` must be true or false, not \(Self.typeName(value)).")
        }
        return b
    }

    /// The text of a string value. The SDK decodes any string shaped like a
    /// data URL (`data:<type>,<text>`, which a note body can be: "data: the
    /// volume, not the image") into `.data`; this puts such a string back
    /// together. Exact unless it held percent-escapes or `;base64`.
    static func text(_ value: Value) -> String? {
        switch value {
        case let .string(s): return s
        case let .data(mimeType, data): return "data:\(mimeType ?? "text/plain")," + String(decoding: data, as: UTF8.self)
        default: return nil
        }
    }

    static func typeName(_ value: Value) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string, .data: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
