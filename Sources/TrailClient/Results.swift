import TrailCore
import TrailProtocol

// The typed results of the methods, read from the shapes docs/protocol.md
// gives them. Each keeps only what the wire carries.

/// `trail.hello`: who the daemon is and the limits it enforces.
public struct Hello: Sendable {
    public var server: String
    public var version: String
    public var protocolVersion: Int
    /// `sqlite` or `postgres`.
    public var store: String
    /// Where the store is: `sqlite:PATH`, or the PostgreSQL URL without its password.
    public var database: String?
    /// The longest request line the daemon reads.
    public var maxFrameBytes: Int
    /// Every limit, as sent (`max_note_bytes`, `max_tags`, ...).
    public var limits: JSONObject
    /// The settings a new namespace gets.
    public var defaults: NamespaceConfig?
    /// The embedding model recall by meaning uses; nil when the daemon has
    /// none (not installed, or turned off), or predates it. Without it,
    /// `similar` and `merge_similar` are refused with `semantic_unavailable`.
    public var semantic: SemanticModel?

    init(_ o: WireObject) throws(WireDecodingError) {
        server = try o.string("server")
        version = try o.string("version")
        protocolVersion = try o.int("protocol")
        store = try o.optionalString("store") ?? "unknown"
        database = try o.optionalString("database")
        let limits = try o.object("limits")
        self.limits = limits.members
        maxFrameBytes = try limits.optionalInt("max_frame_bytes") ?? Limits.maxFrameBytes
        defaults = try o.optionalObject("defaults").map { d throws(WireDecodingError) in try NamespaceConfig(d, name: nil) }
        semantic = try o.optionalObject("semantic").map { s throws(WireDecodingError) in try SemanticModel(s) }
    }
}

/// `semantic` of `trail.hello`: the sentence-embedding model that finds notes by meaning.
public struct SemanticModel: Sendable, Equatable {
    /// Its name, e.g. `all-MiniLM-L6-v2`.
    public var model: String
    /// The length of its vectors (384 for all-MiniLM-L6-v2).
    public var dimensions: Int

    public init(model: String, dimensions: Int) {
        self.model = model
        self.dimensions = dimensions
    }

    init(_ o: WireObject) throws(WireDecodingError) {
        model = try o.string("model")
        dimensions = try o.int("dims")
    }
}

/// `trail.deposit`: the note's id and where its weight stands now.
public struct Deposited: Sendable {
    public var id: NoteID
    public var ns: String
    /// False when the body was already there (a reinforcement), or the
    /// deposit was merged into a note of similar meaning.
    public var created: Bool
    public var weight: Double
    public var deposits: Int
    /// Whether the deposit went to another note of similar meaning (`id` is
    /// then that note's); nil when `merge_similar` was not asked.
    public var merged: Bool?
    /// The cosine similarity of the body with the note it was merged into.
    public var similarity: Double?
    /// The near notes the body disagrees with on a decisive token, nearest
    /// first, when that kept it from a merge (a correction is never
    /// merged); empty otherwise.
    public var contests: [NoteID]

    init(_ o: WireObject) throws(WireDecodingError) {
        id = try o.id("id")
        ns = try o.string("ns")
        created = try o.bool("created")
        weight = try o.double("weight")
        deposits = try o.int("deposits")
        merged = try o.optionalBool("merged")
        similarity = try o.optionalDouble("similarity")
        contests = try o.ids("contests")
    }
}

/// `trail.reinforce`: the note's weight after the change.
public struct Reinforced: Sendable {
    public var id: NoteID
    public var weight: Double

    init(_ o: WireObject) throws(WireDecodingError) {
        id = try o.id("id")
        weight = try o.double("weight")
    }
}

/// A trail between two notes and its current weight (`trail.link`'s result,
/// and the `trail` of a `linked` event).
public struct Trail: Sendable, Equatable {
    public var from: NoteID
    public var to: NoteID
    public var weight: Double

    public init(from: NoteID, to: NoteID, weight: Double) {
        self.from = from
        self.to = to
        self.weight = weight
    }

    init(_ o: WireObject) throws(WireDecodingError) {
        from = try o.id("from")
        to = try o.id("to")
        weight = try o.double("weight")
    }
}

/// `trail.follow`: the trails out of (or into) a note.
public struct Followed: Sendable {
    public var from: NoteID
    /// The seed the draw used; send it back to replay an exploring walk.
    public var seed: UInt64?
    public var steps: [TrailStep]

    init(_ o: WireObject) throws(WireDecodingError) {
        from = try o.id("from")
        seed = try o.optionalInt("seed").map { UInt64(max(0, $0)) }
        steps = try o.objects("trails").map { s throws(WireDecodingError) in try WireDecode.step(s) }
    }
}

/// `trail.retract`.
public struct Retracted: Sendable {
    public var id: NoteID
    public var state: String

    init(_ o: WireObject) throws(WireDecodingError) {
        id = try o.id("id")
        state = try o.string("state")
    }
}

/// A namespace's settings as the wire carries them.
public struct NamespaceConfig: Sendable, Equatable {
    /// Nil for the `defaults` of `trail.hello`.
    public var name: String?
    /// Seconds.
    public var halfLife: Double
    public var evaporateBelow: Double
    public var maxNoteBytes: Int
    /// How close two notes that disagree on a decisive token must be to
    /// contest each other; nil from a daemon (or an export) older than contests.
    public var contestSimilarity: Double?

    public init(name: String?, halfLife: Double, evaporateBelow: Double, maxNoteBytes: Int, contestSimilarity: Double? = nil) {
        self.name = name
        self.halfLife = halfLife
        self.evaporateBelow = evaporateBelow
        self.maxNoteBytes = maxNoteBytes
        self.contestSimilarity = contestSimilarity
    }

    init(_ o: WireObject, name: String?) throws(WireDecodingError) {
        self.name = try o.optionalString("ns") ?? name
        halfLife = try o.double("half_life_s")
        evaporateBelow = try o.double("evaporate_below")
        maxNoteBytes = try o.int("max_note_bytes")
        contestSimilarity = try o.optionalDouble("contest_similarity")
    }

    /// The members `trail.namespace.configure` takes, without `ns`.
    public var params: JSONObject {
        var p: JSONObject = ["half_life_s": .double(halfLife), "evaporate_below": .double(evaporateBelow),
                             "max_note_bytes": .int(maxNoteBytes)]
        p.put("contest_similarity", contestSimilarity)
        return p
    }
}

func readCounts(_ o: WireObject) throws(WireDecodingError) -> NamespaceCounts {
    var c = NamespaceCounts()
    c.notes = try o.int("notes")
    c.live = try o.optionalInt("live") ?? 0
    c.faded = try o.optionalInt("faded") ?? 0
    c.archived = try o.optionalInt("archived") ?? 0
    c.retracted = try o.optionalInt("retracted") ?? 0
    c.edges = try o.optionalInt("edges") ?? 0
    c.totalWeight = try o.optionalDouble("total_weight") ?? 0
    return c
}

/// One entry of `trail.namespace.list`: settings and counts.
public struct NamespaceSummary: Sendable {
    public var config: NamespaceConfig
    public var counts: NamespaceCounts

    init(_ o: WireObject) throws(WireDecodingError) {
        config = try NamespaceConfig(o, name: nil)
        counts = try readCounts(o)
    }

    public var name: String { config.name ?? "" }
}

/// `trail.compact`'s report, and `compaction` in `trail.stats`.
public struct Compaction: Sendable {
    /// Nil when every namespace was compacted.
    public var ns: String?
    /// Absent from `trail.compact`'s answer; set in `trail.stats`.
    public var startedAtMillis: Int64?
    public var durationMs: Double
    /// Notes archived.
    public var evaporated: Int
    /// Bytes written to archive packs.
    public var archivedBytes: Int
    /// Notes given a rank.
    public var ranked: Int
    /// Whether the namespace's landmark was moved forward.
    public var rebased: Bool

    init(_ o: WireObject) throws(WireDecodingError) {
        ns = try o.optionalString("ns")
        startedAtMillis = o["started_at"] == nil ? nil : try o.time("started_at")
        durationMs = try o.optionalDouble("duration_ms") ?? 0
        evaporated = try o.optionalInt("evaporated") ?? 0
        archivedBytes = try o.optionalInt("archived_bytes") ?? 0
        ranked = try o.optionalInt("ranked") ?? 0
        rebased = try o.optionalBool("rebased") ?? false
    }
}

/// `trail.stats`: a namespace's counts and the daemon's figures.
public struct NamespaceStats: Sendable {
    public var ns: String
    /// Counts by state, trails, and `totalWeight`.
    public var counts: NamespaceCounts
    public var storeBytes: Int
    /// Seconds since the daemon started.
    public var uptime: Double
    public var connections: Int
    /// Compressed size of the namespace's archive packs.
    public var archivedBytes: Int
    /// Bytes of archived records per packed byte; nil before anything was archived.
    public var compressionRatio: Double?
    /// The namespace's last compaction, nil before the first.
    public var compaction: Compaction?
    /// How far the namespace's notes are embedded for recall by meaning; nil
    /// when the daemon has no embedding model.
    public var embedding: EmbeddingProgress?

    init(_ o: WireObject) throws(WireDecodingError) {
        ns = try o.string("ns")
        counts = try readCounts(o)
        storeBytes = try o.optionalInt("store_bytes") ?? 0
        uptime = try o.optionalDouble("uptime_s") ?? 0
        connections = try o.optionalInt("connections") ?? 0
        archivedBytes = try o.optionalInt("archived_bytes") ?? 0
        compressionRatio = try o.optionalDouble("compression_ratio")
        compaction = try o.optionalObject("compaction").map { c throws(WireDecodingError) in try Compaction(c) }
        embedding = try o.optionalObject("embedding").map { e throws(WireDecodingError) in try EmbeddingProgress(e) }
    }
}

/// `embedding` of `trail.stats`: a namespace's notes embedded by the model,
/// and those still waiting (a note is found by meaning once embedded).
public struct EmbeddingProgress: Sendable, Equatable {
    public var model: String
    public var embedded: Int
    public var pending: Int

    public init(model: String, embedded: Int, pending: Int) {
        self.model = model
        self.embedded = embedded
        self.pending = pending
    }

    init(_ o: WireObject) throws(WireDecodingError) {
        model = try o.string("model")
        embedded = try o.int("embedded")
        pending = try o.int("pending")
    }
}

/// One page of `trail.export`. Its records are kept as sent, so that an
/// export file stores them unchanged; `RecordReader` reads and checks one.
public struct ExportedPage: Sendable {
    public var ns: String
    public var settings: NamespaceConfig
    /// RFC 3339, as sent: the instant the page's weights were taken.
    public var exportedAt: String
    /// The records exactly as sent (an export file stores them unchanged).
    public var records: [JSONValue]
    /// Pass back for the next page; nil after the last.
    public var cursor: String?

    init(_ o: WireObject) throws(WireDecodingError) {
        ns = try o.string("ns")
        settings = try NamespaceConfig(o.object("settings"), name: ns)
        exportedAt = try o.string("exported_at")
        records = try o.array("records")
        cursor = try o.optionalString("cursor")
    }
}

/// `trail.import`: what was restored (or held, for a staged chunk).
public struct Imported: Sendable {
    public var ns: String
    /// Records applied.
    public var notes: Int
    /// Notes that did not exist before.
    public var created: Int
    /// Trails written.
    public var trails: Int
    /// Records held under the stage name (when `commit` was false).
    public var staged: Int

    init(_ o: WireObject) throws(WireDecodingError) {
        ns = try o.string("ns")
        notes = try o.optionalInt("notes") ?? 0
        created = try o.optionalInt("created") ?? 0
        trails = try o.optionalInt("trails") ?? 0
        staged = try o.optionalInt("staged") ?? 0
    }
}
