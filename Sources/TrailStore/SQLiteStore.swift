import Foundation
import GRDB
import Synchronization
import TrailCore

/// The embedded engine: one SQLite file in WAL mode behind a GRDB
/// `DatabasePool` (concurrent readers, one writer), `synchronous = FULL`,
/// with writes grouped into one transaction and one sync (`GroupCommit`).
public final class SQLiteStore: TrailStore {
    public let engine = "sqlite"
    /// The database file.
    public let path: String
    let pool: DatabasePool
    let clock: any WallClock
    private let committer: GroupCommit

    /// Opens (creating if needed) the store at `path` and runs its migrations.
    /// Throws `storageUnavailable` when the file cannot be opened or migrated.
    public init(path: String, clock: any WallClock = SystemClock()) throws(TrailError) {
        self.path = path
        self.clock = clock
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 8
        config.prepareDatabase { db in
            // FULL: a commit returns only after the WAL is synced, so an
            // acknowledged write survives kill -9 and power loss.
            try db.run(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try SQLiteSchema.migrator.migrate(pool)
            let now = clock.now()
            try pool.write { db in
                _ = try SQLiteWrites.namespace(db, "default", creatingAt: now)
            }
        } catch {
            throw Self.map(error)
        }
        committer = GroupCommit(pool: pool, clock: clock)
    }

    public func submit(_ write: WriteRequest, by writer: Writer,
                       completion: @escaping @Sendable (Result<WriteOutcome, TrailError>) -> Void) {
        committer.submit(write, by: writer, completion: completion)
    }

    public var pendingWrites: Int { committer.pending }

    public func get(_ id: IDPrefix, ns: String) async throws(TrailError) -> Note {
        let now = clock.now()
        return try await read { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, ns) else {
                throw TrailError.unknownNote(id: id.hex, ns: ns)
            }
            let row = try SQLiteWrites.resolve(db, id, ns: ns)
            return row.note(ns: settings, at: now)
        }
    }

    public func sense(_ query: SenseQuery) async throws(TrailError) -> [ScoredNote] {
        let now = clock.now()
        return try await read { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, query.ns) else { return [] }
            return try SenseReader(db: db, settings: settings, query: query, now: now).run()
        }
    }

    public func follow(_ query: FollowQuery) async throws(TrailError) -> FollowResult {
        let now = clock.now()
        return try await read { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, query.ns) else {
                throw TrailError.unknownNote(id: query.from.hex, ns: query.ns)
            }
            return try FollowReader(db: db, settings: settings, query: query, now: now).run()
        }
    }

    public func summary(ns: String) async throws(TrailError) -> NamespaceSummary {
        let now = clock.now()
        return try await read { db in
            let settings = try SQLiteWrites.existingNamespace(db, ns) ?? NamespaceSettings(name: ns, landmark: now)
            return NamespaceSummary(settings: settings, counts: try Self.counts(db, settings, at: now))
        }
    }

    public func namespaces() async throws(TrailError) -> [NamespaceSummary] {
        let now = clock.now()
        return try await read { db in
            let rows = try db.rows(sql: "SELECT name, half_life_s, evaporate_below, max_note_bytes, landmark FROM namespace ORDER BY name")
            return try rows.map { row in
                let settings = NamespaceSettings(row: row)
                return NamespaceSummary(settings: settings, counts: try Self.counts(db, settings, at: now))
            }
        }
    }

    public func export(ns: String, after cursor: Int64?, limit: Int) async throws(TrailError) -> ExportPage {
        let now = clock.now()
        return try await read { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, ns) else {
                return ExportPage(settings: NamespaceSettings(name: ns, landmark: now), exportedAtMillis: Timestamp.millis(now),
                                  records: [], cursor: nil)
            }
            let decay = settings.decay
            let rows = try db.rows(sql: "SELECT \(noteColumns) FROM note n WHERE n.ns = ? AND n.seq > ? ORDER BY n.seq LIMIT ?",
                                   arguments: [ns, cursor ?? 0, limit])
            let records = try rows.map { row -> NoteRecord in
                let stored = NoteRow(row: row)
                var note = stored.note(ns: settings, at: now)
                if note.state == .faded { note.state = .live }
                let trails = try db.rows(sql: """
                    SELECT n.id, e.key FROM edge e JOIN note n ON n.seq = e.dst WHERE e.src = ? ORDER BY n.id
                    """, arguments: [stored.seq]).map { TrailEnd(to: NoteID(trustedHex: $0[0]), weight: decay.weight(key: $0[1], at: now)) }
                return NoteRecord(note: note, trails: trails)
            }
            let next: Int64? = rows.count == limit ? rows.last.map { $0[0] } : nil
            return ExportPage(settings: settings, exportedAtMillis: Timestamp.millis(now), records: records, cursor: next)
        }
    }

    public func storeBytes() -> Int64 {
        [path, path + "-wal", path + "-shm"].reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }

    public func close() async {
        await committer.drain()
        try? pool.close()
    }

    /// Counts by state; `faded` and `total_weight` are range reads on the key index.
    static func counts(_ db: Database, _ settings: NamespaceSettings, at now: Double) throws -> NamespaceCounts {
        var counts = NamespaceCounts()
        let decay = settings.decay
        for row in try db.rows(sql: "SELECT state, count(*) FROM note WHERE ns = ? GROUP BY state", arguments: [settings.name]) {
            let n: Int = row[1]
            counts.notes += n
            switch StoredState(rawValue: row[0]) {
            case .live?: counts.live = n
            case .retracted?: counts.retracted = n
            case .archived?: counts.archived = n
            case nil: break
            }
        }
        let threshold = decay.thresholdKey(settings.evaporateBelow, at: now)
        let live = try db.int(sql: "SELECT count(*) FROM note WHERE ns = ? AND state = 0 AND key >= ?",
                                    arguments: [settings.name, threshold]) ?? 0
        counts.faded = counts.live - live
        counts.live = live
        counts.edges = try db.int(sql: "SELECT count(*) FROM edge WHERE ns = ?", arguments: [settings.name]) ?? 0
        counts.totalWeight = try db.double(
            sql: "SELECT total(pow(2.0, key - ?)) FROM note WHERE ns = ? AND state = 0 AND key > -1e300",
            arguments: [decay.offset(at: now), settings.name]) ?? 0
        return counts
    }

    /// Runs `body` on a reader of the pool, mapping every failure to a `TrailError`.
    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(TrailError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.map(error)
        }
    }

    /// The one place a storage failure becomes a contract error.
    static func map(_ error: any Error) -> TrailError {
        if let trail = error as? TrailError { return trail }
        if let db = error as? DatabaseError {
            switch db.resultCode {
            case .SQLITE_FULL: return .storageUnavailable("the disk is full")
            case .SQLITE_READONLY: return .storageUnavailable("the database is read-only")
            case .SQLITE_BUSY, .SQLITE_LOCKED: return .storageUnavailable("the database is locked by another process")
            case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_PERM:
                return .storageUnavailable("SQLite: \(db.message ?? "\(db.resultCode)")")
            default: return .internal("SQLite: \(db.message ?? "\(db.resultCode)")")
            }
        }
        return .internal("\(error)")
    }
}
