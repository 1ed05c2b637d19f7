import Foundation
import TrailCore

/// What one evaporation batch did.
public struct EvaporationReport: Sendable {
    public var ns: String
    /// The notes that evaporated, as they were (state `archived`), for
    /// watchers; empty when the batch did not ask for them.
    public var notes: [Note] = []
    /// How many evaporated.
    public var count = 0
    public var packedBytes = 0
    public var rawBytes = 0

    public init(ns: String, notes: [Note] = [], count: Int = 0, packedBytes: Int = 0, rawBytes: Int = 0) {
        self.ns = ns
        self.notes = notes
        self.count = count
        self.packedBytes = packedBytes
        self.rawBytes = rawBytes
    }
}

/// An evaporation batch already packed from a read, outside the write lock
/// (`TrailStore.packEvaporation`): its records are in a pack file on disk,
/// synced, that no committed row names yet. The `.evaporate` write that
/// carries it only checks which of its notes are still set aside and slims
/// their rows; a note used since it was packed stays, and its record in the
/// pack is never named.
public struct PackedEvaporation: Sendable {
    /// The pack file's name, as the engine names it.
    public var pack: String
    /// Each packed note's handle and where its record is in the pack.
    public var entries: [(handle: Int64, offset: Int64, length: Int64)]
    /// The evaporated notes as they were when packed (state `archived`), in
    /// the order of `entries`, for watchers; empty when the batch did not
    /// ask for them.
    public var notes: [Note]
    public var rawBytes: Int
    public var packedBytes: Int
    /// The engine's claim on the pack file, held for as long as this value
    /// (and the write that carries it) lives: until then the file is not an
    /// orphan to sweep, though no committed row names it yet.
    public let claim: (any AnyObject & Sendable)?

    public init(pack: String, entries: [(handle: Int64, offset: Int64, length: Int64)], notes: [Note],
                rawBytes: Int, packedBytes: Int, claim: (any AnyObject & Sendable)?) {
        self.pack = pack
        self.entries = entries
        self.notes = notes
        self.rawBytes = rawBytes
        self.packedBytes = packedBytes
        self.claim = claim
    }
}

/// Points inside an evaporation where tests kill the process, to prove that
/// a crash anywhere loses and duplicates nothing. Only set from the
/// `TRAIL_TEST_FAULT` environment variable, which only tests use.
public struct CompactionFault: Sendable {
    public enum Point: String, Sendable {
        /// The pack is on disk, its index not yet written.
        case packWritten = "pack-written"
        /// The index is written, the transaction not yet committed.
        case indexWritten = "index-written"
        /// The transaction has committed.
        case committed = "committed"
        /// A bulk evaporation has set its notes aside (committed), none archived yet.
        case marked = "marked"
    }

    public let point: Point

    /// Reads `TRAIL_TEST_FAULT`; nil when unset.
    public static func fromEnvironment() -> CompactionFault? {
        ProcessInfo.processInfo.environment["TRAIL_TEST_FAULT"].flatMap(Point.init(rawValue:)).map(CompactionFault.init(point:))
    }

    /// Kills the process at once (as `kill -9` would) when `here` is the point.
    public func trip(_ here: Point) throws {
        if here == point { kill(getpid(), SIGKILL) }
    }
}

