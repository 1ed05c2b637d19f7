import TrailCore

/// A write the store applies in the order it was submitted.
public enum WriteRequest: Sendable {
    case deposit(Deposit)
    case reinforce(id: IDPrefix, ns: String, delta: Double)
    case link(from: IDPrefix, to: IDPrefix, ns: String, delta: Double)
    case retract(id: IDPrefix, ns: String, reason: String)
    case revive(id: IDPrefix, ns: String)
    case configure(NamespaceChange)
    /// Restore exported records: all or nothing.
    case restore(ns: String, records: [NoteRecord])
    /// Set aside the notes of `batch` that are still faded for evaporation
    /// (a bulk evaporation does this once, then evaporates them in batches;
    /// an engine that packs from reads, before each batch).
    case markEvaporating(ns: String, batch: EvaporationBatch)
    /// Move the notes of `batch` that are still faded into an archive pack
    /// (or, when the batch carries one packed from a read, archive those of
    /// its notes still set aside).
    case evaporate(ns: String, batch: EvaporationBatch)
    /// Drop the trails that a bulk evaporation left behind, in one pass.
    case dropDeadTrails(ns: String)
    /// Remove orphaned and unused archive packs.
    case sweepPacks
    /// Store the trail rank of notes, named by the handles of a `RankGraph`.
    case setRanks(ns: String, ranks: [(handle: Int64, rank: Double)])
    /// Move the landmark to now if it is more than `bound` half-lives old.
    case rebase(ns: String, bound: Double)
    /// Keep a compaction report for `trail.stats`.
    case recordCompaction(CompactionReport)
    /// Rebuild the full-text index if evaporation left too much behind in it.
    case maintainText
    /// Store the vectors of `model` for notes still there (a note gone since
    /// is skipped); storing a note's vector again gives it a new stamp. The
    /// contests found for these notes are recorded in the same transaction
    /// (as `.recordContests`), so a note whose vector is stored has its
    /// contests recorded, whatever stops the daemon.
    case storeVectors(model: String, vectors: [VectorWrite], contests: [NamespaceContests] = [])
    /// `merge_similar` found `into` (a live note of another body) at
    /// `similarity`: the deposit lands on it, as a re-deposit that keeps its
    /// body and puts the deposited body in its history. When `into` is no
    /// longer live, or the deposited body is itself a note of the namespace,
    /// it is an ordinary deposit.
    case merge(Deposit, into: NoteID, similarity: Double)
    /// Record that the notes of each pair contest each other (contract §8);
    /// a pair already recorded, or naming a note no longer there, is skipped.
    case recordContests(ns: String, pairs: [ContestPair])
}

extension WriteRequest {
    /// The namespaces this write records contests in (a store adds them to
    /// its `ContestedNamespaces` before the write commits).
    public var contestedNamespaces: [String] {
        switch self {
        case let .recordContests(ns, pairs): pairs.isEmpty ? [] : [ns]
        case let .storeVectors(_, _, contests): contests.filter { !$0.pairs.isEmpty }.map(\.ns)
        default: []
        }
    }
}

extension WriteRequest {
    /// Writes that touch many rows: each is committed in a transaction of its own.
    public var isBulk: Bool {
        switch self {
        case .restore, .markEvaporating, .evaporate, .dropDeadTrails, .sweepPacks, .setRanks, .rebase, .maintainText, .storeVectors,
             .recordContests: true
        case .deposit, .reinforce, .link, .retract, .revive, .configure, .recordCompaction, .merge: false
        }
    }
}

/// What a committed write did, with the notes as they are after it.
public enum WriteOutcome: Sendable {
    case deposited(note: Note, created: Bool)
    case reinforced(note: Note)
    case linked(from: NoteID, to: Note, weight: Double)
    case retracted(note: Note)
    case revived(note: Note)
    case configured(NamespaceSettings)
    case restored(RestoreReport)
    case evaporated(EvaporationReport)
    case marked(Int)
    case trailsDropped(Int)
    case swept(removed: Int)
    case ranked(Int)
    case rebased(Bool)
    case recorded
    case textMaintained(rebuilt: Bool)
    case vectorsStored(Int)
    /// Contest pairs recorded (new ones only).
    case contestsRecorded(Int)
    /// A `merge_similar` deposit landed on `note`, found at `similarity`.
    case merged(note: Note, similarity: Double)

    /// The note the write touched (the `to` end of a link), if any.
    public var note: Note? {
        switch self {
        case let .deposited(note, _), let .reinforced(note), let .retracted(note), let .revived(note), let .merged(note, _): note
        case let .linked(_, to, _): to
        case .configured, .restored, .evaporated, .marked, .trailsDropped, .swept, .ranked, .rebased, .recorded, .textMaintained,
             .vectorsStored, .contestsRecorded: nil
        }
    }
}

/// A committed write: its outcome, and the seq of the write-log row that
/// records it when the outcome is one watchers hear of (the `seq` of its
/// event).
public struct Committed: Sendable {
    public var outcome: WriteOutcome
    public var seq: Int64?
    public init(_ outcome: WriteOutcome, seq: Int64? = nil) {
        self.outcome = outcome
        self.seq = seq
    }
}

/// A namespace's live notes (personalisation weights) and the trails between
/// them, with node indices into `ids`.
public struct RankGraph: Sendable {
    public var ids: [NoteID]
    /// The engine's own handle of each node (as `ids`), to store its rank by.
    public var handles: [Int64] = []
    public var weights: [Double]
    public var edgeFrom: [Int32]
    public var edgeTo: [Int32]
    public var edgeWeight: [Double]
    public init(ids: [NoteID] = [], weights: [Double] = [], edgeFrom: [Int32] = [], edgeTo: [Int32] = [], edgeWeight: [Double] = []) {
        self.ids = ids
        self.weights = weights
        self.edgeFrom = edgeFrom
        self.edgeTo = edgeTo
        self.edgeWeight = edgeWeight
    }
}

/// Notes to evaporate together, named by the engine's own handles. Batches
/// follow storage order, so that one batch touches few pages of the tables.
public struct EvaporationBatch: Sendable {
    public let handles: [Int64]
    /// Whether the report should carry the evaporated notes (for watchers);
    /// building them costs as much as a good part of the evaporation.
    public var reportNotes: Bool
    /// Leave the notes' trails in place for `dropDeadTrails` (a bulk
    /// evaporation): deleting them batch by batch writes a random page of
    /// three trail indexes per trail.
    public var keepTrails: Bool
    /// The batch's notes already packed outside the write lock: the write
    /// archives those of them still set aside (nil: it packs them itself).
    public var packed: PackedEvaporation?
    public init(handles: [Int64], reportNotes: Bool = true, keepTrails: Bool = false, packed: PackedEvaporation? = nil) {
        self.handles = handles
        self.reportNotes = reportNotes
        self.keepTrails = keepTrails
        self.packed = packed
    }
}

/// What a restore wrote.
public struct RestoreReport: Sendable {
    public var ns: String
    public var notes: Int
    public var created: Int
    public var trails: Int
    public init(ns: String, notes: Int, created: Int, trails: Int) {
        self.ns = ns
        self.notes = notes
        self.created = created
        self.trails = trails
    }
}

/// A write that another process committed to the same store (another
/// daemon over one database), as watchers see it.
public struct StoreEvent: Sendable {
    /// `deposited`, `reinforced`, `linked`, `retracted`, `revived` or `evaporated`.
    public var event: String
    /// The note as it is after the write (the `to` end of a link).
    public var note: Note
    /// For `linked`: where the trail comes from, and its weight after the write.
    public var trailFrom: NoteID?
    public var trailWeight: Double?
    /// The seq of the write-log row the event comes from (every note of one
    /// evaporation shares its row's).
    public var seq: Int64?
    public init(event: String, note: Note, trailFrom: NoteID? = nil, trailWeight: Double? = nil, seq: Int64? = nil) {
        self.event = event
        self.note = note
        self.trailFrom = trailFrom
        self.trailWeight = trailWeight
        self.seq = seq
    }
}

/// Writes of other processes that a daemon could not replay to its
/// watchers: the write-log seqs from `first` to `last`, in `namespaces`.
/// Watchers of those namespaces are told, so that they sense afresh.
public struct EventGap: Sendable, Equatable {
    public var first: Int64
    public var last: Int64
    public var namespaces: [String]
    public init(first: Int64, last: Int64, namespaces: [String]) {
        self.first = first
        self.last = last
        self.namespaces = namespaces
    }
}

/// A namespace's settings with its counts at one instant.
public struct NamespaceSummary: Sendable {
    public var settings: NamespaceSettings
    public var counts: NamespaceCounts
    public init(settings: NamespaceSettings, counts: NamespaceCounts) {
        self.settings = settings
        self.counts = counts
    }
}

/// The store behind `traild`: an engine that keeps notes, trails and
/// namespaces durably and answers the contract's reads.
///
/// Every method reports failure as a `TrailError`. Writes go through
/// `submit`, which applies them in submission order and calls back only once
/// the write is durable, so that the engine can commit many writes with one
/// sync (group commit).
public protocol TrailStore: Sendable {
    /// `sqlite` or `postgres`.
    var engine: String { get }

    /// Where the store is, for people (`sqlite:PATH`, or the PostgreSQL URL
    /// without its password): `trail.hello` and `trailctl status` show it.
    var database: String { get }

    /// Queues `write`; `completion` runs on a store thread after the write is
    /// durable (or failed). Writes submitted from one thread are applied in
    /// the order submitted. Cheap: takes a lock and appends.
    func submit(_ write: WriteRequest, by writer: Writer,
                completion: @escaping @Sendable (Result<Committed, TrailError>) -> Void)

    /// Writes queued and not yet answered.
    var pendingWrites: Int { get }

    /// One note in any state, by id or unique prefix, with its trails (the
    /// strongest 100 each way) and its history (the latest 100 writes).
    func get(_ id: IDPrefix, ns: String) async throws(TrailError) -> NoteDetails

    /// The strongest notes matching `query`, in score order.
    func sense(_ query: SenseQuery) async throws(TrailError) -> [ScoredNote]

    /// The trails out of and/or into a note.
    func follow(_ query: FollowQuery) async throws(TrailError) -> FollowResult

    /// A namespace's settings and counts (defaults and zeros if it does not exist).
    func summary(ns: String) async throws(TrailError) -> NamespaceSummary

    /// Every namespace with its counts.
    func namespaces() async throws(TrailError) -> [NamespaceSummary]

    /// A page of every note of a namespace in every state, in storage order,
    /// starting after `cursor`.
    func export(ns: String, after cursor: Int64?, limit: Int) async throws(TrailError) -> ExportPage

    /// The faded notes of `ns` (a range read on the key index), in batches
    /// of at most `size` in storage order, for `.evaporate`.
    func fadedNotes(ns: String, batch size: Int) async throws(TrailError) -> [EvaporationBatch]

    /// Whether `packEvaporation` packs set-aside notes from a read: then a
    /// compaction sets every batch aside first (`.markEvaporating`).
    var packsEvaporationFromReads: Bool { get }

    /// Packs the notes of `batch` that are set aside for evaporation (state
    /// `evaporating`) into an archive pack from a read, outside the write
    /// lock, for an `.evaporate` write that carries it; nil when the engine
    /// packs inside that write instead.
    func packEvaporation(ns: String, batch: EvaporationBatch) async throws(TrailError) -> PackedEvaporation?

    /// The weighted trail graph of a namespace's live notes, for ranking.
    func rankGraph(ns: String) async throws(TrailError) -> RankGraph

    /// Runs `body` while this process alone may compact `ns` (several
    /// daemons may serve one database). When another process compacts it
    /// now, waits for it to finish if `wait`, else returns nil at once
    /// without running `body`.
    func compacting<T: Sendable>(ns: String, wait: Bool,
                                 _ body: @Sendable () async throws(TrailError) -> T) async throws(TrailError) -> T?

    /// Hands `deliver` the writes that other processes commit to this store
    /// (several daemons over one database), for the namespaces `watching`
    /// gives at the time, from now until the store closes: each once, and
    /// those of one note in the order they committed, also across a lost
    /// connection to the store (caught up from the write log when it is
    /// back). What cannot be caught up is handed to `missed`. An engine that
    /// no other process writes to has none to give.
    func forwardEvents(watching: @escaping @Sendable () -> Set<String>, to deliver: @escaping @Sendable (StoreEvent) -> Void,
                       missed: @escaping @Sendable (EventGap) -> Void)

    /// The last compaction of `ns` (of any namespace when nil).
    func lastCompaction(ns: String?) async throws(TrailError) -> CompactionReport?

    /// Bytes the store occupies on disk.
    func storeBytes() -> Int64

    /// Waits for queued writes to finish, then closes the store.
    func close() async

    /// The engine's synchronous reads, when it has them (nil otherwise).
    var inlineReads: (any InlineReads)? { get }

    /// Whether the async reads should run on the event loop of the
    /// connection that asked: true for an engine whose reads mostly wait on
    /// a network (a round trip to a database server), where the hops
    /// between the event loop and Swift's thread pool cost more than the
    /// read's own CPU. Such reads must not block.
    var readsOnEventLoop: Bool { get }

    // MARK: vectors (recall by meaning, contract §8)

    /// Vectors of `model` of live notes (faded ones included) stored after
    /// `stamp`, in stamp order, at most `limit`: what loads the in-memory
    /// index at start and brings it what other daemons stored. Stamps become
    /// visible in the order they were given: once a stamp is read, no
    /// smaller one appears later.
    func vectors(model: String, after stamp: Int64, limit: Int) async throws(TrailError) -> [StoredVector]

    /// Live notes (faded ones included) with no vector of `model`, in handle
    /// order after `handle`, at most `limit`.
    func unembedded(model: String, after handle: Int64, limit: Int) async throws(TrailError) -> [UnembeddedNote]

    /// The live notes (faded ones included) of `ns` that `keys` name, with
    /// their vectors of `model` when stored, in no particular order; notes
    /// that are not there or not live are left out.
    func meaningRows(ns: String, _ keys: NoteKeys, model: String) async throws(TrailError) -> [MeaningRow]

    /// Whether processes other than this one write to the store (several
    /// daemons over one database): then the indexer looks for their notes.
    var hasOtherWriters: Bool { get }

    // MARK: contested notes (contract §8)

    /// A namespace's settings alone (nil when it does not exist): a cheap read.
    func settings(ns: String) async throws(TrailError) -> NamespaceSettings?

    /// The stored contests of the notes of `ns` that `ids` name, each side
    /// with where it stands (`ContestRow`); `contestedBy()` makes them the
    /// `contested_by` of each note.
    func contestRows(ns: String, ids: [NoteID]) async throws(TrailError) -> [ContestRow]
}

/// Short reads answered on the calling thread, without a hop to another
/// thread and back: what a daemon can afford to run on its event loop.
///
/// Each answers what its async counterpart of `TrailStore` answers, from one
/// read transaction. They block the caller for as long as the read takes, so
/// callers keep them for bounded reads (a `sense` without words or tags, a
/// `get`, a `follow`).
public protocol InlineReads: Sendable {
    /// `TrailStore.get`, on the calling thread.
    func getNow(_ id: IDPrefix, ns: String) throws(TrailError) -> NoteDetails
    /// `TrailStore.sense`, on the calling thread.
    func senseNow(_ query: SenseQuery) throws(TrailError) -> [ScoredNote]
    /// `TrailStore.follow`, on the calling thread.
    func followNow(_ query: FollowQuery) throws(TrailError) -> FollowResult
}

extension TrailStore {
    /// One process per store by default (the embedded engine: the data dir's
    /// lock, and SQLite's own write lock for `trail-compactor` beside it).
    public func compacting<T: Sendable>(ns: String, wait: Bool,
                                        _ body: @Sendable () async throws(TrailError) -> T) async throws(TrailError) -> T? {
        try await body()
    }

    /// False by default: the engine packs inside the `.evaporate` write.
    public var packsEvaporationFromReads: Bool { false }

    /// Nil by default: the engine packs inside the `.evaporate` write.
    public func packEvaporation(ns: String, batch: EvaporationBatch) async throws(TrailError) -> PackedEvaporation? {
        nil
    }

    /// Nothing by default: this process is the store's only writer.
    public func forwardEvents(watching: @escaping @Sendable () -> Set<String>, to deliver: @escaping @Sendable (StoreEvent) -> Void,
                              missed: @escaping @Sendable (EventGap) -> Void) {}

    /// None by default: every read goes through the async methods.
    public var inlineReads: (any InlineReads)? { nil }

    /// False by default: async reads run on Swift's thread pool.
    public var readsOnEventLoop: Bool { false }
}

extension TrailStore {
    /// `submit` as an async call.
    public func write(_ write: WriteRequest, by writer: Writer) async throws(TrailError) -> WriteOutcome {
        try await commit(write, by: writer).outcome
    }

    /// `submit` as an async call, with the seq of the write's log row.
    public func commit(_ write: WriteRequest, by writer: Writer) async throws(TrailError) -> Committed {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Committed, TrailError>, Never>) in
            submit(write, by: writer) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}
