import Foundation
import Glibc
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
    func write(_ notes: [ArchivedNote], name: String) throws -> (entries: [PackEntry], raw: Int, packed: Int) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        var file: [UInt8] = []
        var entries: [PackEntry] = []
        var raw = 0
        var block: [UInt8] = []
        var blockIDs: [String] = []
        func flush() throws {
            guard !block.isEmpty else { return }
            let frame = try Zstd.compress(block, level: 3)
            for id in blockIDs { entries.append(PackEntry(id: id, offset: Int64(file.count), length: Int64(frame.count))) }
            file += frame
            block.removeAll(keepingCapacity: true)
            blockIDs.removeAll(keepingCapacity: true)
        }
        for note in notes {
            let line = Array(try encoder.encode(note)) + [UInt8(ascii: "\n")]
            raw += line.count
            block += line
            blockIDs.append(note.id)
            if block.count >= Self.blockBytes { try flush() }
        }
        try flush()

        let final = path(name)
        let temporary = final + ".tmp"
        try writeSynced(file, to: temporary)
        guard rename(temporary, final) == 0 else { throw PackError.io("rename \(temporary)", errno) }
        try syncDirectory()
        return (entries, raw, file.count)
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
