/// Where a note is in its life.
public enum NoteState: String, Sendable, Codable {
    /// At or above its namespace's `evaporate_below`.
    case live
    /// Below `evaporate_below`, not yet compacted. Derived from the key, never stored.
    case faded
    /// Evaporated into an archive pack.
    case archived
    /// Withdrawn with a stated reason.
    case retracted
}

/// Why and by whom a note was withdrawn.
public struct Retraction: Sendable, Equatable, Codable {
    public var reason: String
    public var agent: String?
    /// When, in milliseconds since 1970.
    public var atMillis: Int64

    public init(reason: String, agent: String?, atMillis: Int64) {
        self.reason = reason
        self.agent = agent
        self.atMillis = atMillis
    }
}

/// A note as the protocol shows it, with its weight taken at one instant.
public struct Note: Sendable, Equatable {
    public var id: NoteID
    public var ns: String
    public var body: String
    /// Sorted, no duplicates.
    public var tags: [String]
    /// In the order first given.
    public var after: [NoteID]
    public var weight: Double
    public var rank: Double?
    public var deposits: Int
    public var agent: String?
    public var state: NoteState
    public var createdAtMillis: Int64
    public var updatedAtMillis: Int64
    public var retraction: Retraction?
    /// The live notes that contest this one (contract §8), strongest first;
    /// filled by `sense` and `get`, empty elsewhere.
    public var contestedBy: [NoteID] = []

    public init(
        id: NoteID, ns: String, body: String, tags: [String], after: [NoteID], weight: Double,
        rank: Double?, deposits: Int, agent: String?, state: NoteState,
        createdAtMillis: Int64, updatedAtMillis: Int64, retraction: Retraction?
    ) {
        self.id = id
        self.ns = ns
        self.body = body
        self.tags = tags
        self.after = after
        self.weight = weight
        self.rank = rank
        self.deposits = deposits
        self.agent = agent
        self.state = state
        self.createdAtMillis = createdAtMillis
        self.updatedAtMillis = updatedAtMillis
        self.retraction = retraction
    }
}

/// A note in a `sense` answer, with the score it was ranked by.
public struct ScoredNote: Sendable, Equatable {
    public var note: Note
    public var score: Double
    /// Cosine similarity of the note's embedding with `similar` (a search by
    /// meaning only; nil for a note found by words that is not embedded yet).
    public var similarity: Double?
    public init(note: Note, score: Double, similarity: Double? = nil) {
        self.note = note
        self.score = score
        self.similarity = similarity
    }
}

/// Which way a trail is walked from the note asked about.
public enum TrailDirection: String, Sendable, CaseIterable {
    case forward, backward, both
}

/// One step of `follow`: the note at the other end of a trail.
public struct TrailStep: Sendable, Equatable {
    public var to: NoteID
    public var weight: Double
    /// `forward` (from -> to) or `backward` (to -> from).
    public var direction: TrailDirection
    public var note: Note
    public init(to: NoteID, weight: Double, direction: TrailDirection, note: Note) {
        self.to = to
        self.weight = weight
        self.direction = direction
        self.note = note
    }
}

/// A namespace's settings.
public struct NamespaceSettings: Sendable, Equatable {
    public var name: String
    public var halfLife: Double
    public var evaporateBelow: Double
    public var maxNoteBytes: Int
    /// Landmark `L` of the forward decay, seconds since 1970.
    public var landmark: Double
    /// How close (cosine) two notes that disagree on a decisive token must
    /// be to contest each other (contract §8), in (0, 1].
    public var contestSimilarity: Double

    public init(name: String, halfLife: Double = Limits.defaultHalfLife,
                evaporateBelow: Double = Limits.defaultEvaporateBelow,
                maxNoteBytes: Int = Limits.defaultMaxNoteBytes, landmark: Double,
                contestSimilarity: Double = Limits.defaultContestSimilarity) {
        self.name = name
        self.halfLife = halfLife
        self.evaporateBelow = evaporateBelow
        self.maxNoteBytes = maxNoteBytes
        self.landmark = landmark
        self.contestSimilarity = contestSimilarity
    }

    /// The decay of this namespace's weights.
    public var decay: ForwardDecay { ForwardDecay(halfLife: halfLife, landmark: landmark) }
}

/// Counts of a namespace's notes by state.
public struct NamespaceCounts: Sendable, Equatable {
    public var notes = 0
    public var live = 0
    public var faded = 0
    public var archived = 0
    public var retracted = 0
    public var edges = 0
    public var totalWeight = 0.0
    /// Compressed bytes of the namespace's archive packs.
    public var archivedBytes = 0
    /// What those packs hold before compression.
    public var archivedRawBytes = 0
    public init() {}
}

/// Who made a write: the agent's stated name and the peer's credentials.
public struct Writer: Sendable, Equatable {
    public var agent: String?
    public var uid: UInt32?
    public var pid: Int32?
    public init(agent: String? = nil, uid: UInt32? = nil, pid: Int32? = nil) {
        self.agent = agent
        self.uid = uid
        self.pid = pid
    }
}

/// One entry of a note's history: a write that touched it.
public struct HistoryEntry: Sendable, Equatable {
    public var atMillis: Int64
    /// `deposit`, `redeposit`, `reinforce`, `link`, `retract`, `revive`, `evaporate`, `unarchive`, `import`.
    public var op: String
    public var agent: String?
    public var delta: Double?
    /// The retraction reason, the pack name, `force`, ...
    public var detail: String?
    public init(atMillis: Int64, op: String, agent: String?, delta: Double?, detail: String?) {
        self.atMillis = atMillis
        self.op = op
        self.agent = agent
        self.delta = delta
        self.detail = detail
    }
}

/// A trail at one end of a note, seen from the note.
public struct TrailLink: Sendable, Equatable {
    /// The note at the other end.
    public var other: NoteID
    public var weight: Double
    /// `forward`: this note -> other; `backward`: other -> this note.
    public var direction: TrailDirection
    public init(other: NoteID, weight: Double, direction: TrailDirection) {
        self.other = other
        self.weight = weight
        self.direction = direction
    }
}

/// What `get` answers: the note, its trails and its history, in any state.
public struct NoteDetails: Sendable, Equatable {
    public var note: Note
    public var trails: [TrailLink]
    public var history: [HistoryEntry]
    public init(note: Note, trails: [TrailLink], history: [HistoryEntry]) {
        self.note = note
        self.trails = trails
        self.history = history
    }
}
