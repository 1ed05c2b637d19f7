import Foundation
import NIOCore
import PostgresNIO
import TrailStore

/// `trailctl check` on the PostgreSQL engine. PostgreSQL keeps its own pages
/// (checksummed when the cluster was initialised with data checksums), so the
/// check is of what trail keeps in them: the schema's version, every archive
/// block's zstd frame and records, every archived note against its block,
/// and, when the `amcheck` extension is installed, the B-tree indexes of
/// trail's tables (`bt_index_check`, which takes only AccessShareLock: daemons
/// go on serving). It only reads; it never installs the extension.
public enum PostgresCheck {
    /// The tables whose indexes amcheck checks.
    static let tables = ["namespace", "note", "note_tag", "edge", "write_log", "compaction", "archive_block", "note_vector"]

    /// Checks the database at `location`. Costs a read of every archive
    /// block and, with amcheck, of every index page. Throws
    /// `StoreCheckFailure` when the database cannot be reached or refuses us.
    public static func run(location: PostgresLocation) throws(StoreCheckFailure) -> StoreCheckReport {
        var report = StoreCheckReport(store: location.redacted, engine: "postgres")
        let session = BlockingSession(connector: PostgresConnector(location: location, applicationName: "trailctl check"),
                                      statementTimeout: .seconds(600))
        defer { session.close() }
        do {
            try session.connect()
        } catch {
            throw StoreCheckFailure("cannot reach \(location.redacted) (\(error.description))")
        }
        do {
            try schema(session, into: &report)
            try blocks(session, into: &report)
            try indexes(session, into: &report)
        } catch {
            report.damage(location.redacted, "The check could not finish (\(error)).")
        }
        return report
    }

    /// The recorded migrations against the ones this build knows.
    static func schema(_ session: BlockingSession, into report: inout StoreCheckReport) throws {
        let present = try session.execute("SELECT to_regclass('trail_migration') IS NOT NULL")
        guard let row = present.first, try row.decode(Bool.self) else {
            report.damage("trail_migration", "The database holds no trail schema (no trail_migration table): is this the right database?")
            throw StoreCheckFailure("no trail schema")
        }
        let versions = Set(try session.execute("SELECT version FROM trail_migration").map { try $0.decode(Int.self) })
        let known = PostgresSchema.migrations.map(\.version)
        let missing = known.filter { !versions.contains($0) }
        if !missing.isEmpty {
            report.info("trail_migration", "Migrations \(missing.map(String.init).joined(separator: ", ")) are not applied yet; traild applies them when it starts.")
        }
        if let newest = versions.max(), newest > known.max() ?? 0 {
            report.info("trail_migration", "The schema is at version \(newest), newer than this trailctl knows (\(known.max() ?? 0)); parts added since are not checked.")
        }
        report.checked.append(("schema_version", versions.max() ?? 0))
        let badState = try session.execute("SELECT count(*) FROM note WHERE state NOT IN (0, 1, 2, 3)").first.map { try $0.decode(Int64.self) } ?? 0
        if badState > 0 { report.damage("note", "\(badState) notes have a state that is none of live, retracted, archived, set aside.") }
        let lost = try session.execute("SELECT count(*) FROM note WHERE state = 2 AND block IS NULL").first.map { try $0.decode(Int64.self) } ?? 0
        if lost > 0 { report.damage("note", "\(lost) archived notes name no archive block: their bodies cannot be found.") }
    }

    /// Every archive block decoded, and every archived note found in its block.
    static func blocks(_ session: BlockingSession, into report: inout StoreCheckReport) throws {
        var wanted: [Int64: [String]] = [:]
        var archived = 0
        for row in try session.execute("SELECT block, id FROM note WHERE state = 2 AND block IS NOT NULL") {
            let (block, id) = try row.decode((Int64, String).self)
            wanted[block, default: []].append(id)
            archived += 1
        }
        var blocks = 0
        var after: Int64 = 0
        while true {
            var binds = PostgresBindings()
            binds.append(after)
            let page = try session.execute("SELECT seq, frame FROM archive_block WHERE seq > $1 ORDER BY seq LIMIT 64", binds)
            guard !page.isEmpty else { break }
            for row in page {
                let (seq, frame) = try row.decode((Int64, ByteBuffer).self)
                after = seq
                blocks += 1
                let object = "archive_block \(seq)"
                let ids = wanted.removeValue(forKey: seq) ?? []
                do {
                    let found = Set(try ArchiveFrames.records(in: Array(buffer: frame), source: object).map(\.id))
                    let lost = ids.filter { !found.contains($0) }
                    if !lost.isEmpty {
                        report.damage(object, "\(lost.count) archived notes (first \(lost[0].prefix(12))) are not in the block their rows name.")
                    }
                } catch let error as ArchiveError {
                    let why = error.damage?.why ?? error.description
                    if ids.isEmpty {
                        report.info(object, "The block cannot be read (\(why)), but no archived note needs it.")
                    } else {
                        report.damage(object, "The block cannot be read (\(why)): \(ids.count) archived notes in it cannot be read.")
                    }
                }
            }
        }
        for (seq, ids) in wanted.sorted(by: { $0.key < $1.key }) {
            report.damage("archive_block \(seq)", "The block is missing: \(ids.count) archived notes cannot be read.")
        }
        report.checked += [("archive_blocks", blocks), ("archived_notes", archived)]
    }

    /// amcheck's `bt_index_check` on every B-tree index of trail's tables, when installed.
    static func indexes(_ session: BlockingSession, into report: inout StoreCheckReport) throws {
        guard try !session.execute("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'").isEmpty else {
            report.info("amcheck", "The amcheck extension is not installed, so indexes were not checked (CREATE EXTENSION amcheck as a superuser to have them checked).")
            return
        }
        let list = tables.map { "'\($0)'" }.joined(separator: ",")
        let indexes = try session.execute("""
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_am am ON am.oid = c.relam
            WHERE am.amname = 'btree' AND t.relname IN (\(list)) AND t.relnamespace = to_regnamespace(current_schema())::oid
            ORDER BY c.relname
            """).map { try $0.decode(String.self) }
        var checked = 0
        for index in indexes {
            var binds = PostgresBindings()
            binds.append(index)
            let failure: PostgresFailure
            do {
                try session.execute("SELECT bt_index_check(to_regclass($1))", binds)
                checked += 1
                continue
            } catch {
                failure = error
            }
            if case .sql("42501", _) = failure {
                report.info("amcheck", "This role may not run bt_index_check, so indexes were not checked (GRANT EXECUTE ON FUNCTION bt_index_check(regclass) to it, or check as a superuser).")
                return
            }
            guard case let .sql(_, message) = failure else { throw failure }
            // XX002 index_corrupted, XX001 data_corrupted, and whatever else amcheck finds.
            report.damage("index \(index)", "amcheck's bt_index_check finds it damaged (\(message)); REINDEX INDEX \(index) rebuilds it.")
        }
        report.checked.append(("indexes", checked))
    }
}
