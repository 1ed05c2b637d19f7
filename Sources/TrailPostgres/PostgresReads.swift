import Foundation
import Logging
import NIOCore
import PostgresNIO
import TrailCore
import TrailStore

/// One read on a connection lent by the `ReadPool`: statements run one
/// after another, each its own snapshot (read committed), at the
/// database's instant `now`, read with the namespace's settings.
struct PostgresReads {
    let connection: PostgresConnection
    let logger: Logger
    /// The namespaces that may hold contests (see `contestRows`).
    let contested: ContestedNamespaces
    /// The bound on each statement: past it the connection is closed and the
    /// read fails with `StatementTimedOut` (the pool replaces the connection).
    /// Without it, a read sent as the server died could wait forever: seen
    /// as a sense unanswered for 30 s in the end-to-end database-stop test.
    let timeout: Duration

    @discardableResult
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, timeout: TimeAmount(timeout), logger: logger).get().rows.map { $0.makeRandomAccess() }
    }

    /// The database's clock and a namespace's settings in one round trip
    /// (nil settings when the namespace does not exist).
    func clock(ns: String) async throws -> (now: Double, settings: NamespaceSettings?) {
        let rows = try await self.rows("""
            SELECT extract(epoch FROM clock_timestamp())::float8, \(unescaped: NamespaceSettings.postgresColumns)
            FROM (SELECT 1) one LEFT JOIN namespace ON name = \(ns)
            """)
        let now = try rows[0][0].decode(Double.self)
        let exists = try rows[0][1].decode(String?.self) != nil
        return (now, exists ? try NamespaceSettings(postgres: rows[0], at: 1) : nil)
    }

    /// The one note `prefix` names, hot or archived.
    func locate(_ prefix: IDPrefix, ns: String) async throws -> LocatedRow {
        let rows = try await self.rows("""
            SELECT \(unescaped: noteColumns) FROM note n
            WHERE n.ns = \(ns) AND n.id >= \(prefix.hex) AND n.id < \(prefix.upperBound) ORDER BY n.id LIMIT 5
            """)
        switch rows.count {
        case 0: throw TrailError.unknownNote(id: prefix.hex, ns: ns)
        case 1: return try LocatedRow(postgres: rows[0])
        default: throw TrailError.ambiguousID(prefix: prefix.hex, matches: try rows.map { try $0[1].decode(String.self) })
        }
    }

    /// The record of an archived note, from its block.
    func record(_ entry: ArchivedRow) async throws -> ArchivedNote {
        guard let row = try await rows("SELECT frame FROM archive_block WHERE seq = \(entry.block)").first else {
            throw TrailError.storageUnavailable("archive block \(entry.block) of note \(entry.id) is missing")
        }
        return try ArchiveFrames.record(id: entry.id, in: Array(buffer: try row[0].decode(ByteBuffer.self)),
                                        source: "archive block \(entry.block)")
    }

    // MARK: get

    func get(_ id: IDPrefix, ns: String) async throws -> NoteDetails {
        let (now, found) = try await clock(ns: ns)
        guard let settings = found else { throw TrailError.unknownNote(id: id.hex, ns: ns) }
        let decay = settings.decay
        let note: Note
        var trails: [TrailLink] = []
        var evaporation: HistoryEntry?
        let seq: Int64
        switch try await locate(id, ns: ns) {
        case let .hot(row):
            var hot = row.note(ns: settings, at: now)
            hot.contestedBy = try await contestRows(ns: ns, ids: [hot.id]).contestedBy()[hot.id] ?? []
            note = hot
            seq = row.seq
            for (far, near, direction) in [("dst", "src", TrailDirection.forward), ("src", "dst", .backward)] {
                for row in try await rows("""
                    SELECT n.id, e.key FROM edge e JOIN note n ON n.seq = e.\(unescaped: far)
                    WHERE e.\(unescaped: near) = \(row.seq) AND n.state <> 2 ORDER BY e.key DESC LIMIT 100
                    """) {
                    trails.append(TrailLink(other: NoteID(trustedHex: try row[0].decode(String.self)),
                                            weight: decay.weight(key: try row[1].decode(Double.self), at: now), direction: direction))
                }
            }
        case let .archived(entry):
            let record = try await record(entry)
            note = record.note(settings: settings, weight: decay.weight(key: entry.key, at: now))
            seq = entry.seq
            evaporation = HistoryEntry(atMillis: Timestamp.millis(entry.archivedAt), op: "evaporate", agent: nil, delta: nil,
                                       detail: "block \(entry.block)")
            let decayed = { (w: Double) in record.decayed(w, at: now, halfLife: settings.halfLife) }
            trails = record.trailsOut.map { TrailLink(other: NoteID(trustedHex: $0.id), weight: decayed($0.weight), direction: .forward) }
                + record.trailsIn.map { TrailLink(other: NoteID(trustedHex: $0.id), weight: decayed($0.weight), direction: .backward) }
        }
        let history = try await rows("""
            SELECT at, op, agent, delta, detail FROM write_log WHERE note = \(seq) OR other = \(seq) ORDER BY seq DESC LIMIT 100
            """).reversed().map {
            HistoryEntry(atMillis: try $0[0].decode(Int64.self), op: try $0[1].decode(String.self), agent: try $0[2].decode(String?.self),
                         delta: try $0[3].decode(Double?.self), detail: try $0[4].decode(String?.self))
        }
        return NoteDetails(note: note, trails: trails, history: history + (evaporation.map { [$0] } ?? []))
    }

    // MARK: sense

    /// Up to this many matches are scored with their text relevance; a query
    /// matching more is made of common words, and its candidates are the
    /// heaviest matches, with relevance 0 (as on SQLite).
    static let candidates = 2000

    func sense(_ query: SenseQuery) async throws -> [ScoredNote] {
        var walk = SenseWalk(query)
        let now: Double
        let settings: NamespaceSettings
        if query.words == nil, let want = walk.nextPage {
            // By weight, the common read: its first page comes with the clock
            // and the settings, in one round trip.
            guard let first = try await firstPageByWeight(query, count: want) else { return [] }
            (now, settings) = (first.now, first.settings)
            walk.take(first.rows.map { ($0, settings.decay.weight(key: $0.key, at: now)) }, asked: want, settings: settings, at: now)
        } else {
            let (clock, found) = try await clock(ns: query.ns)
            guard let found else { return [] }
            (now, settings) = (clock, found)
        }
        let floor = SenseWalk.floorKey(query, settings: settings, at: now)
        let offset = settings.decay.offset(at: now)
        var manyMatches: Bool?
        while let want = walk.nextPage {
            var sql = "SELECT \(noteColumns)"
            var binds = PostgresBindings()
            binds.append(query.ns)
            binds.append(floor)
            if let words = query.words {
                binds.append(SearchText.query(words))
                binds.append(offset)
                let text = "to_tsquery('english', $3)"
                if manyMatches == nil {
                    let counted = try await rows("""
                        SELECT count(*) FROM (SELECT 1 FROM note WHERE ns = \(query.ns) AND state = 0
                            AND words @@ to_tsquery('english', \(SearchText.query(words))) LIMIT \(Int64(Self.candidates + 1))) m
                        """)
                    manyMatches = try counted[0][0].decode(Int64.self) > Self.candidates
                }
                if manyMatches == true {
                    sql += ", power(2.0::float8, n.key - $4) * (1.0 + coalesce(n.rank, 0.0)) AS score FROM ("
                        + "SELECT * FROM note n WHERE n.ns = $1 AND n.state = 0 AND n.key >= $2 AND n.words @@ \(text)"
                        + tagConditions(query, &binds) + " ORDER BY n.key DESC LIMIT \(Self.candidates)) n"
                } else {
                    sql += ", power(2.0::float8, n.key - $4) * (1.0 + ts_rank(n.words, \(text))) * (1.0 + coalesce(n.rank, 0.0)) AS score"
                        + " FROM note n WHERE n.ns = $1 AND n.state = 0 AND n.key >= $2 AND n.words @@ \(text)"
                        + tagConditions(query, &binds)
                }
                binds.append(Int64(want))
                binds.append(Int64(walk.offset))
                sql += " ORDER BY score DESC, n.id ASC LIMIT $\(binds.count - 1) OFFSET $\(binds.count)"
            } else {
                // ORDER BY key DESC, id on note_by_key is ORDER BY current weight.
                sql += ", n.key FROM note n WHERE n.ns = $1 AND n.state = 0 AND n.key >= $2"
                if let c = walk.cursor {
                    binds.append(c.key)
                    binds.append(c.id)
                    sql += " AND (n.key < $\(binds.count - 1) OR (n.key = $\(binds.count - 1) AND n.id > $\(binds.count)))"
                }
                sql += tagConditions(query, &binds)
                binds.append(Int64(want))
                sql += " ORDER BY n.key DESC, n.id ASC LIMIT $\(binds.count)"
            }
            let page = try await rows(PostgresQuery(unsafeSQL: sql, binds: binds))
            let scored = try page.map { row -> (NoteRow, Double) in
                let note = try NoteRow(postgres: row)
                let score = try row[17].decode(Double.self)
                return (note, query.words == nil ? settings.decay.weight(key: score, at: now) : score)
            }
            walk.take(scored, asked: want, settings: settings, at: now)
        }
        let notes = walk.taken
        return notes.contested(by: try await contestRows(ns: query.ns, ids: notes.map(\.note.id)))
    }

    /// The first page of a sense by weight with the database's clock and
    /// the namespace's settings; nil when the namespace does not exist.
    /// The floor is `SenseWalk.floorKey` in SQL, over the clock and settings
    /// the same statement reads (`floorKeySQL`).
    func firstPageByWeight(_ query: SenseQuery, count: Int) async throws -> (now: Double, settings: NamespaceSettings, rows: [NoteRow])? {
        let rows: [PostgresRandomAccessRow]
        if !query.includeFaded, query.allTags.isEmpty, query.anyTags.isEmpty {
            // The light read of every agent: prepared once per connection and size.
            func page<Page: FirstPageRows>(_: Page.Type) async throws -> [PostgresRandomAccessRow] {
                try await connection.rows(FirstPageByWeight<Page>(ns: query.ns, minWeight: query.minWeight), timeout: TimeAmount(timeout), logger: logger)
            }
            rows = switch count {
            case ...10: try await page(FirstPageOf10.self)
            case ...25: try await page(FirstPageOf25.self)
            case ...100: try await page(FirstPageOf100.self)
            case ...256: try await page(FirstPageOf256.self)
            case ...1000: try await page(FirstPageOf1000.self)
            default: try await firstPageByWeightRows(query, count: count)
            }
        } else {
            rows = try await firstPageByWeightRows(query, count: count)
        }
        guard let head = rows.first else { return nil }
        let settings = try NamespaceSettings(postgres: head, at: 1)
        let first = firstPageNoteColumn
        // A prepared page may hold more rows than asked: the walk takes `count`.
        let notes = try rows.prefix(count).compactMap { row in
            try row[first].decode(Int64?.self) == nil ? nil : try NoteRow(postgres: row, at: first)
        }
        return (try head[0].decode(Double.self), settings, notes)
    }

    /// `firstPageByWeight`'s statement, built for the query's filters.
    private func firstPageByWeightRows(_ query: SenseQuery, count: Int) async throws -> [PostgresRandomAccessRow] {
        var binds = PostgresBindings()
        binds.append(query.ns)
        var minWeight: String?
        if let m = query.minWeight {
            binds.append(m)
            minWeight = "$\(binds.count)::float8"
        }
        let floor = Self.floorKeySQL(includeFaded: query.includeFaded, minWeight: minWeight)
        let tags = tagConditions(query, &binds)
        binds.append(Int64(count))
        return try await self.rows(PostgresQuery(unsafeSQL: Self.firstPageSQL(floor: floor, tags: tags, limit: "$\(binds.count)"), binds: binds))
    }

    /// The first page of a sense by weight, with the clock and the settings
    /// (`$1` the namespace).
    static func firstPageSQL(floor: String, tags: String, limit: String) -> String {
        """
        WITH s AS (
            SELECT extract(epoch FROM clock_timestamp())::float8 AS now, \(NamespaceSettings.postgresColumns)
            FROM namespace WHERE name = $1)
        SELECT s.*, p.* FROM s LEFT JOIN LATERAL (
            SELECT \(noteColumns) FROM note n WHERE n.ns = $1 AND n.state = 0 AND n.key >= \(floor)\(tags)
            ORDER BY n.key DESC, n.id ASC LIMIT \(limit)) p ON true
        """
    }

    /// `SenseWalk.floorKey` in SQL, over `s.now` and the namespace's
    /// `s.evaporate_below`, `s.landmark` and `s.half_life_s`:
    /// `ForwardDecay.thresholdKey` of the faded threshold (unless
    /// `includeFaded`), and of `minWeight` (an SQL value) when given.
    static func floorKeySQL(includeFaded: Bool, minWeight: String?) -> String {
        let lowest = "(-1.7976931348623157e308)::float8"
        func threshold(_ w: String) -> String {
            "(CASE WHEN \(w) > 0 THEN ln(\(w)) / ln(2.0::float8) + (s.now - s.landmark) / s.half_life_s ELSE \(lowest) END)"
        }
        let faded = includeFaded ? lowest : threshold("s.evaporate_below")
        return minWeight.map { "greatest(\(faded), \(threshold($0)))" } ?? faded
    }

    private func tagConditions(_ query: SenseQuery, _ binds: inout PostgresBindings) -> String {
        var sql = ""
        for tag in query.allTags {
            binds.append(tag)
            sql += " AND EXISTS (SELECT 1 FROM note_tag t WHERE t.ns = n.ns AND t.tag = $\(binds.count) AND t.note = n.seq)"
        }
        if !query.anyTags.isEmpty {
            binds.append(query.anyTags)
            sql += " AND EXISTS (SELECT 1 FROM note_tag t WHERE t.ns = n.ns AND t.tag = ANY($\(binds.count)::text[]) AND t.note = n.seq)"
        }
        return sql
    }

    // MARK: follow

    func follow(_ query: FollowQuery) async throws -> FollowResult {
        let (now, found) = try await clock(ns: query.ns)
        guard let settings = found else { throw TrailError.unknownNote(id: query.from.hex, ns: query.ns) }
        let located = try await locate(query.from, ns: query.ns)
        guard case let .hot(origin) = located else {
            // An archived note's trails are in its record; revive it to walk them.
            return FollowResult(from: NoteID(trustedHex: located.id), steps: [])
        }
        let floor = FollowOrder.floorKey(query, settings: settings, at: now)
        var trails: [FoundTrail] = []
        for (far, near, direction) in [("dst", "src", TrailDirection.forward), ("src", "dst", .backward)] {
            if direction == .forward && query.direction == .backward { continue }
            if direction == .backward && query.direction == .forward { continue }
            for row in try await rows("""
                SELECT \(unescaped: noteColumns), e.key FROM edge e JOIN note n ON n.seq = e.\(unescaped: far)
                WHERE e.\(unescaped: near) = \(origin.seq) AND e.key > -1e300 AND n.state = 0 AND n.key >= \(floor)
                ORDER BY e.key DESC LIMIT \(Int64(FollowOrder.candidates))
                """) {
                trails.append(FoundTrail(row: try NoteRow(postgres: row), edgeKey: try row[17].decode(Double.self), direction: direction))
            }
        }
        return FollowResult(from: NoteID(trustedHex: origin.id), steps: FollowOrder.steps(trails, query: query, settings: settings, at: now))
    }

    // MARK: namespaces

    func summary(ns: String) async throws -> NamespaceSummary {
        let (now, found) = try await clock(ns: ns)
        let settings = found ?? NamespaceSettings(name: ns, landmark: now)
        return NamespaceSummary(settings: settings, counts: try await counts(settings, at: now))
    }

    func namespaces() async throws -> [NamespaceSummary] {
        let (now, _) = try await clock(ns: "")
        var all: [NamespaceSummary] = []
        for row in try await rows("SELECT \(unescaped: NamespaceSettings.postgresColumns) FROM namespace ORDER BY name") {
            let settings = try NamespaceSettings(postgres: row)
            all.append(NamespaceSummary(settings: settings, counts: try await counts(settings, at: now)))
        }
        return all
    }

    /// Counts by state, as the SQLite engine gives them: faded notes are
    /// live ones below the threshold and those set aside for evaporation.
    func counts(_ settings: NamespaceSettings, at now: Double) async throws -> NamespaceCounts {
        let decay = settings.decay
        let threshold = decay.thresholdKey(settings.evaporateBelow, at: now)
        let row = try await rows("""
            SELECT count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 1),
                   count(*) FILTER (WHERE state = 0 AND key >= \(threshold)), count(*) FILTER (WHERE state = 3),
                   coalesce(sum(power(2.0::float8, key - \(decay.offset(at: now)))) FILTER (WHERE state = 0 AND key > -1e300), 0)::float8,
                   (SELECT count(*) FROM edge WHERE ns = \(settings.name)),
                   (SELECT coalesce(sum(notes - revived), 0)::int8 FROM archive_block WHERE ns = \(settings.name)),
                   (SELECT coalesce(sum(packed_bytes), 0)::int8 FROM archive_block WHERE ns = \(settings.name)),
                   (SELECT coalesce(sum(raw_bytes), 0)::int8 FROM archive_block WHERE ns = \(settings.name))
            FROM note WHERE ns = \(settings.name)
            """)[0]
        var counts = NamespaceCounts()
        let live = Int(try row[0].decode(Int64.self))
        let aboveThreshold = Int(try row[2].decode(Int64.self))
        let evaporating = Int(try row[3].decode(Int64.self))
        counts.retracted = Int(try row[1].decode(Int64.self))
        counts.live = aboveThreshold
        counts.faded = live - aboveThreshold + evaporating
        counts.totalWeight = try row[4].decode(Double.self)
        counts.edges = Int(try row[5].decode(Int64.self))
        counts.archived = Int(try row[6].decode(Int64.self))
        counts.archivedBytes = Int(try row[7].decode(Int64.self))
        counts.archivedRawBytes = Int(try row[8].decode(Int64.self))
        counts.notes = live + counts.retracted + evaporating + counts.archived
        return counts
    }

    // MARK: other daemons' writes

    /// The events of the write-log rows from `first` to `last` that daemons
    /// other than `me` wrote (only `daemon`'s, when given: a signal's) in
    /// `namespaces`, in seq order, each with its row's seq: what the rows'
    /// notes are now. At most `limit` rows are read; `complete` is false
    /// when there were more. A row whose note is no longer hot (evaporated
    /// since) gives no event; an evaporation gives one per note of its blocks.
    func loggedEvents(from first: Int64, through last: Int64, me: String, daemon: String? = nil,
                      namespaces: Set<String>, limit: Int) async throws -> (events: [StoreEvent], complete: Bool, lastRead: Int64?) {
        guard !namespaces.isEmpty, first <= last else { return ([], true, nil) }
        let wanted = Array(namespaces)
        let rows = try await self.rows("""
            SELECT \(unescaped: noteColumns), w.seq, w.ns, w.op, w.detail, a.id, e.key, n.seq IS NOT NULL
            FROM write_log w
            LEFT JOIN note n ON n.seq = w.note
            LEFT JOIN note a ON w.op = 'link' AND a.seq = w.other
            LEFT JOIN edge e ON w.op = 'link' AND e.src = w.other AND e.dst = w.note
            WHERE w.seq >= \(first) AND w.seq <= \(last) AND w.daemon <> \(me)
              AND (\(daemon)::text IS NULL OR w.daemon = \(daemon)::text)
              AND w.op = ANY(\(unescaped: LoggedEvent.operationsLiteral)::text[]) AND w.ns = ANY(\(wanted)::text[])
            ORDER BY w.seq LIMIT \(Int64(limit) + 1)
            """)
        let complete = rows.count <= limit
        var settings: [String: (now: Double, settings: NamespaceSettings?)] = [:]
        var events: [StoreEvent] = []
        var lastRead: Int64?
        // Each archive block read and decoded once per call: a catch-up may
        // hold the deposits and the evaporation of many notes of one block.
        var blocks: [Int64: (records: [ArchivedNote], byID: [String: ArchivedNote])?] = [:]
        func archived(_ block: Int64) async throws -> (records: [ArchivedNote], byID: [String: ArchivedNote])? {
            if let read = blocks[block] { return read }
            let read = try await self.rows("SELECT frame FROM archive_block WHERE seq = \(block)").first.map { frame in
                let records = try ArchiveFrames.records(in: Array(buffer: try frame[0].decode(ByteBuffer.self)), source: "archive block \(block)")
                return (records, Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first }))
            }
            blocks[block] = read
            return read
        }
        let c = 17  // the columns after noteColumns
        for row in rows.prefix(limit) {
            let seq = try row[c].decode(Int64.self)
            lastRead = seq
            let ns = try row[c + 1].decode(String.self)
            let op = try row[c + 2].decode(String.self)
            if settings[ns] == nil { settings[ns] = try await clock(ns: ns) }
            guard let (now, found) = settings[ns], let namespace = found, let kind = LoggedEvent.events[op] else { continue }
            if op == "evaporate" {
                let evaporated = (try row[c + 3].decode(String?.self) ?? "").split(separator: " ").last?
                    .split(separator: ",").compactMap { Int64($0) } ?? []
                for block in evaporated {
                    guard let records = try await archived(block)?.records else { continue }
                    events += records.map {
                        StoreEvent(event: kind, note: $0.note(settings: namespace, weight: $0.decayed($0.weight, at: now, halfLife: namespace.halfLife)),
                                   seq: seq)
                    }
                }
                continue
            }
            guard try row[c + 6].decode(Bool.self) else { continue }
            // The note as it is now; one that evaporated since this row was
            // written (a listener catching up, or slow to read a signal) is
            // read from its archive block, so its event is not lost.
            let note: Note
            switch try LocatedRow(postgres: row) {
            case let .hot(hot): note = hot.note(ns: namespace, at: now)
            case let .archived(entry):
                // As for an evaporation's blocks: a block that is gone gives
                // no event; failing here would stall the listener on this row
                // for every watcher.
                guard let record = try await archived(entry.block)?.byID[entry.id] else { continue }
                note = record.note(settings: namespace, weight: namespace.decay.weight(key: entry.key, at: now))
            }
            var event = StoreEvent(event: kind, note: note, seq: seq)
            if op == "link", let from = try row[c + 4].decode(String?.self) {
                event.trailFrom = NoteID(trustedHex: from)
                event.trailWeight = try row[c + 5].decode(Double?.self).map { namespace.decay.weight(key: $0, at: now) } ?? 0
            }
            events.append(event)
        }
        return (events, complete, lastRead)
    }

    /// The namespaces among `namespaces` that have write-log rows from
    /// `first` to `last` made by daemons other than `me` (a gap's).
    func loggedNamespaces(from first: Int64, through last: Int64, me: String, namespaces: Set<String>) async throws -> [String] {
        try await rows("""
            SELECT DISTINCT w.ns FROM write_log w
            WHERE w.seq >= \(first) AND w.seq <= \(last) AND w.daemon <> \(me)
              AND w.op = ANY(\(unescaped: LoggedEvent.operationsLiteral)::text[]) AND w.ns = ANY(\(Array(namespaces))::text[])
            """).map { try $0[0].decode(String.self) }.sorted()
    }

    // MARK: export, compaction

    /// A page of every note of `ns` in every state, in storage order.
    func export(ns: String, after cursor: Int64?, limit: Int) async throws -> ExportPage {
        let (now, found) = try await clock(ns: ns)
        guard let settings = found else {
            return ExportPage(settings: NamespaceSettings(name: ns, landmark: now), exportedAtMillis: Timestamp.millis(now),
                              records: [], cursor: nil)
        }
        let decay = settings.decay
        let page = try await rows("""
            SELECT \(unescaped: noteColumns) FROM note n WHERE n.ns = \(ns) AND n.seq > \(cursor ?? 0) ORDER BY n.seq LIMIT \(Int64(limit))
            """).map { try LocatedRow(postgres: $0) }
        let hot = page.compactMap { if case let .hot(row) = $0 { row.seq } else { nil } }
        var trailsOf: [Int64: [TrailEnd]] = [:]
        for row in try await rows("""
            SELECT e.src, n.id, e.key FROM edge e JOIN note n ON n.seq = e.dst
            WHERE e.src = ANY(\(hot)::int8[]) AND n.state <> 2 ORDER BY e.src, n.id
            """) {
            trailsOf[try row[0].decode(Int64.self), default: []].append(
                TrailEnd(to: NoteID(trustedHex: try row[1].decode(String.self)), weight: decay.weight(key: try row[2].decode(Double.self), at: now)))
        }
        var records: [NoteRecord] = []
        records.reserveCapacity(page.count)
        for located in page {
            switch located {
            case let .archived(entry):
                let record = try await record(entry)
                records.append(NoteRecord(note: record.note(settings: settings, weight: decay.weight(key: entry.key, at: now)),
                                          trails: record.trailsOut.map {
                    TrailEnd(to: NoteID(trustedHex: $0.id), weight: record.decayed($0.weight, at: now, halfLife: settings.halfLife))
                }))
            case let .hot(row):
                var note = row.note(ns: settings, at: now)
                if note.state == .faded { note.state = .live }
                records.append(NoteRecord(note: note, trails: trailsOf[row.seq] ?? []))
            }
        }
        let last: Int64? = page.last.map { switch $0 { case let .hot(row): row.seq; case let .archived(entry): entry.seq } }
        return ExportPage(settings: settings, exportedAtMillis: Timestamp.millis(now), records: records,
                          cursor: page.count == limit ? last : nil)
    }

    /// The faded notes of `ns` (a range read on the key index) and those set
    /// aside by a bulk evaporation a crash cut short, in storage order.
    func fadedNotes(ns: String, batch size: Int) async throws -> [EvaporationBatch] {
        let (now, found) = try await clock(ns: ns)
        guard let settings = found else { return [] }
        let threshold = settings.decay.thresholdKey(settings.evaporateBelow, at: now)
        let seqs = try await rows("""
            SELECT seq FROM note WHERE ns = \(ns) AND state = 0 AND key < \(threshold)
            UNION ALL SELECT seq FROM note WHERE ns = \(ns) AND state = 3 ORDER BY 1
            """).map { try $0[0].decode(Int64.self) }
        return stride(from: 0, to: seqs.count, by: max(1, size)).map {
            EvaporationBatch(handles: Array(seqs[$0..<min($0 + size, seqs.count)]))
        }
    }

    /// The weighted trail graph of the live notes of `ns`.
    func rankGraph(ns: String) async throws -> RankGraph {
        let (now, found) = try await clock(ns: ns)
        guard let settings = found else { return RankGraph() }
        let decay = settings.decay
        let threshold = decay.thresholdKey(settings.evaporateBelow, at: now)
        var graph = RankGraph()
        var index: [Int64: Int32] = [:]
        for row in try await rows("SELECT seq, id, key FROM note WHERE ns = \(ns) AND state = 0 AND key >= \(threshold)") {
            let seq = try row[0].decode(Int64.self)
            index[seq] = Int32(graph.ids.count)
            graph.ids.append(NoteID(trustedHex: try row[1].decode(String.self)))
            graph.handles.append(seq)
            graph.weights.append(decay.weight(key: try row[2].decode(Double.self), at: now))
        }
        for row in try await rows("SELECT src, dst, key FROM edge WHERE ns = \(ns) AND key > -1e300") {
            guard let from = index[try row[0].decode(Int64.self)], let to = index[try row[1].decode(Int64.self)] else { continue }
            graph.edgeFrom.append(from)
            graph.edgeTo.append(to)
            graph.edgeWeight.append(decay.weight(key: try row[2].decode(Double.self), at: now))
        }
        return graph
    }

    func lastCompaction(ns: String?) async throws -> CompactionReport? {
        let columns = "ns, started_at, duration_ms, evaporated, archived_bytes, ranked, rebased"
        let found: [PostgresRandomAccessRow]
        if let ns {
            found = try await rows("SELECT \(unescaped: columns) FROM compaction WHERE ns = \(ns) ORDER BY seq DESC LIMIT 1")
        } else {
            found = try await rows("SELECT \(unescaped: columns) FROM compaction ORDER BY seq DESC LIMIT 1")
        }
        return try found.first.map {
            CompactionReport(ns: try $0[0].decode(String.self), startedAtMillis: try $0[1].decode(Int64.self),
                             durationMillis: try $0[2].decode(Int64.self), evaporated: Int(try $0[3].decode(Int64.self)),
                             archivedBytes: Int(try $0[4].decode(Int64.self)), ranked: Int(try $0[5].decode(Int64.self)),
                             rebased: try $0[6].decode(Bool.self))
        }
    }
}

/// How many rows a prepared first page reads (`FirstPageByWeight`).
///
/// The number is written into the statement, not bound: with `LIMIT $n`
/// PostgreSQL's generic plan assumes a tenth of the table and never wins
/// against a custom one, so every execution is planned again (measured with
/// pgbench at 100k notes: 242-261 µs of the backend's CPU per statement,
/// against 92-101 µs with the limit written in).
public protocol FirstPageRows: Sendable {
    /// The statement's name and text, written once, with its LIMIT.
    static var statement: FirstPageStatement { get }
}

/// The name and text of a prepared first page of `rows` rows: built once
/// per size, not on every sense (postgres-nio reads both on every execution).
public struct FirstPageStatement: Sendable {
    /// The LIMIT written into the statement.
    public let rows: Int64
    public let name: String
    public let sql: String

    init(rows: Int64) {
        self.rows = rows
        name = "trail_first_page_by_weight_\(rows)"
        sql = PostgresReads.firstPageSQL(floor: PostgresReads.floorKeySQL(includeFaded: false, minWeight: "$2::float8"), tags: "", limit: "\(rows)")
    }
}

/// The first pages' sizes: a first page of `count` rows is read with the
/// smallest that holds it, and cut to `count` (each row more costs the
/// server about 2 µs).
public enum FirstPageOf10: FirstPageRows {  // Limits.defaultLimit
    public static let statement = FirstPageStatement(rows: 10)
}
/// See `FirstPageOf10`.
public enum FirstPageOf25: FirstPageRows {
    public static let statement = FirstPageStatement(rows: 25)
}
/// See `FirstPageOf10`.
public enum FirstPageOf100: FirstPageRows {
    public static let statement = FirstPageStatement(rows: 100)
}
/// See `FirstPageOf10`; `SenseWalk.page`, the page of a sense with a budget.
public enum FirstPageOf256: FirstPageRows {
    public static let statement = FirstPageStatement(rows: 256)
}
/// See `FirstPageOf10`; `Limits.maxLimit`.
public enum FirstPageOf1000: FirstPageRows {
    public static let statement = FirstPageStatement(rows: 1000)
}

/// The first page of a sense by weight with no tags and not `include_faded`
/// (the light read every agent starts with, `min_weight` or not), prepared
/// once per connection and size: PostgreSQL plans it once, not on every sense.
///
/// Public so that the benchmark's raw peer runs the engine's own statement
/// (not a copy that drifts): each row holds the database's clock, the
/// namespace's settings, then a note's columns from `firstPageNoteColumn`
/// (all NULL when the namespace holds no note above the floor).
public struct FirstPageByWeight<Page: FirstPageRows>: PostgresPreparedStatement {
    public typealias Row = PostgresRow
    public static var name: String { Page.statement.name }
    /// `$1` the namespace, `$2` `min_weight` (NULL for none: the threshold
    /// of a NULL weight is the lowest key).
    public static var sql: String { Page.statement.sql }
    public static var bindingDataTypes: [PostgresDataType] { firstPageBindingTypes }

    /// The namespace.
    public let ns: String
    /// The sense's `min_weight`, if any.
    public let minWeight: Double?

    /// The first `Page.statement.rows` notes of `ns` by weight, above its faded
    /// threshold and `minWeight`.
    public init(ns: String, minWeight: Double? = nil) {
        self.ns = ns
        self.minWeight = minWeight
    }

    public func makeBindings() throws -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(ns)
        binds.append(minWeight)
        return binds
    }

    public func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// `FirstPageByWeight`'s binds: the namespace, `min_weight`.
private let firstPageBindingTypes: [PostgresDataType] = [.text, .float8]

/// Where a first page's note columns start: after the clock and the settings.
public let firstPageNoteColumn = 1 + NamespaceSettings.postgresColumnCount
