import Foundation
import Glibc
import Synchronization
import TrailCore
import TrailZstd

/// An evaporated note as an archive pack holds it: everything needed to give
/// it back byte for byte, with its trails, as it was when it evaporated.
struct ArchivedNote: Codable, Equatable {
    struct Trail: Codable, Equatable {
        var id: String
        var weight: Double
    }

    var id: String
    var seq: Int64
    var body: String
    var tags: [String]
    var after: [String]
    /// The weight at `archivedAt` (seconds since 1970).
    var weight: Double
    var archivedAt: Double
    var deposits: Int64
    var agent: String?
    var rank: Double?
    var createdAt: Int64
    var updatedAt: Int64
    var trailsOut: [Trail]
    var trailsIn: [Trail]

    /// A weight this record holds (its own or a trail's), decayed from the
    /// moment it was archived to `now` with the namespace's half-life today.
    func decayed(_ weight: Double, at now: Double, halfLife: Double) -> Double {
        Self.decay(weight, from: archivedAt, to: now, halfLife: halfLife)
    }

    static func decay(_ weight: Double, from then: Double, to now: Double, halfLife: Double) -> Double {
        weight * exp2(-(now - then) / halfLife)
    }
}

/// Where one archived note's record is: a zstd frame of a pack file.
struct PackEntry {
    var id: String
    var offset: Int64
    var length: Int64
}

/// Archive packs: immutable files of zstd frames, each frame a block of
/// NDJSON records. A pack is written to a temporary name, synced, renamed and
/// its folder synced before the index that names it is committed, so a
/// committed index never names a missing pack; a pack that no committed index
/// names is an orphan of a crash and `sweep` removes it.
struct ArchivePacks {
    let directory: String

    /// Raw bytes of records per zstd frame: bigger compresses better, smaller
    /// makes one archived `get` cheaper.
    static let blockBytes = 32 * 1024

    /// Writes `notes` to a new pack named `name`; returns where each record is.
    /// Records are encoded one block at a time and the blocks compressed on
    /// every core: a bulk evaporation packs hundreds of megabytes.
    func write(_ notes: [ArchivedNote], name: String) throws -> (entries: [PackEntry], raw: Int, packed: Int) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        // Blocks of whole records, each about `blockBytes`.
        var blocks: [[UInt8]] = []
        var firstRecord: [Int] = []
        var block = JSONText()
        block.bytes.reserveCapacity(Self.blockBytes + 4096)
        var raw = 0
        for (i, note) in notes.enumerated() {
            if block.bytes.isEmpty { firstRecord.append(i) }
            let before = block.bytes.count
            note.encodeLine(into: &block)
            raw += block.bytes.count - before
            if block.bytes.count >= Self.blockBytes {
                blocks.append(block.bytes)
                block.bytes.removeAll(keepingCapacity: true)
            }
        }
        if !block.bytes.isEmpty { blocks.append(block.bytes) }
        firstRecord.append(notes.count)

        let frames = try Self.compress(blocks)
        var file: [UInt8] = []
        file.reserveCapacity(frames.reduce(0) { $0 + $1.count })
        var entries: [PackEntry] = []
        entries.reserveCapacity(notes.count)
        for (b, frame) in frames.enumerated() {
            for i in firstRecord[b]..<firstRecord[b + 1] {
                entries.append(PackEntry(id: notes[i].id, offset: Int64(file.count), length: Int64(frame.count)))
            }
            file += frame
        }

        let final = path(name)
        let temporary = final + ".tmp"
        try writeSynced(file, to: temporary)
        guard rename(temporary, final) == 0 else { throw PackError.io("rename \(temporary)", errno) }
        try syncDirectory()
        return (entries, raw, file.count)
    }

    /// Each block as one zstd frame (with its checksum), compressed in parallel.
    private static func compress(_ blocks: [[UInt8]]) throws -> [[UInt8]] {
        let frames = Mutex<[[UInt8]]>(Array(repeating: [], count: blocks.count))
        let failure = Mutex<ZstdError?>(nil)
        DispatchQueue.concurrentPerform(iterations: blocks.count) { b in
            do throws(ZstdError) {
                let frame = try Zstd.compress(blocks[b], level: 3)
                frames.withLock { $0[b] = frame }
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return frames.withLock { $0 }
    }

    /// The record of `id` in the frame at `offset`/`length` of pack `name`.
    func read(id: String, pack name: String, offset: Int64, length: Int64) throws -> ArchivedNote {
        let fd = open(path(name), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PackError.io("open pack \(name)", errno) }
        defer { close(fd) }
        var frame = [UInt8](repeating: 0, count: Int(length))
        let n = frame.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(length), off_t(offset)) }
        guard n == Int(length) else { throw PackError.io("read pack \(name)", n < 0 ? errno : EIO) }
        let block = try Zstd.decompress(frame)
        let decoder = JSONDecoder()
        for line in block.split(separator: UInt8(ascii: "\n")) {
            let note = try decoder.decode(ArchivedNote.self, from: Data(line))
            guard note.id == id else { continue }
            // The frame's checksum guards the bytes; the id guards the body itself.
            guard NoteID(body: note.body).hex == id else { throw PackError.corrupt(id: id, pack: name) }
            return note
        }
        throw PackError.missing(id: id, pack: name)
    }

    /// Pack files in the folder (not temporary ones).
    func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".zst") }
    }

    /// Removes a pack file and any temporary leftovers of it.
    func remove(_ name: String) {
        unlink(path(name))
        unlink(path(name) + ".tmp")
    }

    func path(_ name: String) -> String { directory + "/" + name }

    private func writeSynced(_ bytes: [UInt8], to file: String) throws {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PackError.io("create \(file)", errno) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            guard n > 0 else { throw PackError.io("write \(file)", errno) }
            written += n
        }
        guard fsync(fd) == 0 else { throw PackError.io("fsync \(file)", errno) }
    }

    private func syncDirectory() throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw PackError.io("open \(directory)", errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw PackError.io("fsync \(directory)", errno) }
    }
}

/// A pack file could not be written or read.
enum PackError: Error, CustomStringConvertible {
    case io(String, Int32)
    case missing(id: String, pack: String)
    case corrupt(id: String, pack: String)

    var description: String {
        switch self {
        case let .io(what, code): "\(what): \(String(cString: strerror(code)))"
        case let .missing(id, pack): "note \(id) is not in pack \(pack)"
        case let .corrupt(id, pack): "the body of note \(id) in pack \(pack) does not match its id"
        }
    }
}
