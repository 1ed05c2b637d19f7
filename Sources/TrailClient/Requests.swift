import TrailCore
import TrailProtocol

// One request type per method of docs/protocol.md. Ids may be whole ids or
// prefixes of at least 8 hex digits; the daemon checks every value, so these
// types only carry them.

/// `trail.hello`.
public struct HelloRequest: TrailRequest {
    public var client: String?
    public var agent: String?
    public init(client: String? = nil, agent: String? = nil) {
        self.client = client
        self.agent = agent
    }
    public var method: String { "trail.hello" }
    public var params: JSONObject {
        var p = JSONObject()
        p.put("client", client)
        p.put("agent", agent)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Hello { try Hello(object(result)) }
}

/// `trail.deposit`.
public struct DepositRequest: TrailRequest {
    public var body: String
    public var ns: String?
    public var tags: [String]
    public var after: [String]
    public var agent: String?
    public var strength: Double?
    public var force: Bool
    /// `merge_similar`, in (0, 1]: when a live note with another body is at
    /// least this similar in meaning (cosine), the deposit goes to that note
    /// (`Deposited.merged`). Nil deposits as written. A daemon without its
    /// embedding model refuses it with `semantic_unavailable`.
    public var mergeSimilar: Double?
    public init(body: String, ns: String? = nil, tags: [String] = [], after: [String] = [], agent: String? = nil,
                strength: Double? = nil, force: Bool = false, mergeSimilar: Double? = nil) {
        self.body = body
        self.ns = ns
        self.tags = tags
        self.after = after
        self.agent = agent
        self.strength = strength
        self.force = force
        self.mergeSimilar = mergeSimilar
    }
    public var method: String { "trail.deposit" }
    public var params: JSONObject {
        var p: JSONObject = ["body": .string(body)]
        p.put("ns", ns)
        p.put("tags", tags)
        p.put("after", after)
        p.put("agent", agent)
        p.put("strength", strength)
        if force { p["force"] = true }
        p.put("merge_similar", mergeSimilar)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Deposited { try Deposited(object(result)) }
}

/// `trail.get`: the note in any state, with its trails and latest history.
public struct GetRequest: TrailRequest {
    public var id: String
    public var ns: String?
    public init(id: String, ns: String? = nil) {
        self.id = id
        self.ns = ns
    }
    public var method: String { "trail.get" }
    public var params: JSONObject {
        var p: JSONObject = ["id": .string(id)]
        p.put("ns", ns)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> NoteDetails {
        try WireDecode.details(object(result))
    }
}

/// `trail.reinforce`; a negative `delta` repels.
public struct ReinforceRequest: TrailRequest {
    public var id: String
    public var ns: String?
    public var delta: Double?
    public var agent: String?
    public init(id: String, ns: String? = nil, delta: Double? = nil, agent: String? = nil) {
        self.id = id
        self.ns = ns
        self.delta = delta
        self.agent = agent
    }
    public var method: String { "trail.reinforce" }
    public var params: JSONObject {
        var p: JSONObject = ["id": .string(id)]
        p.put("ns", ns)
        p.put("delta", delta)
        p.put("agent", agent)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Reinforced { try Reinforced(object(result)) }
}

/// `trail.sense`: notes in score order.
public struct SenseRequest: TrailRequest {
    public var ns: String?
    public var query: String?
    /// All of these.
    public var tags: [String]
    /// At least one of these.
    public var anyTags: [String]
    public var limit: Int?
    public var budgetBytes: Int?
    public var minWeight: Double?
    public var includeFaded: Bool
    /// `similar`: text to rank notes by meaning (cosine similarity of their
    /// embeddings); each note then carries `ScoredNote.similarity`. A daemon
    /// without its embedding model refuses it with `semantic_unavailable`.
    public var similar: String?
    /// `min_similarity`, in [-1, 1]: leaves out notes less similar than this.
    public var minSimilarity: Double?
    public init(ns: String? = nil, query: String? = nil, tags: [String] = [], anyTags: [String] = [], limit: Int? = nil,
                budgetBytes: Int? = nil, minWeight: Double? = nil, includeFaded: Bool = false,
                similar: String? = nil, minSimilarity: Double? = nil) {
        self.ns = ns
        self.query = query
        self.tags = tags
        self.anyTags = anyTags
        self.limit = limit
        self.budgetBytes = budgetBytes
        self.minWeight = minWeight
        self.includeFaded = includeFaded
        self.similar = similar
        self.minSimilarity = minSimilarity
    }
    public var method: String { "trail.sense" }
    public var params: JSONObject {
        var p = JSONObject()
        p.put("ns", ns)
        p.put("query", query)
        p.put("tags", tags)
        p.put("any_tags", anyTags)
        p.put("limit", limit)
        p.put("budget_bytes", budgetBytes)
        p.put("min_weight", minWeight)
        if includeFaded { p["include_faded"] = true }
        p.put("similar", similar)
        p.put("min_similarity", minSimilarity)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> [ScoredNote] {
        try object(result).objects("notes").map { n throws(WireDecodingError) in
            var scored = try WireDecode.scored(n)
            // `similarity` is there when `similar` was asked; null for a note
            // found by `query` words that is not embedded yet.
            scored.similarity = try n.optionalDouble("similarity")
            return scored
        }
    }
}

/// `trail.link`: strengthens (or, with a negative delta, weakens) the trail `from -> to`.
public struct LinkRequest: TrailRequest {
    public var from: String
    public var to: String
    public var ns: String?
    public var delta: Double?
    public var agent: String?
    public init(from: String, to: String, ns: String? = nil, delta: Double? = nil, agent: String? = nil) {
        self.from = from
        self.to = to
        self.ns = ns
        self.delta = delta
        self.agent = agent
    }
    public var method: String { "trail.link" }
    public var params: JSONObject {
        var p: JSONObject = ["from": .string(from), "to": .string(to)]
        p.put("ns", ns)
        p.put("delta", delta)
        p.put("agent", agent)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Trail { try Trail(object(result)) }
}

/// `trail.follow`.
public struct FollowRequest: TrailRequest {
    public var from: String
    public var ns: String?
    public var direction: TrailDirection?
    public var limit: Int?
    public var explore: Double?
    public var seed: UInt64?
    public var includeFaded: Bool
    public init(from: String, ns: String? = nil, direction: TrailDirection? = nil, limit: Int? = nil,
                explore: Double? = nil, seed: UInt64? = nil, includeFaded: Bool = false) {
        self.from = from
        self.ns = ns
        self.direction = direction
        self.limit = limit
        self.explore = explore
        self.seed = seed
        self.includeFaded = includeFaded
    }
    public var method: String { "trail.follow" }
    public var params: JSONObject {
        var p: JSONObject = ["from": .string(from)]
        p.put("ns", ns)
        p.put("direction", direction?.rawValue)
        p.put("limit", limit)
        p.put("explore", explore)
        if let seed { p["seed"] = .int(Int(clamping: seed)) }
        if includeFaded { p["include_faded"] = true }
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Followed { try Followed(object(result)) }
}

/// `trail.retract`: `reason` is required and must not be blank.
public struct RetractRequest: TrailRequest {
    public var id: String
    public var reason: String
    public var ns: String?
    public var agent: String?
    public init(id: String, reason: String, ns: String? = nil, agent: String? = nil) {
        self.id = id
        self.reason = reason
        self.ns = ns
        self.agent = agent
    }
    public var method: String { "trail.retract" }
    public var params: JSONObject {
        var p: JSONObject = ["id": .string(id), "reason": .string(reason)]
        p.put("ns", ns)
        p.put("agent", agent)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Retracted { try Retracted(object(result)) }
}

/// `trail.revive`: the note, live again.
public struct ReviveRequest: TrailRequest {
    public var id: String
    public var ns: String?
    public var agent: String?
    public init(id: String, ns: String? = nil, agent: String? = nil) {
        self.id = id
        self.ns = ns
        self.agent = agent
    }
    public var method: String { "trail.revive" }
    public var params: JSONObject {
        var p: JSONObject = ["id": .string(id)]
        p.put("ns", ns)
        p.put("agent", agent)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Note {
        try WireDecode.note(object(result).object("note"))
    }
}

/// `trail.stats`.
public struct StatsRequest: TrailRequest {
    public var ns: String?
    public init(ns: String? = nil) { self.ns = ns }
    public var method: String { "trail.stats" }
    public var params: JSONObject {
        var p = JSONObject()
        p.put("ns", ns)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> NamespaceStats { try NamespaceStats(object(result)) }
}

/// `trail.namespace.configure`: settings left at nil keep their value.
public struct ConfigureRequest: TrailRequest {
    public var ns: String
    /// Seconds.
    public var halfLife: Double?
    public var evaporateBelow: Double?
    public var maxNoteBytes: Int?
    /// In (0, 1]: how close two notes that disagree must be to contest each other.
    public var contestSimilarity: Double?
    public init(ns: String, halfLife: Double? = nil, evaporateBelow: Double? = nil, maxNoteBytes: Int? = nil,
                contestSimilarity: Double? = nil) {
        self.ns = ns
        self.halfLife = halfLife
        self.evaporateBelow = evaporateBelow
        self.maxNoteBytes = maxNoteBytes
        self.contestSimilarity = contestSimilarity
    }
    public var method: String { "trail.namespace.configure" }
    public var params: JSONObject {
        var p: JSONObject = ["ns": .string(ns)]
        p.put("half_life_s", halfLife)
        p.put("evaporate_below", evaporateBelow)
        p.put("max_note_bytes", maxNoteBytes)
        p.put("contest_similarity", contestSimilarity)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> NamespaceConfig {
        try NamespaceConfig(object(result), name: ns)
    }
}

/// `trail.namespace.list`.
public struct ListNamespacesRequest: TrailRequest {
    public init() {}
    public var method: String { "trail.namespace.list" }
    public var params: JSONObject { JSONObject() }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> [NamespaceSummary] {
        try object(result).objects("namespaces").map { n throws(WireDecodingError) in try NamespaceSummary(n) }
    }
}

/// `trail.compact`: one namespace, or all when `ns` is nil.
public struct CompactRequest: TrailRequest {
    public var ns: String?
    public init(ns: String? = nil) { self.ns = ns }
    public var method: String { "trail.compact" }
    public var params: JSONObject {
        var p = JSONObject()
        p.put("ns", ns)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Compaction { try Compaction(object(result)) }
}

/// `trail.export`: one page of a namespace's records.
public struct ExportRequest: TrailRequest {
    public var ns: String?
    public var cursor: String?
    public var limit: Int?
    public init(ns: String? = nil, cursor: String? = nil, limit: Int? = nil) {
        self.ns = ns
        self.cursor = cursor
        self.limit = limit
    }
    public var method: String { "trail.export" }
    public var params: JSONObject {
        var p = JSONObject()
        p.put("ns", ns)
        p.put("cursor", cursor)
        p.put("limit", limit)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> ExportedPage { try ExportedPage(object(result)) }
}

/// `trail.import`: restores records; with `stage`, holds them on the
/// connection until a call with `commit: true` applies everything at once.
public struct ImportRequest: TrailRequest {
    public var ns: String?
    public var records: [JSONValue]
    public var stage: String?
    public var commit: Bool?
    public var agent: String?
    public init(ns: String? = nil, records: [JSONValue], stage: String? = nil, commit: Bool? = nil, agent: String? = nil) {
        self.ns = ns
        self.records = records
        self.stage = stage
        self.commit = commit
        self.agent = agent
    }
    public var method: String { "trail.import" }
    public var params: JSONObject {
        var p = JSONObject()
        p.put("ns", ns)
        p["records"] = .array(records)
        p.put("stage", stage)
        p.put("commit", commit)
        p.put("agent", agent)
        return p
    }
    public func decode(_ result: JSONValue) throws(WireDecodingError) -> Imported { try Imported(object(result)) }
}
