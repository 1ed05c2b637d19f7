/// The contract's requests as validated values, shared by the protocol
/// (which reads them off the wire) and the store (which carries them out).

/// A note to deposit, validated except for what needs the store
/// (the namespace's size limit, the `after` notes, a retraction).
public struct Deposit: Sendable {
    public var id: NoteID
    public var body: String
    public var ns: String
    public var tags: [String]
    public var after: [IDPrefix]
    public var strength: Double
    public var force: Bool
    /// `merge_similar`: land on the nearest live note whose cosine
    /// similarity is at least this, in (0, 1].
    public var mergeSimilar: Double?

    public init(body: String, ns: String, tags: [String], after: [IDPrefix], strength: Double, force: Bool,
                mergeSimilar: Double? = nil) {
        self.id = NoteID(body: body)
        self.body = body
        self.ns = ns
        self.tags = tags
        self.after = after
        self.strength = strength
        self.force = force
        self.mergeSimilar = mergeSimilar
    }
}

/// New settings for a namespace; `nil` leaves a setting as it is.
public struct NamespaceChange: Sendable {
    public var ns: String
    public var halfLife: Double?
    public var evaporateBelow: Double?
    public var maxNoteBytes: Int?
    public var contestSimilarity: Double?
    public init(ns: String, halfLife: Double? = nil, evaporateBelow: Double? = nil, maxNoteBytes: Int? = nil,
                contestSimilarity: Double? = nil) {
        self.ns = ns
        self.halfLife = halfLife
        self.evaporateBelow = evaporateBelow
        self.maxNoteBytes = maxNoteBytes
        self.contestSimilarity = contestSimilarity
    }
}

/// What `sense` looks for.
public struct SenseQuery: Sendable, Hashable {
    public var ns: String
    /// Full-text words; `nil` ranks by weight alone.
    public var words: [String]?
    public var allTags: [String]
    public var anyTags: [String]
    public var limit: Int
    public var budgetBytes: Int?
    public var minWeight: Double?
    public var includeFaded: Bool
    /// Text to find notes by meaning (`similar`); nil searches by words and weight only.
    public var similar: String?
    /// `min_similarity`: notes whose cosine with `similar` is below it are left out.
    public var minSimilarity: Double?

    public init(ns: String, words: [String]? = nil, allTags: [String] = [], anyTags: [String] = [],
                limit: Int = Limits.defaultLimit, budgetBytes: Int? = nil, minWeight: Double? = nil,
                includeFaded: Bool = false, similar: String? = nil, minSimilarity: Double? = nil) {
        self.similar = similar
        self.minSimilarity = minSimilarity
        self.ns = ns
        self.words = words
        self.allTags = allTags
        self.anyTags = anyTags
        self.limit = limit
        self.budgetBytes = budgetBytes
        self.minWeight = minWeight
        self.includeFaded = includeFaded
    }
}

/// What `follow` walks.
public struct FollowQuery: Sendable {
    public var from: IDPrefix
    public var ns: String
    public var direction: TrailDirection
    public var limit: Int
    public var explore: Double
    public var seed: UInt64
    public var includeFaded: Bool

    public init(from: IDPrefix, ns: String, direction: TrailDirection = .forward, limit: Int = Limits.defaultLimit,
                explore: Double = 0, seed: UInt64 = 0, includeFaded: Bool = false) {
        self.from = from
        self.ns = ns
        self.direction = direction
        self.limit = limit
        self.explore = explore
        self.seed = seed
        self.includeFaded = includeFaded
    }
}

/// The answer to `follow`.
public struct FollowResult: Sendable {
    public var from: NoteID
    public var steps: [TrailStep]
    public init(from: NoteID, steps: [TrailStep]) {
        self.from = from
        self.steps = steps
    }
}


/// One end of a note's outgoing trail, as export and import carry it.
public struct TrailEnd: Sendable, Equatable {
    public var to: NoteID
    public var weight: Double
    public init(to: NoteID, weight: Double) {
        self.to = to
        self.weight = weight
    }
}

/// A note with everything needed to restore it elsewhere: its stored state
/// (`live`, `retracted` or `archived`; fading is a matter of weight), weight,
/// deposits, retraction and outgoing trails.
public struct NoteRecord: Sendable, Equatable {
    public var note: Note
    public var trails: [TrailEnd]
    public init(note: Note, trails: [TrailEnd]) {
        self.note = note
        self.trails = trails
    }
}

/// A page of `trail.export`.
public struct ExportPage: Sendable {
    public var settings: NamespaceSettings
    public var exportedAtMillis: Int64
    public var records: [NoteRecord]
    /// Where the next page starts; nil after the last.
    public var cursor: Int64?
    public init(settings: NamespaceSettings, exportedAtMillis: Int64, records: [NoteRecord], cursor: Int64?) {
        self.settings = settings
        self.exportedAtMillis = exportedAtMillis
        self.records = records
        self.cursor = cursor
    }
}

/// The report of a compaction of one namespace.
public struct CompactionReport: Sendable, Equatable {
    public var ns: String
    public var startedAtMillis: Int64
    public var durationMillis: Int64
    public var evaporated: Int
    public var archivedBytes: Int
    public var ranked: Int
    public var rebased: Bool

    public init(ns: String, startedAtMillis: Int64, durationMillis: Int64 = 0, evaporated: Int = 0,
                archivedBytes: Int = 0, ranked: Int = 0, rebased: Bool = false) {
        self.ns = ns
        self.startedAtMillis = startedAtMillis
        self.durationMillis = durationMillis
        self.evaporated = evaporated
        self.archivedBytes = archivedBytes
        self.ranked = ranked
        self.rebased = rebased
    }
}
