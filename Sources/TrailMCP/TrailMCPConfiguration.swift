import TrailClient

/// What one trail-mcp session is set up with: where the daemon is, the
/// namespace tools work in unless a call names another, and the agent name
/// stamped on every write.
public struct TrailMCPConfiguration: Sendable, Equatable {
    /// The daemon's socket, and how it was chosen (for messages).
    public var socket: SocketLocation
    /// The session's namespace; nil leaves it to the daemon (`default`).
    public var ns: String?
    /// Recorded with every write; nil records none (the daemon still records
    /// the uid and pid of trail-mcp).
    public var agent: String?
    /// `trail_sense`'s `budget_bytes` when the call gives none: small, so a
    /// first read stays light.
    public var senseBudget: Int
    /// `trail_deposit`'s `merge_similar` when the call gives none and the
    /// daemon has its embedding model (`semantic` in `trail.hello`); nil
    /// deposits as written unless a call asks for a merge.
    public var mergeSimilar: Double?

    /// The default of `senseBudget`.
    public static let defaultSenseBudget = 4000
    /// The default of `mergeSimilar`. Instances of a colony write the same
    /// lesson in their own words; at 0.9 with all-MiniLM-L6-v2 those
    /// paraphrases reinforce one note instead of piling up as near-duplicates
    /// that split its weight and crowd a reader's budget, while two distinct
    /// findings about the same thing (which score about 0.5 to 0.8) stay apart.
    public static let defaultMergeSimilar = 0.9
    /// trail-mcp's version, reported to the MCP host.
    public static let version = "0.1.0"

    public init(socket: SocketLocation, ns: String? = nil, agent: String? = nil,
                senseBudget: Int = TrailMCPConfiguration.defaultSenseBudget,
                mergeSimilar: Double? = TrailMCPConfiguration.defaultMergeSimilar) {
        self.socket = socket
        self.ns = ns
        self.agent = agent
        self.senseBudget = senseBudget
        self.mergeSimilar = mergeSimilar
    }

    /// The namespace a call works in when it names none.
    public var namespace: String { ns ?? "default" }
}
