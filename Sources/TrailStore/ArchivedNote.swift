import Dispatch
import Foundation
import Synchronization
import TrailCore
import TrailZstd

/// An evaporated note as an archive holds it: everything needed to give it
/// back byte for byte, with its trails, as it was when it evaporated. Every
/// engine keeps the same records in the same frames (`ArchiveFrames`); only
/// where the frames live differs (pack files, or rows of the database).
public struct ArchivedNote: Codable, Equatable, Sendable {
    public struct Trail: Codable, Equatable, Sendable {
        public var id: String
        public var weight: Double
        public init(id: String, weight: Double) {
            self.id = id
            self.weight = weight
        }
    }

    public var id: String
    public var seq: Int64
    public var body: String
    public var tags: [String]
    public var after: [String]
    /// The weight at `archivedAt` (seconds since 1970).
    public var weight: Double
    public var archivedAt: Double
    public var deposits: Int64
    public var agent: String?
    public var rank: Double?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var trailsOut: [Trail]
    public var trailsIn: [Trail]

    public init(id: String, seq: Int64, body: String, tags: [String], after: [String], weight: Double, archivedAt: Double,
                deposits: Int64, agent: String?, rank: Double?, createdAt: Int64, updatedAt: Int64,
                trailsOut: [Trail], trailsIn: [Trail]) {
        self.id = id
        self.seq = seq
        self.body = body
        self.tags = tags
        self.after = after
        self.weight = weight
        self.archivedAt = archivedAt
        self.deposits = deposits
        self.agent = agent
        self.rank = rank
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.trailsOut = trailsOut
        self.trailsIn = trailsIn
    }

    /// A weight this record holds (its own or a trail's), decayed from the
    /// moment it was archived to `now` with the namespace's half-life today.
    public func decayed(_ weight: Double, at now: Double, halfLife: Double) -> Double {
        Self.decay(weight, from: archivedAt, to: now, halfLife: halfLife)
    }

    public static func decay(_ weight: Double, from then: Double, to now: Double, halfLife: Double) -> Double {
        weight * exp2(-(now - then) / halfLife)
    }

    /// The note as `get` shows it: state `archived`, with `weight` (its
    /// weight now, which the engine knows from its key).
    public func note(settings: NamespaceSettings, weight: Double) -> Note {
        Note(id: NoteID(trustedHex: id), ns: settings.name, body: body, tags: tags,
             after: after.map(NoteID.init(trustedHex:)), weight: weight, rank: rank,
             deposits: Int(deposits), agent: agent, state: .archived,
             createdAtMillis: createdAt, updatedAtMillis: updatedAt, retraction: nil)
    }
}

/// Archived records as zstd frames: each frame a block of NDJSON records of
/// about `blockBytes`, with zstd's checksum. A block is the unit an engine
/// stores (a stretch of a pack file, a `bytea` row) and reads back to find
/// one record.
public enum ArchiveFrames {
    /// Raw bytes of records per zstd frame: bigger compresses better, smaller
    /// makes one archived `get` cheaper.
    public static let blockBytes = 32 * 1024

    /// Raw blocks compressed at once, in parallel: enough to keep every core
    /// busy, few enough that a batch's raw records are never all in memory
    /// (at 50,000 notes they were 48 MB beside their 17 MB of frames).
    static let blocksAtOnce = 32

    /// `notes` as frames; `firstRecord[b]` is the index of the first note in
    /// frame `b` (with `notes.count` appended), `raw[b]` its uncompressed bytes.
    /// Records are encoded one block at a time, and every `blocksAtOnce`
    /// blocks are compressed on every core: a bulk evaporation packs hundreds
    /// of megabytes.
    public static func frames(_ notes: [ArchivedNote]) throws(ZstdError) -> (frames: [[UInt8]], firstRecord: [Int], raw: [Int]) {
        var frames: [[UInt8]] = []
        var pending: [[UInt8]] = []
        var firstRecord: [Int] = []
        var block = JSONText()
        block.bytes.reserveCapacity(blockBytes + 4096)
        var raw: [Int] = []
        func close() {
            raw.append(block.bytes.count)
            pending.append(block.bytes)
            block.bytes.removeAll(keepingCapacity: true)
        }
        for (i, note) in notes.enumerated() {
            if block.bytes.isEmpty { firstRecord.append(i) }
            note.encodeLine(into: &block)
            if block.bytes.count >= blockBytes { close() }
            if pending.count == blocksAtOnce {
                frames += try compress(pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        if !block.bytes.isEmpty { close() }
        frames += try compress(pending)
        firstRecord.append(notes.count)
        return (frames, firstRecord, raw)
    }

    /// Each block as one zstd frame (with its checksum), compressed in
    /// parallel: each core's share of the blocks through one context.
    private static func compress(_ blocks: [[UInt8]]) throws(ZstdError) -> [[UInt8]] {
        let frames = Mutex<[[UInt8]]>(Array(repeating: [], count: blocks.count))
        let failure = Mutex<ZstdError?>(nil)
        let shares = max(1, min(blocks.count, ProcessInfo.processInfo.activeProcessorCount))
        DispatchQueue.concurrentPerform(iterations: shares) { share in
            do throws(ZstdError) {
                let compressor = try ZstdFrameCompressor(level: 3)
                for b in stride(from: share, to: blocks.count, by: shares) {
                    let frame = try compressor.compress(blocks[b])
                    frames.withLock { $0[b] = frame }
                }
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return frames.withLock { $0 }
    }

    /// Every record of `frame`, each checked against its id.
    public static func records(in frame: [UInt8], source: String) throws -> [ArchivedNote] {
        let decoder = JSONDecoder()
        return try decompress(frame, source: source).split(separator: UInt8(ascii: "\n")).map { line in
            let note = try decode(line, with: decoder, source: source)
            guard NoteID(body: note.body).hex == note.id else { throw ArchiveError.corrupt(id: note.id, source: source) }
            return note
        }
    }

    /// The record of `id` in `frame`, which `source` names in errors (a pack
    /// file, a row). The frame's checksum guards the bytes; the id guards the
    /// body itself.
    public static func record(id: String, in frame: [UInt8], source: String) throws -> ArchivedNote {
        let block = try decompress(frame, source: source)
        let decoder = JSONDecoder()
        for line in block.split(separator: UInt8(ascii: "\n")) {
            let note = try decode(line, with: decoder, source: source)
            guard note.id == id else { continue }
            guard NoteID(body: note.body).hex == id else { throw ArchiveError.corrupt(id: id, source: source) }
            return note
        }
        throw ArchiveError.missing(id: id, source: source)
    }

    /// The frame's content; a frame that fails its checksum (or is no zstd
    /// frame) is `ArchiveError.damaged`, naming `source`, so that every
    /// engine reports it as the store's failure and says where it is.
    private static func decompress(_ frame: [UInt8], source: String) throws(ArchiveError) -> [UInt8] {
        do {
            return try Zstd.decompress(frame)
        } catch {
            throw .damaged(source: source, why: error.description)
        }
    }

    private static func decode(_ line: ArraySlice<UInt8>, with decoder: JSONDecoder, source: String) throws(ArchiveError) -> ArchivedNote {
        do {
            return try decoder.decode(ArchivedNote.self, from: Data(line))
        } catch {
            throw .damaged(source: source, why: "a record does not parse")
        }
    }
}

/// An archive could not be written or read.
public enum ArchiveError: Error, CustomStringConvertible {
    case io(String, Int32)
    case missing(id: String, source: String)
    case corrupt(id: String, source: String)
    /// A frame that fails its checksum or whose records do not parse.
    case damaged(source: String, why: String)
    /// A pack file that is missing, or ends before the frame a note is in.
    case unreadable(file: String, why: String)

    /// The file or object the failure is in, and what is wrong with it.
    public var damage: (source: String, why: String)? {
        switch self {
        case let .damaged(source, why), let .unreadable(source, why): (source, why)
        case let .missing(id, source): (source, "note \(id) is not in the frame its index row names")
        case let .corrupt(id, source): (source, "the body of note \(id) does not match its id")
        case .io: nil
        }
    }

    public var description: String {
        switch self {
        case let .damaged(source, why): "\(source) is damaged (\(why))"
        case let .unreadable(file, why): "\(file) cannot be read (\(why))"
        case let .io(what, code): "\(what): \(String(cString: strerror(code)))"
        case let .missing(id, source): "note \(id) is not in \(source)"
        case let .corrupt(id, source): "the body of note \(id) in \(source) does not match its id"
        }
    }
}
