import GRDB
import GRDBSQLite
import TrailCore
import TrailStore

/// Answers `sense` inside one read transaction.
///
/// Without words the ranking is the key index itself: `ORDER BY key DESC, id`
/// on `note_by_key`, read page by page (keyset paging) only as far as the
/// limit and the byte budget need. With words, FTS5 finds the matches and
/// SQLite orders them by `weight * (1 + relevance) * (1 + rank)`; when they
/// are many, traild's `NoteKeyMirror` ranks them instead of the key index.
struct SenseReader {
    let db: Database
    let settings: NamespaceSettings
    let query: SenseQuery
    let now: Double
    /// traild's copy of each note's namespace, state, key and rank (nil: SQL alone).
    let mirror: NoteKeyMirror?
    /// How many notes the query's words match, up to `lookUpMatchesUpTo + 1` (counted on the first page).
    private var matches: Int?
    /// The candidates ranked from the mirror, best score first, when it could rank them (on the first page).
    private var mirrored: [(seq: Int64, score: Double)]?
    /// Which rows a sense by weight with tag filters walks (chosen on the first page).
    private var tagPlan: TagPlan?

    init(db: Database, settings: NamespaceSettings, query: SenseQuery, now: Double, mirror: NoteKeyMirror? = nil) {
        self.db = db
        self.settings = settings
        self.query = query
        self.now = now
        self.mirror = mirror
    }

    mutating func run() throws -> [ScoredNote] {
        var walk = SenseWalk(query)
        while let want = walk.nextPage {
            let rows = try query.words == nil ? pageByWeight(after: walk.cursor, count: want) : pageByScore(offset: walk.offset, count: want)
            walk.take(rows, asked: want, settings: settings, at: now)
        }
        return walk.taken
    }

    private var decay: ForwardDecay { settings.decay }

    /// The lowest key a returned note may have: the faded threshold and `min_weight`.
    private var floorKey: Double { SenseWalk.floorKey(query, settings: settings, at: now) }

    private func tagConditions(_ arguments: inout [SQLArgument]) -> String {
        var sql = ""
        for tag in query.allTags {
            sql += " AND EXISTS (SELECT 1 FROM note_tag t WHERE t.ns = n.ns AND t.tag = ? AND t.note = n.seq)"
            arguments.append(.text(tag))
        }
        if !query.anyTags.isEmpty {
            let marks = query.anyTags.map { _ in "?" }.joined(separator: ", ")
            sql += " AND EXISTS (SELECT 1 FROM note_tag t WHERE t.ns = n.ns AND t.tag IN (\(marks)) AND t.note = n.seq)"
            arguments += query.anyTags.map { .text($0) }
        }
        return sql
    }

    /// What a sense by weight with tag filters walks. Walking the key index
    /// from the top and testing each note's tags stops early when the tags
    /// are common, but reads every live note when they are rare (over a
    /// millisecond for a tag that no note of 10,000 carries); the notes carrying a rare tag
    /// are read from `note_tag` instead and sorted, a cost in proportion to
    /// that tag's notes.
    private enum TagPlan {
        case keyIndex
        /// The notes carrying this tag of `tags` (the rarest).
        case notesOfTag(String)
        /// The notes carrying any tag of `any_tags`.
        case notesOfAnyTag
    }

    /// At most this many tagged notes are read through `note_tag`.
    static let taggedCandidates = 2000

    /// How many tagged notes make reading them through `note_tag` dearer
    /// than walking the key index. Reading them costs about one lookup each;
    /// the walk about `limit × notes / tagged` index entries; the two meet
    /// near `sqrt(limit × notes)` (the store's highest row number stands in
    /// for its notes). Counting the tagged notes up to this bound is cheap
    /// for a common tag too.
    private func taggedBound() throws -> Int {
        let notes = try db.int(sql: "SELECT max(seq) FROM note") ?? 0
        return min(Self.taggedCandidates, max(64, Int(Double(query.limit * notes).squareRoot())))
    }

    /// `note_tag` rows of `tags` in the namespace, counted up to `bound + 1`.
    private func countTagged(_ tags: [String], bound: Int) throws -> Int {
        let marks = tags.map { _ in "?" }.joined(separator: ", ")
        var count = 0
        try db.forEachRow(sql: "SELECT count(*) FROM (SELECT 1 FROM note_tag WHERE ns = ? AND tag IN (\(marks)) LIMIT ?)",
                          binding: [.text(settings.name)] + tags.map { .text($0) } + [.int(Int64(bound + 1))]) {
            count = Int(RawColumn.int64($0, 0))
        }
        return count
    }

    private func chooseTagPlan() throws -> TagPlan {
        let bound = try taggedBound()
        var best: (plan: TagPlan, rows: Int) = (.keyIndex, bound + 1)
        for tag in query.allTags {
            let rows = try countTagged([tag], bound: bound)
            if rows < best.rows { best = (.notesOfTag(tag), rows) }
        }
        if !query.anyTags.isEmpty {
            let rows = try countTagged(query.anyTags, bound: bound)
            if rows < best.rows { best = (.notesOfAnyTag, rows) }
        }
        return best.plan
    }

    private mutating func pageByWeight(after cursor: (key: Double, id: String)?, count: Int) throws -> [(NoteRow, Double)] {
        let plan: TagPlan
        if query.allTags.isEmpty && query.anyTags.isEmpty {
            plan = .keyIndex
        } else if let chosen = tagPlan {
            plan = chosen
        } else {
            plan = try chooseTagPlan()
            tagPlan = plan
        }
        var arguments: [SQLArgument] = []
        var sql: String
        switch plan {
        case .keyIndex:
            sql = "SELECT \(noteColumns) FROM note n INDEXED BY note_by_key WHERE n.ns = ? AND n.state = 0 AND n.key >= ?"
        case let .notesOfTag(tag):
            sql = "SELECT \(noteColumns) FROM note_tag d CROSS JOIN note n ON n.seq = d.note"
                + " WHERE d.ns = ? AND d.tag = ? AND n.ns = ? AND n.state = 0 AND n.key >= ?"
            arguments += [.text(settings.name), .text(tag)]
        case .notesOfAnyTag:
            let marks = query.anyTags.map { _ in "?" }.joined(separator: ", ")
            sql = "SELECT \(noteColumns) FROM (SELECT DISTINCT note FROM note_tag WHERE ns = ? AND tag IN (\(marks))) d"
                + " CROSS JOIN note n ON n.seq = d.note WHERE n.ns = ? AND n.state = 0 AND n.key >= ?"
            arguments.append(.text(settings.name))
            arguments += query.anyTags.map { .text($0) }
        }
        arguments += [.text(settings.name), .double(floorKey)]
        if let c = cursor {
            sql += " AND (n.key < ? OR (n.key = ? AND n.id > ?))"
            arguments += [.double(c.key), .double(c.key), .text(c.id)]
        }
        sql += tagConditions(&arguments)
        sql += " ORDER BY n.key DESC, n.id ASC LIMIT ?"
        arguments.append(.int(Int64(count)))
        var rows: [(NoteRow, Double)] = []
        rows.reserveCapacity(count)
        try db.forEachRow(sql: sql, binding: arguments) { s in
            let note = NoteRow(columns: s)
            rows.append((note, decay.weight(key: note.key, at: now)))
        }
        return rows
    }

    /// Up to this many matches are scored exactly (BM25 for each). A query
    /// that matches more notes of the store is made of common words: its
    /// candidates are then the heaviest matching notes, with relevance 0 (the
    /// words say little), because ranking every match by BM25 costs
    /// time in proportion to the matches.
    static let candidates = 2000

    /// The words, in the body column. The namespace is not part of the
    /// match: "ns : NS AND ..." reads the namespace's whole posting list
    /// (every note of it) for each search, 3 ms at 100k notes, while the
    /// join on the note row filters the namespace for the cost of the
    /// matches alone.
    private var match: String {
        let words = (query.words ?? []).map { "\"\($0)\"" }.joined(separator: " OR ")
        return "body : (\(words))"
    }

    /// Past this many matches, the heaviest matching notes are found by
    /// walking the key index from the top (matches are dense enough that
    /// the walk is short); up to it, by looking up each match's key, which
    /// costs a lookup per match where the walk would cost about
    /// `candidates × live notes / matches` index entries (500,000 for a
    /// word in 0.4 % of 1M notes).
    static let lookUpMatchesUpTo = 50_000

    /// How many notes the query matches, counted up to `lookUpMatchesUpTo + 1`.
    private func countMatches() throws -> Int {
        var count = 0
        try db.forEachRow(sql: "SELECT count(*) FROM (SELECT rowid FROM note_text WHERE note_text MATCH ? LIMIT ?)",
                          binding: [.text(match), .int(Int64(Self.lookUpMatchesUpTo + 1))]) { count = Int(RawColumn.int64($0, 0)) }
        return count
    }

    /// Counts the matches and, when there are more than `candidates` and up
    /// to `lookUpMatchesUpTo` and the mirror is at this read's snapshot, ranks
    /// them from it: the posting list is all that is read from the store,
    /// instead of a key lookup for every match.
    private mutating func countAndRank() throws {
        guard let mirror, query.allTags.isEmpty, query.anyTags.isEmpty else {
            matches = try countMatches()
            return
        }
        var seqs: [Int64] = []
        try db.forEachRow(sql: "SELECT rowid FROM note_text WHERE note_text MATCH ? LIMIT ?",
                          binding: [.text(match), .int(Int64(Self.lookUpMatchesUpTo + 1))]) { seqs.append(RawColumn.int64($0, 0)) }
        matches = seqs.count
        guard seqs.count > Self.candidates, seqs.count <= Self.lookUpMatchesUpTo else { return }
        mirrored = mirror.heaviest(seqs, epoch: try NoteKeyMirror.epoch(db), ns: settings.name, floorKey: floorKey,
                                   count: Self.candidates, offset: decay.offset(at: now))
    }

    /// `pageOfCandidates` over the mirror's ranking: the rows of the
    /// candidates scoring at least the page's last score (ties included),
    /// ordered by score, then id.
    private func page(of ranked: [(seq: Int64, score: Double)], offset: Int, count: Int) throws -> [(NoteRow, Double)] {
        let cut = offset + count <= ranked.count ? ranked[offset + count - 1].score : -1.0
        let chosen = ranked.prefix { $0.score >= cut }
        guard chosen.count > offset else { return [] }
        var score: [Int64: Double] = [:]
        score.reserveCapacity(chosen.count)
        for c in chosen { score[c.seq] = c.score }
        var rows: [(NoteRow, Double)] = []
        rows.reserveCapacity(chosen.count)
        try db.forEachRow(sql: "SELECT \(noteColumns) FROM note n WHERE n.seq IN (SELECT value FROM json_each(?))",
                          binding: [.text(jsonArray(chosen.map(\.seq)))]) { s in
            let row = NoteRow(columns: s)
            rows.append((row, score[row.seq] ?? 0))
        }
        rows.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.id < $1.0.id }
        return Array(rows.dropFirst(offset).prefix(count))
    }

    private mutating func pageByScore(offset: Int, count: Int) throws -> [(NoteRow, Double)] {
        if matches == nil { try countAndRank() }
        if let mirrored { return try page(of: mirrored, offset: offset, count: count) }
        let matched = matches ?? 0
        var arguments: [SQLArgument]
        var sql: String
        if matched > Self.candidates && matched <= Self.lookUpMatchesUpTo {
            // The candidates and their scores from note_match_key alone; whole rows only for the page.
            arguments = [.double(decay.offset(at: now)), .text(match), .text(settings.name), .double(floorKey)]
            sql = """
                WITH c AS (
                    SELECT n.seq, pow(2.0, n.key - ?) * (1.0 + coalesce(n.rank, 0.0)) AS score
                    FROM (SELECT rowid AS seq FROM note_text WHERE note_text MATCH ?) t
                    CROSS JOIN note n INDEXED BY note_match_key ON n.seq = t.seq
                    WHERE n.ns = ? AND n.state = 0 AND n.key >= ?
                """
            sql += tagConditions(&arguments)
            sql += " ORDER BY n.key DESC LIMIT ?)"
            arguments.append(.int(Int64(Self.candidates)))
            sql += Self.pageOfCandidates(&arguments, offset: offset, count: count)
        } else if matched > Self.candidates {
            arguments = [.double(decay.offset(at: now)), .text(settings.name), .double(floorKey), .text(match)]
            sql = """
                SELECT \(noteColumns), pow(2.0, n.key - ?) * (1.0 + coalesce(n.rank, 0.0)) AS score
                FROM (SELECT n.seq FROM note n INDEXED BY note_by_key
                      WHERE n.ns = ? AND n.state = 0 AND n.key >= ?
                        AND n.seq IN (SELECT rowid FROM note_text WHERE note_text MATCH ?)
                """
            sql += tagConditions(&arguments)
            sql += " ORDER BY n.key DESC LIMIT ?) c JOIN note n ON n.seq = c.seq"
            arguments.append(.int(Int64(Self.candidates)))
            sql += " ORDER BY score DESC, n.id ASC LIMIT ? OFFSET ?"
            arguments += [.int(Int64(count)), .int(Int64(offset))]
        } else {
            arguments = [.double(decay.offset(at: now)), .text(match), .text(settings.name), .double(floorKey)]
            // CROSS JOIN keeps the matches outside: the planner would
            // otherwise walk every live note of the key index and ask the
            // full-text index about each one.
            sql = """
                WITH c AS (
                    SELECT n.seq, pow(2.0, n.key - ?) * (1.0 + max(0.0, -t.bm)) * (1.0 + coalesce(n.rank, 0.0)) AS score
                    FROM (SELECT rowid AS seq, rank AS bm FROM note_text WHERE note_text MATCH ?) t
                    CROSS JOIN note n INDEXED BY note_match_key ON n.seq = t.seq
                    WHERE n.ns = ? AND n.state = 0 AND n.key >= ?
                """
            sql += tagConditions(&arguments)
            sql += ")"
            sql += Self.pageOfCandidates(&arguments, offset: offset, count: count)
        }
        var rows: [(NoteRow, Double)] = []
        try db.forEachRow(sql: sql, binding: arguments) { s in
            rows.append((NoteRow(columns: s), RawColumn.double(s, 15)))
        }
        return rows
    }

    /// The page `offset..<offset+count` of the candidates `c` (seq, score) in
    /// score order, ties by id: only the notes scoring at least the page's
    /// last score are read whole (every note tied with it too, so the id
    /// order of a tie is exact), not every candidate's row.
    private static func pageOfCandidates(_ arguments: inout [SQLArgument], offset: Int, count: Int) -> String {
        arguments += [.int(Int64(offset + count - 1)), .int(Int64(count)), .int(Int64(offset))]
        return """
             , cut AS (SELECT score FROM c ORDER BY score DESC LIMIT 1 OFFSET ?)
            SELECT \(noteColumns), c.score AS score FROM c CROSS JOIN note n ON n.seq = c.seq
            WHERE c.score >= coalesce((SELECT score FROM cut), -1.0)
            ORDER BY score DESC, n.id ASC LIMIT ? OFFSET ?
            """
    }
}
