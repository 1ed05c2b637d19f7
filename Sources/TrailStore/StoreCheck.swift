/// What `trailctl check` found in a store: each problem with the file or
/// object it is in. Engine-neutral: each engine's checker fills one.
public struct StoreCheckReport: Sendable {
    /// One finding: `damage` makes the store unsound (some note or call
    /// cannot be served); `info` is worth knowing and harmless.
    public struct Finding: Sendable {
        public enum Severity: String, Sendable { case damage, info }
        public var severity: Severity
        /// The file (a path) or database object the finding is in.
        public var object: String
        /// One sentence: what is wrong, and what it affects.
        public var message: String

        public init(_ severity: Severity, _ object: String, _ message: String) {
            self.severity = severity
            self.object = object
            self.message = message
        }
    }

    /// The store as `--store` names it (`sqlite:PATH`, or the redacted URL).
    public var store: String
    public var engine: String
    /// What was checked, by name (`pages`, `packs`, `frames`, `archived_notes`, ...), in order.
    public var checked: [(String, Int)] = []
    public var findings: [Finding] = []

    public init(store: String, engine: String) {
        self.store = store
        self.engine = engine
    }

    /// No damage found (info findings allowed).
    public var sound: Bool { !findings.contains { $0.severity == .damage } }

    public mutating func damage(_ object: String, _ message: String) { findings.append(Finding(.damage, object, message)) }
    public mutating func info(_ object: String, _ message: String) { findings.append(Finding(.info, object, message)) }
}

/// The store could not be opened or reached at all: nothing was checked.
public struct StoreCheckFailure: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
