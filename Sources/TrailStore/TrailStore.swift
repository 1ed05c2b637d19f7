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

    /// The note the write touched (the `to` end of a link), if any.
    public var note: Note? {
        switch self {
        case let .deposited(note, _), let .reinforced(note), let .retracted(note), let .revived(note): note
        case let .linked(_, to, _): to
        case .configured, .restored: nil
        }
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

/// A namespace's settings with its counts at one instant.
public struct NamespaceSummary: Sendable {
    public var settings: NamespaceSettings
    public var counts: NamespaceCounts
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

    /// Queues `write`; `completion` runs on a store thread after the write is
    /// durable (or failed). Writes submitted from one thread are applied in
    /// the order submitted. Cheap: takes a lock and appends.
    func submit(_ write: WriteRequest, by writer: Writer,
                completion: @escaping @Sendable (Result<WriteOutcome, TrailError>) -> Void)

    /// Writes queued and not yet answered.
    var pendingWrites: Int { get }

    /// One note in any state, by id or unique prefix.
    func get(_ id: IDPrefix, ns: String) async throws(TrailError) -> Note

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

    /// Bytes the store occupies on disk.
    func storeBytes() -> Int64

    /// Waits for queued writes to finish, then closes the store.
    func close() async
}

extension TrailStore {
    /// `submit` as an async call.
    public func write(_ write: WriteRequest, by writer: Writer) async throws(TrailError) -> WriteOutcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<WriteOutcome, TrailError>, Never>) in
            submit(write, by: writer) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}
