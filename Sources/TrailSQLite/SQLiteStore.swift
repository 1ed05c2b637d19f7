import Foundation
import GRDB
import Synchronization
import TrailCore
import TrailStore
import TrailZstd

/// The embedded engine: one SQLite file in WAL mode behind a GRDB
/// `DatabasePool` (concurrent readers, one writer), `synchronous = FULL`,
/// with writes grouped into one transaction and one sync (`GroupCommit`).
public final class SQLiteStore: TrailStore, InlineReads {
    public let engine = "sqlite"
    /// Itself: every read of the pool can run on the caller's thread.
    public var inlineReads: (any InlineReads)? { self }
    /// The database file.
    public let path: String
    public var database: String { "sqlite:\(path)" }
    let pool: DatabasePool
    let clock: any WallClock
    let packs: ArchivePacks
    private let committer: GroupCommit<SQLiteCommit>
    let inline: InlineReaders
    /// The namespaces whose notes `sense` and `get` look up contests for.
    let contested = ContestedNamespaces()
    /// What a full-text sense ranks its matches by, in memory (nil: read through SQL).
    let mirror: NoteKeyMirror?
    /// Where crash tests kill the process (nil outside them).
    let fault: CompactionFault?

    /// Opens (creating if needed) the store at `path` and runs its migrations.
    /// Archive packs live in `packDirectory` (default: `packs/` beside the
    /// file). `keyMirror` keeps what a full-text sense ranks matches by in
    /// memory (`NoteKeyMirror`: 21 bytes a note), for a process that answers
    /// senses; `trail-compactor` does without. `fault` is for crash tests only.
    /// Throws `storageUnavailable` when the file cannot be opened or migrated.
    public init(path: String, packDirectory: String? = nil, clock: any WallClock = SystemClock(),
                keyMirror: Bool = true, fault: CompactionFault? = nil) throws(TrailError) {
        self.path = path
        self.clock = clock
        self.fault = fault
        packs = ArchivePacks(directory: packDirectory ?? (URL(fileURLWithPath: path).deletingLastPathComponent().path + "/packs"))
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 8
        config.prepareDatabase { db in
            // FULL: a commit returns only after the WAL is synced, so an
            // acknowledged write survives kill -9 and power loss.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Pages are read into each connection's own cache, not memory-mapped:
            // a mapped page counts in traild's resident set once for every
            // connection that maps it (at 1M notes, 1.7 GiB for a 600 MB file).
            // The kernel's page cache keeps the file in memory either way; what
            // a connection reads often stays in its cache (`SQLiteMemory`).
            try db.execute(sql: "PRAGMA mmap_size = 0")
            try db.execute(sql: "PRAGMA cache_size = \(-SQLiteMemory.cacheKiB(readOnly: db.configuration.readonly))")
            // Debian builds SQLite with SECURE_DELETE, which zeroes every deleted
            // row: evaporated rows live on in their pack, so there is nothing to scrub.
            try db.execute(sql: "PRAGMA secure_delete = OFF")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // Checkpoint every 16 MB of WAL rather than 4: pages written again
            // and again by a burst (a compaction) are copied back once.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 4000")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            // GRDB turns the writer to synchronous = NORMAL when it sets up WAL
            // (after prepareDatabase): commits would then not sync, and an
            // acknowledged write could be lost with the machine. FULL again.
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            try SQLiteSchema.migrator.migrate(pool)
            let now = clock.now()
            let withContests = try pool.write { db -> [String] in
                if try SQLiteWrites.existingNamespace(db, "default") == nil {
                    _ = try SQLiteWrites.createNamespace(db, NamespaceSettings(name: "default", landmark: now), at: now)
                }
                return try db.rows(sql: "SELECT DISTINCT ns FROM contest").map { $0[0] }
            }
            // One process writes a SQLite store: the set read here, and grown before
            // each write of contests, is the truth. Read on the writer: read through
            // a reader connection opened here, the pool's close at shutdown left the
            // WAL behind, uncheckpointed (a 3.7 MB WAL beside a 4 KB database).
            contested.add(Set(withContests))
        } catch {
            throw Self.map(error, database: path)
        }
        mirror = keyMirror ? NoteKeyMirror(pool: pool) : nil
        committer = GroupCommit(SQLiteCommit(pool: pool, clock: clock, packs: packs, fault: fault, mirror: mirror))
        inline = InlineReaders(path: path, configuration: config)
    }

    public func submit(_ write: WriteRequest, by writer: Writer,
                       completion: @escaping @Sendable (Result<Committed, TrailError>) -> Void) {
        for ns in write.contestedNamespaces { contested.add(ns) }
        committer.submit(write, by: writer, completion: completion)
    }

    public var pendingWrites: Int { committer.pending }

    public func get(_ id: IDPrefix, ns: String) async throws(TrailError) -> NoteDetails {
        try await read(getBody(id, ns: ns))
    }

    public func getNow(_ id: IDPrefix, ns: String) throws(TrailError) -> NoteDetails {
        try readNow(getBody(id, ns: ns))
    }

    /// `get` as a read of one transaction, at the time of the call.
    private func getBody(_ id: IDPrefix, ns: String) -> @Sendable (Database) throws -> NoteDetails {
        let now = clock.now()
        let packs = self.packs
        let contested = self.contested
        return { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, ns) else {
                throw TrailError.unknownNote(id: id.hex, ns: ns)
            }
            let note: Note
            let seq: Int64
            var trails: [TrailLink] = []
            var evaporation: HistoryEntry?
            switch try SQLiteWrites.locate(db, id, ns: ns) {
            case let .hot(row):
                var hot = row.note(ns: settings, at: now)
                if contested.mayHave(ns) {
                    hot.contestedBy = try SQLiteContests.rows(db, ns: ns, ids: [hot.id]).contestedBy()[hot.id] ?? []
                }
                note = hot
                seq = row.seq
                let decay = settings.decay
                for (sql, direction) in [
                    ("SELECT n.id, e.key FROM edge e JOIN note n ON n.seq = e.dst WHERE e.src = ? AND n.state <> 2 ORDER BY e.key DESC LIMIT 100", TrailDirection.forward),
                    ("SELECT n.id, e.key FROM edge e JOIN note n ON n.seq = e.src WHERE e.dst = ? AND n.state <> 2 ORDER BY e.key DESC LIMIT 100", .backward),
                ] {
                    trails += try db.rows(sql: sql, arguments: [seq]).map {
                        TrailLink(other: NoteID(trustedHex: $0[0]), weight: decay.weight(key: $0[1], at: now), direction: direction)
                    }
                }
            case let .archived(entry):
                let record = try packs.read(id: entry.id, pack: entry.pack, offset: entry.offset, length: entry.length)
                note = SQLiteWrites.archivedNote(entry, record: record, settings: settings, at: now)
                seq = entry.seq
                evaporation = HistoryEntry(atMillis: Timestamp.millis(entry.archivedAt), op: "evaporate",
                                           agent: nil, delta: nil, detail: entry.pack)
                let decayed = { (w: Double) in record.decayed(w, at: now, halfLife: settings.halfLife) }
                trails = record.trailsOut.map { TrailLink(other: NoteID(trustedHex: $0.id), weight: decayed($0.weight), direction: .forward) }
                    + record.trailsIn.map { TrailLink(other: NoteID(trustedHex: $0.id), weight: decayed($0.weight), direction: .backward) }
            }
            let history = try db.rows(sql: """
                SELECT at, op, agent, delta, detail FROM write_log WHERE note = ? OR other = ? ORDER BY seq DESC LIMIT 100
                """, arguments: [seq, seq]).reversed().map {
                HistoryEntry(atMillis: $0[0], op: $0[1], agent: $0[2], delta: $0[3], detail: $0[4])
            }
            return NoteDetails(note: note, trails: trails, history: Array(history) + (evaporation.map { [$0] } ?? []))
        }
    }

    public func sense(_ query: SenseQuery) async throws(TrailError) -> [ScoredNote] {
        try await read(senseBody(query))
    }

    public func senseNow(_ query: SenseQuery) throws(TrailError) -> [ScoredNote] {
        try readNow(senseBody(query))
    }

    /// `sense` as a read of one transaction, at the time of the call.
    private func senseBody(_ query: SenseQuery) -> @Sendable (Database) throws -> [ScoredNote] {
        let now = clock.now()
        let contested = self.contested
        let mirror = self.mirror
        return { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, query.ns) else { return [] }
            var reader = SenseReader(db: db, settings: settings, query: query, now: now, mirror: mirror)
            let notes = try reader.run()
            guard contested.mayHave(query.ns) else { return notes }
            return notes.contested(by: try SQLiteContests.rows(db, ns: query.ns, ids: notes.map(\.note.id)))
        }
    }

    public func follow(_ query: FollowQuery) async throws(TrailError) -> FollowResult {
        try await read(followBody(query))
    }

    public func followNow(_ query: FollowQuery) throws(TrailError) -> FollowResult {
        try readNow(followBody(query))
    }

    /// `follow` as a read of one transaction, at the time of the call.
    private func followBody(_ query: FollowQuery) -> @Sendable (Database) throws -> FollowResult {
        let now = clock.now()
        return { db in
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
            let rows = try db.rows(sql: "SELECT \(NamespaceSettings.sqliteColumns) FROM namespace ORDER BY name")
            return try rows.map { row in
                let settings = NamespaceSettings(row: row)
                return NamespaceSummary(settings: settings, counts: try Self.counts(db, settings, at: now))
            }
        }
    }

    public func export(ns: String, after cursor: Int64?, limit: Int) async throws(TrailError) -> ExportPage {
        let now = clock.now()
        let packs = self.packs
        return try await read { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, ns) else {
                return ExportPage(settings: NamespaceSettings(name: ns, landmark: now), exportedAtMillis: Timestamp.millis(now),
                                  records: [], cursor: nil)
            }
            let decay = settings.decay
            // Hot and archived notes, in the order they were first stored.
            var page: [LocatedNote] = []
            var last: Int64?
            try db.forEachRow(sql: "SELECT \(SQLiteWrites.locatedColumns) WHERE n.ns = ? AND n.seq > ? ORDER BY n.seq LIMIT ?",
                              binding: [.text(ns), .int(cursor ?? 0), .int(Int64(limit))]) { s in
                page.append(SQLiteWrites.located(s, ns: ns))
                last = RawColumn.int64(s, 0)
            }
            let records = try page.map { located -> NoteRecord in
                switch located {
                case let .archived(entry):
                    let record = try packs.read(id: entry.id, pack: entry.pack, offset: entry.offset, length: entry.length)
                    return NoteRecord(note: SQLiteWrites.archivedNote(entry, record: record, settings: settings, at: now),
                                      trails: record.trailsOut.map {
                        TrailEnd(to: NoteID(trustedHex: $0.id), weight: record.decayed($0.weight, at: now, halfLife: settings.halfLife))
                    })
                case let .hot(stored):
                    var note = stored.note(ns: settings, at: now)
                    if note.state == .faded { note.state = .live }
                    let trails = try db.rows(sql: """
                        SELECT n.id, e.key FROM edge e JOIN note n ON n.seq = e.dst WHERE e.src = ? AND n.state <> 2 ORDER BY n.id
                        """, arguments: [stored.seq]).map { TrailEnd(to: NoteID(trustedHex: $0[0]), weight: decay.weight(key: $0[1], at: now)) }
                    return NoteRecord(note: note, trails: trails)
                }
            }
            let next: Int64? = page.count == limit ? last : nil
            return ExportPage(settings: settings, exportedAtMillis: Timestamp.millis(now), records: records, cursor: next)
        }
    }

    /// True: `packEvaporation` packs set-aside notes from a read.
    public var packsEvaporationFromReads: Bool { true }

    /// Reads the notes of `batch` still set aside (state 3) and faded, with
    /// their trails, from one read transaction (a snapshot: writers go on),
    /// then writes their pack, synced and claimed, outside it. Nothing here
    /// waits for or holds the write lock; the `.evaporate` write that
    /// carries the result checks which notes are still set aside.
    public func packEvaporation(ns: String, batch: EvaporationBatch) async throws(TrailError) -> PackedEvaporation? {
        let now = clock.now()
        let read = try await readLight { db -> (records: [ArchivedNote], notes: [Note])? in
            guard let settings = try SQLiteWrites.existingNamespace(db, ns) else { return nil }
            let rows = try SQLiteWrites.fadedRows(db, batch.handles, settings: settings, at: now, setAsideOnly: true)
            guard !rows.isEmpty else { return nil }
            return (try SQLiteWrites.records(db, rows, settings: settings, at: now),
                    batch.reportNotes ? SQLiteWrites.evaporatedNotes(rows, settings: settings, at: now) : [])
        }
        guard let read else { return nil }
        let name = SQLiteWrites.packName(ns: ns, at: Timestamp.millis(now))
        do {
            let written = try packs.writeClaimed(read.records, name: name)
            try fault?.trip(.packWritten)
            return PackedEvaporation(
                pack: name, entries: zip(read.records, written.entries).map { (handle: $0.seq, offset: $1.offset, length: $1.length) },
                notes: read.notes, rawBytes: written.raw, packedBytes: written.packed, claim: written.claim)
        } catch {
            packs.remove(name)
            throw Self.map(error, database: path)
        }
    }

    public func fadedNotes(ns: String, batch size: Int) async throws(TrailError) -> [EvaporationBatch] {
        let now = clock.now()
        return try await read { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, ns) else { return [] }
            let threshold = settings.decay.thresholdKey(settings.evaporateBelow, at: now)
            // The faded range of the key index, then storage order: batches of
            // neighbouring rows write far fewer pages than batches in key order.
            // Notes set aside by a bulk evaporation that did not finish (a crash) come along.
            var seqs = try Int64.fetchAll(db.cachedStatement(sql: """
                SELECT seq FROM note INDEXED BY note_by_key WHERE ns = ? AND state = 0 AND key < ?
                UNION ALL SELECT seq FROM note INDEXED BY note_evaporating WHERE ns = ? AND state = 3
                """), arguments: [ns, threshold, ns])
            seqs.sort()
            return stride(from: 0, to: seqs.count, by: max(1, size)).map {
                EvaporationBatch(handles: Array(seqs[$0..<min($0 + size, seqs.count)]))
            }
        }
    }

    public func rankGraph(ns: String) async throws(TrailError) -> RankGraph {
        let now = clock.now()
        return try await read { db in
            guard let settings = try SQLiteWrites.existingNamespace(db, ns) else { return RankGraph() }
            let decay = settings.decay
            let threshold = decay.thresholdKey(settings.evaporateBelow, at: now)
            var graph = RankGraph()
            var index: [Int64: Int32] = [:]
            let notes = try db.cachedStatement(sql: "SELECT seq, id, key FROM note WHERE ns = ? AND state = 0 AND key >= ?")
            let cursor = try Row.fetchCursor(notes, arguments: [ns, threshold])
            while let row = try cursor.next() {
                index[row[0]] = Int32(graph.ids.count)
                graph.ids.append(NoteID(trustedHex: row[1]))
                graph.handles.append(row[0])
                graph.weights.append(decay.weight(key: row[2], at: now))
            }
            let edges = try db.cachedStatement(sql: "SELECT src, dst, key FROM edge WHERE ns = ? AND key > -1e300")
            let edgeCursor = try Row.fetchCursor(edges, arguments: [ns])
            while let row = try edgeCursor.next() {
                guard let from = index[row[0]], let to = index[row[1]] else { continue }
                graph.edgeFrom.append(from)
                graph.edgeTo.append(to)
                graph.edgeWeight.append(decay.weight(key: row[2], at: now))
            }
            return graph
        }
    }

    public func lastCompaction(ns: String?) async throws(TrailError) -> CompactionReport? {
        try await read { db in
            let row = try ns.map { try db.row(sql: "SELECT * FROM compaction WHERE ns = ? ORDER BY seq DESC LIMIT 1", arguments: [$0]) }
                ?? db.row(sql: "SELECT * FROM compaction ORDER BY seq DESC LIMIT 1")
            return row.map {
                CompactionReport(ns: $0["ns"], startedAtMillis: $0["started_at"], durationMillis: $0["duration_ms"],
                                 evaporated: $0["evaporated"], archivedBytes: $0["archived_bytes"], ranked: $0["ranked"],
                                 rebased: ($0["rebased"] as Int64) != 0)
            }
        }
    }

    public func storeBytes() -> Int64 {
        let files = [path, path + "-wal", path + "-shm"] + packs.files().map(packs.path)
        return files.reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }

    /// Finishes the queued writes and closes every connection, leaving the
    /// store in its one file: the write-ahead log is checkpointed into it
    /// and removed. GRDB closes the pool's writer before its readers, and the
    /// last connection to close is the one that checkpoints, so a pool that
    /// had opened a reader (read-only, it cannot) used to leave megabytes of
    /// the latest writes in `trail.db-wal` after a clean stop.
    public func close() async {
        await committer.drain()
        mirror?.stop()
        inline.close()
        pool.releaseMemory()  // closes the pool's idle readers
        _ = try? await pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try? pool.close()
    }

    /// Counts by state; `faded` and `total_weight` are range reads on the key index.
    static func counts(_ db: Database, _ settings: NamespaceSettings, at now: Double) throws -> NamespaceCounts {
        var counts = NamespaceCounts()
        let decay = settings.decay
        for row in try db.rows(sql: "SELECT state, count(*) FROM note WHERE ns = ? AND (state = 0 OR state = 1) GROUP BY state",
                               arguments: [settings.name]) {
            let n: Int = row[1]
            counts.notes += n
            switch StoredState(rawValue: row[0]) {
            case .live?: counts.live = n
            case .retracted?: counts.retracted = n
            case .archived?, .evaporating?, nil: break
            }
        }
        let threshold = decay.thresholdKey(settings.evaporateBelow, at: now)
        let live = try db.int(sql: "SELECT count(*) FROM note WHERE ns = ? AND state = 0 AND key >= ?",
                                    arguments: [settings.name, threshold]) ?? 0
        let evaporating = try db.int(sql: "SELECT count(*) FROM note INDEXED BY note_evaporating WHERE ns = ? AND state = 3",
                                     arguments: [settings.name]) ?? 0
        counts.notes += evaporating
        counts.faded = counts.live - live + evaporating
        counts.live = live
        counts.edges = try db.int(sql: "SELECT count(*) FROM edge WHERE ns = ?", arguments: [settings.name]) ?? 0
        counts.archived = try db.int(sql: "SELECT coalesce(sum(notes - revived), 0) FROM pack WHERE ns = ?", arguments: [settings.name]) ?? 0
        counts.notes += counts.archived
        if let packed = try db.row(sql: "SELECT total(packed_bytes), total(raw_bytes) FROM pack WHERE ns = ?", arguments: [settings.name]) {
            counts.archivedBytes = Int(packed[0] as Double)
            counts.archivedRawBytes = Int(packed[1] as Double)
        }
        counts.totalWeight = try db.double(
            sql: "SELECT total(pow(2.0, key - ?)) FROM note WHERE ns = ? AND state = 0 AND key > -1e300",
            arguments: [decay.offset(at: now), settings.name]) ?? 0
        return counts
    }

    /// Runs `body` on a reader of the pool, mapping every failure to a `TrailError`.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(TrailError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.map(error, database: path)
        }
    }

    /// `read` with the reader's page cache held to `SQLiteMemory.lightCacheKiB`
    /// for the length of `body`: for reads that walk many pages once.
    func readLight<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(TrailError) -> T {
        try await read { db in
            try db.execute(sql: "PRAGMA cache_size = \(-SQLiteMemory.lightCacheKiB)")
            defer { try? db.execute(sql: "PRAGMA cache_size = \(-SQLiteMemory.readerCacheKiB)") }
            return try body(db)
        }
    }

    /// Runs `body` in one read transaction on the calling thread (no hop to
    /// a reader queue), on a read-only connection of `InlineReaders`, mapping
    /// every failure to a `TrailError`.
    private func readNow<T>(_ body: (Database) throws -> T) throws(TrailError) -> T {
        do {
            return try inline.read(body)
        } catch {
            throw Self.map(error, database: path)
        }
    }

    /// The one place a storage failure becomes a contract error; `database`
    /// is the file a corrupt page is reported in.
    static func map(_ error: any Error, database: String) -> TrailError {
        if let trail = error as? TrailError { return trail }
        if let pack = error as? ArchiveError {
            if let (file, why) = pack.damage { return .storageDamaged(file: file, why: why) }
            return .storageUnavailable("archive pack: \(pack.description)")
        }
        if let zstd = error as? ZstdError { return .storageUnavailable("archive pack: \(zstd.description)") }
        if let db = error as? DatabaseError {
            switch db.resultCode {
            case .SQLITE_FULL: return .storageUnavailable("the disk is full")
            case .SQLITE_READONLY: return .storageUnavailable("the database is read-only")
            case .SQLITE_BUSY, .SQLITE_LOCKED: return .storageUnavailable("the database is locked by another process")
            case .SQLITE_CORRUPT, .SQLITE_NOTADB:
                return .storageDamaged(file: database, why: "SQLite: \(db.message ?? "\(db.resultCode)")")
            case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_PERM:
                return .storageUnavailable("SQLite: \(db.message ?? "\(db.resultCode)")")
            default: return .internal("SQLite: \(db.message ?? "\(db.resultCode)")")
            }
        }
        return .internal("\(error)")
    }
}
