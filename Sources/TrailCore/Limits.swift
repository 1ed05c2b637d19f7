/// The numbers that bound what a client may send. Each is defined here once
/// and reported by `trail.hello`, so clients never have to guess them.
public enum Limits {
    /// Longest request line, in bytes, before the connection is closed.
    public static let maxFrameBytes = 1 << 20
    /// Default largest note body in a namespace, in UTF-8 bytes.
    public static let defaultMaxNoteBytes = 4096
    /// The largest `max_note_bytes` a namespace may be configured to.
    public static let maxNoteBytesCap = 65536
    /// Tags on one note.
    public static let maxTags = 16
    /// Bytes in one tag (the tag pattern allows 1 + 63).
    public static let maxTagBytes = 64
    /// Notes named in one deposit's `after`.
    public static let maxAfter = 32
    /// Bytes in an agent name.
    public static let maxAgentBytes = 128
    /// Bytes in a retraction reason.
    public static let maxReasonBytes = 1024
    /// Largest `limit` of `sense` and `follow`.
    public static let maxLimit = 1000
    /// Default `limit` of `sense` and `follow`.
    public static let defaultLimit = 10
    /// Largest absolute value of a weight, delta or strength.
    public static let maxAbsNumber = 1e6
    /// Fewest hex digits of an id prefix.
    public static let minIDPrefix = 8
    /// Entries in one JSON-RPC batch.
    public static let maxBatch = 1000
    /// Largest exact integer a `seed` may be (2^53, exact in a double).
    public static let maxSeed: UInt64 = 1 << 53

    /// Default half-life of a namespace: 7 days.
    public static let defaultHalfLife = 604_800.0
    /// A namespace's `contest_similarity` unless configured (contract §8):
    /// notes at least this close that disagree on a decisive token contest each other.
    public static let defaultContestSimilarity = 0.9
    /// Default evaporation threshold of a namespace.
    public static let defaultEvaporateBelow = 0.05
    /// Shortest and longest half-life a namespace may have (1 s to 100 years).
    public static let halfLifeRange = 1.0...3.15e9
}
