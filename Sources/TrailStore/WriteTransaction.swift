import TrailCore

/// An archived note as an engine indexes it: enough to know its weight and
/// where its record is.
public protocol ArchivedEntry {
    var id: String { get }
    var seq: Int64 { get }
    /// Its key, which goes on decaying like a live note's.
    var key: Double { get }
}

/// A note found by id or prefix: in the hot tables, or archived.
public enum Located<Archived: ArchivedEntry> {
    case hot(NoteRow)
    case archived(Archived)

    public var id: String {
        switch self {
        case let .hot(row): row.id
        case let .archived(entry): entry.id
        }
    }
}

/// The columns of a note row a write changed, beside `updated_at`.
public struct NoteChanges: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// `key` and `state` (a reinforcement).
    public static let weight = NoteChanges(rawValue: 1)
    /// `deposits`, `tags` and `after` (a re-deposit).
    public static let deposit = NoteChanges(rawValue: 2)
    /// `state` and the retraction's reason, agent and time.
    public static let retraction = NoteChanges(rawValue: 4)
    public static let all: NoteChanges = [.weight, .deposit, .retraction]
}

/// How one engine carries out the contract's writes inside one transaction,
/// at one instant: the rows it reads and writes, and nothing of what a write
/// means (that is `NoteWrites`, written once for every engine).
///
/// Every note a write transaction returns stays locked against other writers
/// until the transaction ends (SQLite has one writer; PostgreSQL locks the
/// row), so a weight read here and written back cannot lose another
/// daemon's reinforcement.
public protocol WriteTransaction {
    associatedtype Archived: ArchivedEntry

    /// The instant every write of the transaction happens at, in seconds
    /// since 1970 on the store's clock (the database's, for a server).
    var now: Double { get }
    /// Who writes (agent, peer uid and pid) for the write log.
    var writer: Writer { get }

    /// A namespace's settings, or nil if it does not exist.
    func existingNamespace(_ name: String) throws -> NamespaceSettings?
    /// Creates the namespace with `settings` unless it exists; returns it as stored.
    func createNamespace(_ settings: NamespaceSettings) throws -> NamespaceSettings
    /// Stores new settings of an existing namespace.
    func saveNamespace(_ settings: NamespaceSettings) throws
    /// Rewrites every key of a namespace against the landmark `now`
    /// (`ForwardDecay.rebased(key:to:)`), weights unchanged, and stores the
    /// new landmark.
    func rebase(_ settings: NamespaceSettings, to now: Double) throws

    /// The one note `prefix` names in `ns`, hot or archived; throws
    /// `unknownNote` or `ambiguousID`.
    func locate(_ prefix: IDPrefix, ns: String) throws -> Located<Archived>
    /// The note with this full id, if there is one.
    func byID(_ id: String, ns: String) throws -> Located<Archived>?
    /// Stores each vector of `model` for its note, if the note is still
    /// there, under a new stamp (after every stamp so far); returns how many.
    func storeVectors(model: String, _ vectors: [VectorWrite]) throws -> Int
    /// Records each pair whose notes are both notes of `ns` and that is not
    /// recorded yet (contract §8); returns how many were new.
    func recordContests(ns: String, _ pairs: [ContestPair]) throws -> Int
    /// Inserts `row` as a new live note of `ns` with its full-text entry;
    /// returns its seq, or nil (and writes nothing) when `ns` already has a
    /// note with that id, in any state.
    func insert(_ row: NoteRow, ns: String) throws -> Int64?
    /// Writes back what `changed` says a write changed of a hot note
    /// (`updated_at` always): an engine may write just those columns.
    func update(_ row: NoteRow, ns: String, changed: NoteChanges) throws
    /// Brings an archived note back into the hot tables with `weight`, with
    /// its tags, text and the trails whose other end is hot.
    func unarchive(_ entry: Archived, settings: NamespaceSettings, weight: Double) throws -> NoteRow
    /// Indexes `tags` of a note (those it has are kept).
    func addTags(_ tags: [String], note: Int64, ns: String) throws
    /// Adds `delta` to the decayed weight of the trail `from -> to`
    /// (creating it), floor 0, as `ForwardDecay.reinforced`; returns its new weight.
    func walkTrail(from: Int64, to: Int64, ns: String, decay: ForwardDecay, delta: Double) throws -> Double
    /// Sets a hot note (`existing`, or a new row when nil) to `note` as a
    /// restore gives it, with `key` and its tags (replacing the ones it had);
    /// returns its seq.
    func restoreNote(_ note: Note, key: Double, over existing: NoteRow?, ns: String) throws -> Int64
    /// Sets the trail `from -> to` to `key` (creating it).
    func setTrail(from: Int64, to: Int64, ns: String, key: Double) throws
    /// Archives the hot notes `seqs` of the namespace again (a restore of
    /// archived records), with their trails.
    func archiveAgain(_ seqs: [Int64], settings: NamespaceSettings) throws

    /// Appends to the write log: what was done to which notes, by `writer`, at `now`.
    func log(ns: String, op: String, note: Int64?, other: Int64?, delta: Double?, detail: String?) throws
}

extension WriteTransaction {
    /// The namespace's settings, creating it with the defaults (landmark now) if new.
    public func namespace(_ name: String) throws -> NamespaceSettings {
        if let settings = try existingNamespace(name) { return settings }
        return try createNamespace(NamespaceSettings(name: name, landmark: now))
    }

    /// The settings of a namespace a write names a note of: a namespace that
    /// does not exist has no notes.
    public func requireNamespace(_ name: String, id: IDPrefix) throws -> NamespaceSettings {
        guard let settings = try existingNamespace(name) else { throw TrailError.unknownNote(id: id.hex, ns: name) }
        return settings
    }

    /// A note the write needs in the hot tables: an archived one is brought
    /// back first, with its decayed weight.
    public func hotNote(_ prefix: IDPrefix, ns: String, settings: NamespaceSettings) throws -> NoteRow {
        switch try locate(prefix, ns: ns) {
        case let .hot(row): return row
        case let .archived(entry):
            return try unarchive(entry, settings: settings, weight: settings.decay.weight(key: entry.key, at: now))
        }
    }

    public func log(ns: String, op: String, note: Int64? = nil, other: Int64? = nil, delta: Double? = nil) throws {
        try log(ns: ns, op: op, note: note, other: other, delta: delta, detail: nil)
    }
}
