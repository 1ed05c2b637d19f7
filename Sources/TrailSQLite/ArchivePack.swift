import Foundation
import Glibc
import Synchronization
import TrailCore
import TrailStore
import TrailZstd

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


    /// Writes `notes` to a new pack named `name`; returns where each record is.
    /// Records are encoded one block at a time and the blocks compressed on
    /// every core: a bulk evaporation packs hundreds of megabytes.
    func write(_ notes: [ArchivedNote], name: String) throws -> (entries: [PackEntry], raw: Int, packed: Int) {
        let written = try writeClaimed(notes, name: name)
        return (written.entries, written.raw, written.packed)
    }

    /// `write`, with the pack claimed (`PackClaim`) from before its
    /// temporary file exists until the claim is dropped: for a pack written
    /// outside the write lock, which no committed row names yet.
    func writeClaimed(_ notes: [ArchivedNote], name: String) throws -> (entries: [PackEntry], raw: Int, packed: Int, claim: PackClaim) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let (frames, firstRecord, raw) = try ArchiveFrames.frames(notes)
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
        let claim = try writeSynced(file, to: temporary)
        guard rename(temporary, final) == 0 else { throw ArchiveError.io("rename \(temporary)", errno) }
        try syncDirectory()
        return (entries, raw.reduce(0, +), file.count, claim)
    }

    /// Whether a process (this one too) holds a claim on the pack file at
    /// `path`: it is being written, or waits for the write that names it.
    func isClaimed(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    /// The record of `id` in the frame at `offset`/`length` of pack `name`.
    /// A pack that is missing or shorter than the frame is `unreadable`, a
    /// frame that fails its checksum `damaged`: both name the pack's path.
    func read(id: String, pack name: String, offset: Int64, length: Int64) throws -> ArchivedNote {
        let file = path(name)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw ArchiveError.unreadable(file: file, why: code == ENOENT ? "it is missing" : String(cString: strerror(code)))
        }
        defer { close(fd) }
        var frame = [UInt8](repeating: 0, count: Int(length))
        let n = frame.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(length), off_t(offset)) }
        guard n >= 0 else { throw ArchiveError.unreadable(file: file, why: String(cString: strerror(errno))) }
        guard n == Int(length) else {
            throw ArchiveError.unreadable(file: file, why: "it ends before the \(length)-byte frame at byte \(offset) that holds note \(id.prefix(12)): it is truncated")
        }
        do {
            return try ArchiveFrames.record(id: id, in: frame, source: file)
        } catch let ArchiveError.damaged(source, why) {
            throw ArchiveError.damaged(source: source, why: "the frame at byte \(offset) holding note \(id.prefix(12)): \(why)")
        }
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

    /// Writes and syncs `file`, claimed (an exclusive `flock`) before its
    /// first byte; the claim goes with the returned value.
    private func writeSynced(_ bytes: [UInt8], to file: String) throws -> PackClaim {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ArchiveError.io("create \(file)", errno) }
        let claim = PackClaim(fd: fd)
        guard flock(fd, LOCK_EX) == 0 else { throw ArchiveError.io("flock \(file)", errno) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            guard n > 0 else { throw ArchiveError.io("write \(file)", errno) }
            written += n
        }
        guard fsync(fd) == 0 else { throw ArchiveError.io("fsync \(file)", errno) }
        return claim
    }

    private func syncDirectory() throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.io("open \(directory)", errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ArchiveError.io("fsync \(directory)", errno) }
    }
}

/// A claim on a pack file: an exclusive `flock` on it, held from before the
/// file exists (under its temporary name) until the value goes. A pack
/// written outside the write lock is on disk before any committed row names
/// it; the sweep (`SQLiteWrites.sweepPacks`), in this process or another on
/// the same store, leaves a claimed file alone. A crash drops the claim
/// with the process, and the next sweep removes the orphan.
final class PackClaim: Sendable {
    private let fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    deinit { close(fd) }
}
