import Foundation
import GRDB
import TrailStore
import TrailZstd

/// `trailctl check` on the embedded engine: SQLite's own integrity check of
/// the database file, then every archive pack frame by frame, then the
/// archive index (each archived note's row) against the frames.
///
/// Works beside a running traild: the database is opened read-only and the
/// whole check reads one snapshot (WAL readers do not block the writer);
/// pack files are immutable once named by a committed row.
public enum SQLiteCheck {
    /// Checks the store at `path` with its packs in `packDirectory`.
    /// `quick` runs `PRAGMA quick_check` (no index-to-table cross-check,
    /// several times faster) instead of `integrity_check`. Costs a read of
    /// every page and every pack byte. Throws `StoreCheckFailure` only when
    /// the file cannot be opened as a database at all.
    public static func run(path: String, packDirectory: String, quick: Bool = false) throws(StoreCheckFailure) -> StoreCheckReport {
        var report = StoreCheckReport(store: "sqlite:\(path)", engine: "sqlite")
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreCheckFailure("there is no database at \(path); give traild's --data-dir or --store sqlite:PATH")
        }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch {
            throw StoreCheckFailure("cannot open \(path) as a SQLite database (\(error))")
        }
        defer { try? queue.close() }
        do {
            try queue.read { db in
                integrity(db, path: path, quick: quick, into: &report)
                packs(db, path: path, packs: ArchivePacks(directory: packDirectory), into: &report)
            }
        } catch where report.sound {
            report.damage(path, "The database cannot be read (\(error)).")
        } catch {
            // Already reported: the transaction's end fails on a damaged file too.
        }
        return report
    }

    /// SQLite's integrity check, each message with the table or index whose
    /// b-tree it is in: "Tree N page ..." names the b-tree's root page,
    /// "Page N: ..." a page that `dbstat` places. A check that meets a page it
    /// cannot read gives its messages and then fails: both are reported.
    static func integrity(_ db: Database, path: String, quick: Bool, into report: inout StoreCheckReport) {
        let pragma = quick ? "quick_check" : "integrity_check"
        var messages: [String] = []
        var failure: (any Error)?
        do {
            report.checked.append(("pages", try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0))
            let cursor = try String.fetchCursor(db, sql: "PRAGMA \(pragma)(100)")
            while let message = try cursor.next() { messages.append(message) }
        } catch {
            failure = error
        }
        guard messages != ["ok"] || failure != nil else { return }
        let trees = Dictionary((try? Row.fetchAll(db, sql: "SELECT rootpage, name FROM sqlite_schema WHERE rootpage > 0"))?
            .map { ($0[0] as Int, $0[1] as String) } ?? [], uniquingKeysWith: { a, _ in a })
        for raw in messages where raw != "ok" {
            let message = raw.replacingOccurrences(of: "*** in database main ***\n", with: "")
            let name = number(after: "Tree ", in: message).flatMap { trees[$0] }
                ?? number(after: "Page ", in: message).flatMap { page in
                    try? String.fetchOne(db, sql: "SELECT name FROM dbstat WHERE pageno = ?", arguments: [page])
                }
            report.damage(name.map { "\(path) (\($0))" } ?? path, "SQLite's \(pragma): \(message).")
        }
        if let failure {
            report.damage(path, "SQLite's \(pragma) stopped at a page it cannot read (\(failure)): the file is damaged.")
        }
    }

    /// N of "Tree N page ..." or "Page N: ..." in an integrity check message.
    static func number(after prefix: String, in message: String) -> Int? {
        guard let range = message.range(of: prefix) else { return nil }
        return Int(message[range.upperBound...].prefix { $0.isNumber })
    }

    /// A frame of a pack: what decoding it gave.
    private enum Frame {
        case ids(Set<String>)
        case damaged(String)
    }

    /// Every pack file frame by frame, then every archived note's row
    /// against the frame it names.
    static func packs(_ db: Database, path: String, packs: ArchivePacks, into report: inout StoreCheckReport) {
        struct Entry { var id: String; var offset: Int; var length: Int }
        var byPack: [String: [Entry]] = [:]
        var packRows: [(name: String, notes: Int, revived: Int)] = []
        do {
            packRows = try Row.fetchAll(db, sql: "SELECT name, notes, revived FROM pack ORDER BY rowid").map { ($0[0], $0[1], $0[2]) }
            let orphans = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM note n WHERE n.state = 2 AND NOT EXISTS (SELECT 1 FROM pack p WHERE p.rowid = n.pack)
                """) ?? 0
            if orphans > 0 {
                report.damage("\(path) (note)", "\(orphans) archived notes name no pack row: their bodies cannot be found.")
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT p.name, n.id, n.pack_offset, n.pack_length FROM note n JOIN pack p ON p.rowid = n.pack WHERE n.state = 2
                """) {
                byPack[row[0], default: []].append(Entry(id: row[1], offset: row[2], length: row[3]))
            }
        } catch {
            report.damage("\(path) (pack, note)", "The archive index cannot be read (\(error)); the packs were not checked.")
            return
        }
        var frames = 0
        var archived = 0
        for pack in packRows {
            let file = packs.path(pack.name)
            let entries = byPack[pack.name] ?? []
            archived += entries.count
            guard let bytes = FileManager.default.contents(atPath: file).map([UInt8].init) else {
                if entries.isEmpty {
                    report.info(file, "The pack is missing, but none of its notes is archived any more (every one was revived).")
                } else {
                    report.damage(file, "The pack is missing: \(entries.count) archived notes cannot be read.")
                }
                continue
            }
            // Walk the file frame by frame from its start.
            var decoded: [Int: (length: Int, frame: Frame)] = [:]
            var offset = 0
            while offset < bytes.count {
                let length = bytes.withUnsafeBytes { Zstd.frameLength(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
                guard let length else {
                    // Said below instead when an archived note's frame starts here.
                    if !entries.contains(where: { $0.offset == offset }) {
                        report.damage(file, "The bytes from \(offset) to the end (\(bytes.count - offset)) are not a whole zstd frame: the pack is truncated or corrupt there.")
                    }
                    break
                }
                decoded[offset] = (length, decode(bytes, offset: offset, length: length, file: file))
                frames += 1
                offset += length
            }
            // Each archived note's row against its frame.
            var byFrame: [Int: [Entry]] = [:]
            for entry in entries { byFrame[entry.offset, default: []].append(entry) }
            for (start, notes) in byFrame.sorted(by: { $0.key < $1.key }) {
                let length = notes[0].length
                let frame: Frame
                if let walked = decoded[start], walked.length == length {
                    frame = walked.frame
                } else if start + length > bytes.count {
                    frame = .damaged("it ends past the end of the file (\(bytes.count) bytes): the pack is truncated")
                } else {
                    frame = decode(bytes, offset: start, length: length, file: file)
                    if case .ids = frame { decoded[start] = (length, frame) }
                }
                switch frame {
                case let .damaged(why):
                    report.damage(file, "The frame at byte \(start) (\(length) bytes) holding \(notes.count) archived notes cannot be read: \(why).")
                case let .ids(ids):
                    let lost = notes.filter { !ids.contains($0.id) }
                    if !lost.isEmpty {
                        report.damage(file, "\(lost.count) archived notes (first \(lost[0].id.prefix(12))) are not in the frame at byte \(start) that their rows name.")
                    }
                }
            }
            let unreferenced = decoded.filter { byFrame[$0.key] == nil }
            let unreadable = unreferenced.filter { if case .damaged = $0.value.frame { true } else { false } }
            for (start, frame) in unreadable.sorted(by: { $0.key < $1.key }) {
                if case let .damaged(why) = frame.frame {
                    report.info(file, "The frame at byte \(start) cannot be read (\(why)), but no archived note needs it.")
                }
            }
            if unreferenced.count > unreadable.count {
                report.info(file, "\(unreferenced.count - unreadable.count) frames hold only notes revived since; the pack goes once all its notes are back.")
            }
        }
        let named = Set(packRows.map(\.name))
        for file in packs.files().sorted() where !named.contains(file) {
            report.info(packs.path(file), "No pack row names this file (left by a crash, or written just now); the daemon's next sweep removes it.")
        }
        report.checked += [("packs", packRows.count), ("frames", frames), ("archived_notes", archived)]
    }

    private static func decode(_ bytes: [UInt8], offset: Int, length: Int, file: String) -> Frame {
        do {
            return .ids(Set(try ArchiveFrames.records(in: Array(bytes[offset..<offset + length]), source: file).map(\.id)))
        } catch let error as ArchiveError {
            return .damaged(error.damage?.why ?? error.description)
        } catch {
            return .damaged("\(error)")
        }
    }
}
