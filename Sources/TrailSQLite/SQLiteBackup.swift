import Foundation
import Glibc
import GRDB
import TrailStore

/// `trailctl backup` on the embedded engine: a consistent copy of a store
/// that a running traild goes on writing, as a new data dir (`trail.db`
/// and `packs/`) that `traild --data-dir` serves as it is.
///
/// The database is copied with SQLite's online backup API in one step, inside
/// one read transaction of the source: the copy is that snapshot, every write
/// committed before it began and none after, and writers go on meanwhile
/// (WAL; the WAL just cannot be checkpointed past the snapshot until it
/// ends). In the same transaction the packs that the snapshot's archived
/// notes name are copied. A pack is written and synced before the row that
/// names it commits, so each one the snapshot names exists, unless the
/// compactor's sweep removed it since (every note of it revived after the
/// snapshot): then the whole copy is taken again, at most `attempts` times.
public enum SQLiteBackup {
    /// What a backup copied.
    public struct Report: Sendable {
        public var destination: String
        public var notes = 0
        public var archivedNotes = 0
        public var packs = 0
        public var bytes: Int64 = 0
        public var seconds = 0.0
        /// Copies taken again because a pack vanished under the first.
        public var retries = 0
    }

    /// Copies the store at `path` (packs in `packDirectory`) into the
    /// directory `destination`, which must not hold a store yet; creates it
    /// when absent. Costs a read of the whole database and of the packs
    /// its archived notes use; everything written is synced before it returns.
    /// Throws `StoreCheckFailure` with what went wrong; a failed backup
    /// removes what it wrote. `pauseBeforePacks` is for tests only: the
    /// first attempt waits that long between the database and the packs,
    /// so that a test can sweep a pack away under it.
    public static func run(path: String, packDirectory: String, destination: String, attempts: Int = 5,
                           pauseBeforePacks: Double = 0) throws(StoreCheckFailure) -> Report {
        let started = Date()
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreCheckFailure("there is no database at \(path); give traild's --data-dir or --store sqlite:PATH")
        }
        let target = destination + "/trail.db"
        let targetPacks = ArchivePacks(directory: destination + "/packs")
        if FileManager.default.fileExists(atPath: target) {
            throw StoreCheckFailure("\(target) exists already; back up into a new or empty directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: targetPacks.directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreCheckFailure("cannot create \(targetPacks.directory) (\(error.localizedDescription))")
        }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        let source = ArchivePacks(directory: packDirectory)
        var report = Report(destination: destination)
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            var vanished: String?
            while let missing = try copy(queue, to: target, packs: source, into: targetPacks, report: &report,
                                         pause: report.retries == 0 ? pauseBeforePacks : 0) {
                // Gone from two snapshots running that both name it: not the sweep but damage.
                guard missing != vanished else {
                    throw StoreCheckFailure("the archive pack \(source.path(missing)) that archived notes need is missing: "
                        + "the store is damaged (run `trailctl check`); nothing was kept at \(destination)")
                }
                vanished = missing
                report.retries += 1
                guard report.retries < attempts else {
                    throw StoreCheckFailure("archive packs kept vanishing under the copy (\(attempts) attempts); the compactor is sweeping: try again")
                }
            }
            try syncDirectory(targetPacks.directory)
            try syncDirectory(destination)
        } catch let failure as StoreCheckFailure {
            discard(target, targetPacks)
            throw failure
        } catch {
            discard(target, targetPacks)
            throw StoreCheckFailure("the backup failed (\(error)); nothing was kept at \(destination)")
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// One attempt: the snapshot and its packs. Returns a pack the snapshot
    /// names that is gone (the attempt's files are then removed), nil when
    /// the copy is whole.
    private static func copy(_ queue: DatabaseQueue, to target: String, packs source: ArchivePacks,
                             into targetPacks: ArchivePacks, report: inout Report, pause: Double) throws -> String? {
        let missing = try queue.read { db -> String? in
            // The first read starts the snapshot; the backup step and the
            // pack list below read the same one (the transaction stays open).
            report.notes = try Int.fetchOne(db, sql: "SELECT count(*) FROM note") ?? 0
            report.archivedNotes = try Int.fetchOne(db, sql: "SELECT count(*) FROM note WHERE state = 2") ?? 0
            let destination = try DatabaseQueue(path: target)
            defer { try? destination.close() }
            try destination.writeWithoutTransaction { try db.backup(to: $0) }
            let names = try String.fetchAll(db, sql: """
                SELECT name FROM pack p WHERE EXISTS (SELECT 1 FROM note n WHERE n.pack = p.rowid AND n.state = 2) ORDER BY rowid
                """)
            report.packs = names.count
            if pause > 0 { Thread.sleep(forTimeInterval: pause) }
            report.bytes = Int64(try Int.fetchOne(db, sql: "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size") ?? 0)
            for name in names {
                guard let size = try copyFile(source.path(name), to: targetPacks.path(name)) else { return name }
                report.bytes += size
            }
            return nil
        }
        if missing != nil { discard(target, targetPacks) }
        return missing
    }

    /// Copies `from` to `to` and syncs it; nil when `from` does not exist.
    private static func copyFile(_ from: String, to: String) throws -> Int64? {
        let input = open(from, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            if errno == ENOENT { return nil }
            throw StoreCheckFailure("cannot open \(from) (\(String(cString: strerror(errno))))")
        }
        defer { close(input) }
        let output = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw StoreCheckFailure("cannot create \(to) (\(String(cString: strerror(errno))))") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            guard n >= 0 else { throw StoreCheckFailure("cannot read \(from) (\(String(cString: strerror(errno))))") }
            if n == 0 { break }
            var written = 0
            while written < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, n - written) }
                guard w > 0 else { throw StoreCheckFailure("cannot write \(to) (\(String(cString: strerror(errno))))") }
                written += w
            }
            total += Int64(n)
        }
        guard fsync(output) == 0 else { throw StoreCheckFailure("cannot sync \(to) (\(String(cString: strerror(errno))))") }
        return total
    }

    private static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreCheckFailure("cannot open \(directory)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StoreCheckFailure("cannot sync \(directory)") }
    }

    /// Removes an attempt's database and packs.
    private static func discard(_ target: String, _ packs: ArchivePacks) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(target + suffix) }
        for file in packs.files() { packs.remove(file) }
    }
}
