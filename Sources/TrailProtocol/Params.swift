import TrailCore

/// Typed reading of a request's named params. Every accessor throws an
/// `invalidParams` that names the field and says what to send; `finish()`
/// refuses members that no accessor read, so a misspelt param is an error
/// rather than silently ignored.
public struct Params {
    private let object: JSONObject
    private var read: Set<String> = []

    public init(_ object: JSONObject) { self.object = object }

    private mutating func value(_ name: String) -> JSONValue? {
        read.insert(name)
        if case .null? = object[name] { return nil }
        return object[name]
    }

    private func wrongType(_ name: String, _ expected: String, _ got: JSONValue) -> TrailError {
        .invalidParams(field: name, message: "\(name) must be \(expected), not \(got.typeName).")
    }

    private func missing(_ name: String, _ expected: String) -> TrailError {
        .invalidParams(field: name, message: "\(name) is required: give \(expected).")
    }

    public mutating func optionalString(_ name: String) throws(TrailError) -> String? {
        guard let v = value(name) else { return nil }
        guard case let .string(s) = v else { throw wrongType(name, "a string", v) }
        return s
    }

    public mutating func string(_ name: String) throws(TrailError) -> String {
        guard let s = try optionalString(name) else { throw missing(name, "a string") }
        return s
    }

    public mutating func optionalDouble(_ name: String) throws(TrailError) -> Double? {
        guard let v = value(name) else { return nil }
        guard let d = v.number else { throw wrongType(name, "a number", v) }
        return d
    }

    public mutating func optionalBool(_ name: String) throws(TrailError) -> Bool? {
        guard let v = value(name) else { return nil }
        guard case let .bool(b) = v else { throw wrongType(name, "true or false", v) }
        return b
    }

    /// An integer in `range` (a JSON number with no fraction).
    public mutating func optionalInt(_ name: String, in range: ClosedRange<Int>) throws(TrailError) -> Int? {
        guard let v = value(name) else { return nil }
        let i: Int
        switch v {
        case let .int(n): i = n
        case let .double(d) where d == d.rounded() && abs(d) < 9.0e15: i = Int(d)
        default: throw .invalidParams(field: name, message: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        guard range.contains(i) else {
            throw .invalidParams(field: name, message: "\(name) must be from \(range.lowerBound) to \(range.upperBound); got \(i).")
        }
        return i
    }

    public mutating func optionalArray(_ name: String) throws(TrailError) -> [JSONValue]? {
        guard let v = value(name) else { return nil }
        guard case let .array(items) = v else { throw wrongType(name, "an array", v) }
        return items
    }

    public mutating func optionalStrings(_ name: String) throws(TrailError) -> [String]? {
        guard let v = value(name) else { return nil }
        guard case let .array(items) = v else { throw wrongType(name, "an array of strings", v) }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case let .string(s) = item else { throw wrongType(name, "an array of strings", item) }
            out.append(s)
        }
        return out
    }

    // MARK: domain values

    /// `ns`, defaulting to `default`.
    public mutating func namespace(_ name: String = "ns") throws(TrailError) -> String {
        try Validate.namespace(optionalString(name) ?? "default")
    }

    public mutating func id(_ name: String) throws(TrailError) -> IDPrefix {
        try IDPrefix(string(name), field: name)
    }

    public mutating func agent(default fallback: String?) throws(TrailError) -> String? {
        guard let a = try optionalString("agent") else { return fallback }
        return try Validate.printable(a, field: "agent", maxBytes: Limits.maxAgentBytes)
    }

    public mutating func tags(_ name: String) throws(TrailError) -> [String] {
        try Validate.tags(optionalStrings(name) ?? [], field: name)
    }

    public mutating func weight(_ name: String, default fallback: Double) throws(TrailError) -> Double {
        try Validate.weight(optionalDouble(name) ?? fallback, field: name)
    }

    public mutating func limit() throws(TrailError) -> Int {
        try optionalInt("limit", in: 1...Limits.maxLimit) ?? Limits.defaultLimit
    }

    /// Refuses any member that was not read.
    public func finish() throws(TrailError) {
        for key in object.keys where !read.contains(key) {
            let known = read.sorted().joined(separator: ", ")
            throw .invalidParams(field: key, message: "Unknown parameter \(key.debugDescription); this method takes \(known.isEmpty ? "no parameters" : known).")
        }
    }
}
