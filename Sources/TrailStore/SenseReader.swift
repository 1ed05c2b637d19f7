import GRDB
import GRDBSQLite
import TrailCore

/// Answers `sense` inside one read transaction.
///
/// Without words the ranking is the key index itself: `ORDER BY key DESC, id`
/// on `note_by_key`, read page by page (keyset paging) only as far as the
/// limit and the byte budget need. With words, FTS5 finds the matches and
/// SQLite orders them by `weight * (1 + relevance) * (1 + rank)`.
struct SenseReader {
    let db: Database
    let settings: NamespaceSettings
    let query: SenseQuery
    let now: Double
    /// Whether the query's words match more notes than are scored exactly (found on the first page).
    private var matches: Int?

    init(db: Database, settings: NamespaceSettings, query: SenseQuery, now: Double) {
        self.db = db
        self.settings = settings
        self.query = query
        self.now = now
    }

    private static let page = 256

    mutating func run() throws -> [ScoredNote] {
        var taken: [ScoredNote] = []
        var budget = query.budgetBytes
        var cursor: (key: Double, id: String)?
        var offset = 0
        while taken.count < query.limit {
            if let b = budget, b <= 0 { break }
            // Without a budget every row of the page is taken, so ask for no more than needed.
            let want = budget == nil ? query.limit - taken.count : Self.page
            let rows = try query.words == nil ? pageByWeight(after: cursor, count: want) : pageByScore(offset: offset, count: want)
            for (row, score) in rows {
                let size = row.body.utf8.count
                if let b = budget {
                    guard size <= b else { continue }
                    budget = b - size
                }
                taken.append(ScoredNote(note: row.note(ns: settings, at: now), score: score))
                if taken.count == query.limit { break }
            }
            guard rows.count == want, let last = rows.last else { break }
            cursor = (last.0.key, last.0.id)
            offset += rows.count
        }
        return taken
    }

    private var decay: ForwardDecay { settings.decay }

    /// The lowest key a returned note may have: the faded threshold and `min_weight`.
    private var floorKey: Double {
        var floor = query.includeFaded ? -Double.greatestFiniteMagnitude : decay.thresholdKey(settings.evaporateBelow, at: now)
        if let m = query.minWeight { floor = max(floor, decay.thresholdKey(m, at: now)) }
        return floor
    }

    private func tagConditions(_ arguments: inout StatementArguments) -> String {
        var sql = ""
        for tag in query.allTags {
            sql += " AND EXISTS (SELECT 1 FROM note_tag t WHERE t.ns = n.ns AND t.tag = ? AND t.note = n.seq)"
            arguments += [tag]
        }
        if !query.anyTags.isEmpty {
            let marks = query.anyTags.map { _ in "?" }.joined(separator: ", ")
            sql += " AND EXISTS (SELECT 1 FROM note_tag t WHERE t.ns = n.ns AND t.tag IN (\(marks)) AND t.note = n.seq)"
            arguments += StatementArguments(query.anyTags)
        }
        return sql
    }

    private func pageByWeight(after cursor: (key: Double, id: String)?, count: Int) throws -> [(NoteRow, Double)] {
        var arguments: StatementArguments = [settings.name, floorKey]
        var sql = "SELECT \(noteColumns) FROM note n INDEXED BY note_by_key WHERE n.ns = ? AND n.state = 0 AND n.key >= ?"
        if let c = cursor {
            sql += " AND (n.key < ? OR (n.key = ? AND n.id > ?))"
            arguments += [c.key, c.key, c.id]
        }
        sql += tagConditions(&arguments)
        sql += " ORDER BY n.key DESC, n.id ASC LIMIT ?"
        arguments += [count]
        var rows: [(NoteRow, Double)] = []
        rows.reserveCapacity(count)
        try db.forEachRow(sql: sql, arguments: arguments) { s in
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
        try db.int(sql: "SELECT count(*) FROM (SELECT rowid FROM note_text WHERE note_text MATCH ? LIMIT ?)",
                   arguments: [match, Self.lookUpMatchesUpTo + 1]) ?? 0
    }

    private mutating func pageByScore(offset: Int, count: Int) throws -> [(NoteRow, Double)] {
        if matches == nil { matches = try countMatches() }
        let matched = matches ?? 0
        var arguments: StatementArguments
        var sql: String
        if matched > Self.candidates && matched <= Self.lookUpMatchesUpTo {
            arguments = [decay.offset(at: now), match, settings.name, floorKey]
            sql = """
                SELECT \(noteColumns), pow(2.0, n.key - ?) * (1.0 + coalesce(n.rank, 0.0)) AS score
                FROM (SELECT n.seq FROM (SELECT rowid AS seq FROM note_text WHERE note_text MATCH ?) t
                      CROSS JOIN note n ON n.seq = t.seq
                      WHERE n.ns = ? AND n.state = 0 AND n.key >= ?
                """
            sql += tagConditions(&arguments)
            sql += " ORDER BY n.key DESC LIMIT ?) c JOIN note n ON n.seq = c.seq"
            arguments += [Self.candidates]
        } else if matched > Self.candidates {
            arguments = [decay.offset(at: now), settings.name, floorKey, match]
            sql = """
                SELECT \(noteColumns), pow(2.0, n.key - ?) * (1.0 + coalesce(n.rank, 0.0)) AS score
                FROM (SELECT n.seq FROM note n INDEXED BY note_by_key
                      WHERE n.ns = ? AND n.state = 0 AND n.key >= ?
                        AND n.seq IN (SELECT rowid FROM note_text WHERE note_text MATCH ?)
                """
            sql += tagConditions(&arguments)
            sql += " ORDER BY n.key DESC LIMIT ?) c JOIN note n ON n.seq = c.seq"
            arguments += [Self.candidates]
        } else {
            arguments = [decay.offset(at: now), match, settings.name, floorKey]
            // CROSS JOIN keeps the matches outside: the planner would
            // otherwise walk every live note of the key index and ask the
            // full-text index about each one.
            sql = """
                SELECT \(noteColumns),
                       pow(2.0, n.key - ?) * (1.0 + max(0.0, -t.bm)) * (1.0 + coalesce(n.rank, 0.0)) AS score
                FROM (SELECT rowid AS seq, rank AS bm FROM note_text WHERE note_text MATCH ?) t
                CROSS JOIN note n ON n.seq = t.seq
                WHERE n.ns = ? AND n.state = 0 AND n.key >= ?
                """
            sql += tagConditions(&arguments)
        }
        sql += " ORDER BY score DESC, n.id ASC LIMIT ? OFFSET ?"
        arguments += [count, offset]
        var rows: [(NoteRow, Double)] = []
        try db.forEachRow(sql: sql, arguments: arguments) { s in
            rows.append((NoteRow(columns: s), RawColumn.double(s, 15)))
        }
        return rows
    }
}
