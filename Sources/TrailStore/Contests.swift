import Synchronization
import TrailCore

/// Two notes of a namespace that contest each other (contract §8): close in
/// meaning, disagreeing on a decisive token. Named by handles, the smaller
/// first, so that a pair is stored once whichever note found the other.
public struct ContestPair: Sendable, Hashable {
    public let a: Int64
    public let b: Int64
    /// The cosine similarity of the two notes' embeddings.
    public let similarity: Double

    public init(_ x: Int64, _ y: Int64, similarity: Double) {
        (a, b) = x < y ? (x, y) : (y, x)
        self.similarity = similarity
    }
}

/// The contest pairs found in one namespace.
public struct NamespaceContests: Sendable {
    public let ns: String
    public let pairs: [ContestPair]

    public init(ns: String, pairs: [ContestPair]) {
        self.ns = ns
        self.pairs = pairs
    }
}

/// One side of a stored contest as a reader finds it: a note asked about,
/// the note contesting it, and where each stands.
public struct ContestRow: Sendable {
    public var note: NoteID
    public var noteState: StoredState
    public var noteKey: Double
    public var other: NoteID
    public var otherState: StoredState
    public var otherKey: Double

    public init(note: NoteID, noteState: StoredState, noteKey: Double, other: NoteID, otherState: StoredState, otherKey: Double) {
        self.note = note
        self.noteState = noteState
        self.noteKey = noteKey
        self.other = other
        self.otherState = otherState
        self.otherKey = otherKey
    }

    /// Whether a note in this state and at this key takes part in a
    /// contest: it is live (faded ones included) and not repelled to zero.
    /// A contest is over while one side is retracted, archived (evaporated)
    /// or at weight zero.
    static func inPlay(_ state: StoredState, _ key: Double) -> Bool {
        (state == .live || state == .evaporating) && key > ForwardDecay.zeroKey
    }
}

extension Sequence where Element == ContestRow {
    /// `contested_by` of each note (contract §8): the notes contesting it
    /// while both are in play, strongest first (a higher key is a higher
    /// weight within a namespace), ties by id. Notes without are left out.
    /// (A pair is stored once, the smaller seq first, so each other note
    /// comes once per note asked about.)
    public func contestedBy() -> [NoteID: [NoteID]] {
        var sides: [NoteID: [(id: NoteID, key: Double)]] = [:]
        for row in self where ContestRow.inPlay(row.noteState, row.noteKey) && ContestRow.inPlay(row.otherState, row.otherKey) {
            sides[row.note, default: []].append((row.other, row.otherKey))
        }
        return sides.mapValues { others in
            others.sorted { $0.key != $1.key ? $0.key > $1.key : $0.id < $1.id }.map(\.id)
        }
    }
}

extension Array where Element == ScoredNote {
    /// The same notes, each with its `contestedBy` from the stored `rows`.
    public func contested(by rows: [ContestRow]) -> [ScoredNote] {
        let contests = rows.contestedBy()
        guard !contests.isEmpty else { return self }
        return map { n in
            var n = n
            n.note.contestedBy = contests[n.note.id] ?? []
            return n
        }
    }
}

/// The namespaces that may hold contests: a store asks the contest table
/// only for them, so that `sense` and `get` in a namespace without any cost
/// nothing more (measured: two lookups a sense took W6's mix from 35k to
/// 24k operations a second on SQLite).
///
/// The set only grows: a namespace is added before a contest of it is
/// written and by each read of the namespaces with contests, so a reader
/// may look for nothing, never miss a contest this daemon wrote. (A
/// namespace whose contests all went with their notes stays: it costs
/// lookups that find nothing.)
public final class ContestedNamespaces: Sendable {
    private let names = Mutex<(set: Set<String>, readAt: Double)>(([], -.infinity))

    public init() {}

    public func mayHave(_ ns: String) -> Bool { names.withLock { $0.set.contains(ns) } }

    public func add(_ ns: String) { _ = names.withLock { $0.set.insert(ns) } }

    /// Adds the namespaces a read of the contest table found.
    public func add(_ all: Set<String>) { names.withLock { $0.set.formUnion(all) } }

    /// Whether it is time to read the contest table again (several daemons
    /// on one database record contests), and how: `nil` while the last read
    /// is less than `seconds` old; else the age of the last read, to one
    /// caller at a time, which reads and `add`s what it found.
    public func claimRead(every seconds: Double, at now: Double) -> Double? {
        names.withLock { n in
            let age = now - n.readAt
            guard age >= seconds else { return nil }
            n.readAt = now
            return age
        }
    }
}
