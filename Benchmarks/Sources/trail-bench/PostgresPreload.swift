import Foundation
import PostgresNIO
import TrailCore
import TrailPostgres

/// Loads a data set into a traild PostgreSQL database in the rows the
/// engine's `trail.import` writes (`PostgresWrites.restore`), thousands of
/// notes per statement: through the daemon an import costs several round
/// trips per note (about 8: look-up, insert, tags, one per trail), 100k notes
/// minutes; here a chunk is two statements. `check` holds these rows to
/// the engine's own.
///
/// What the engine writes for an imported live note: `note` (ns, id, the
/// body's UTF-8 bytes, `words` = `to_tsvector('english', search text)`,
/// tags, after, key = `ForwardDecay.key(weight, at: now)` at the database's
/// clock, state 0, deposits, agent, rank, the record's times), a `note_tag`
/// row per tag, an `edge` per trail (key at `now`, created and updated at
/// `now`), and an `import` write-log row at `now`. Bodies here are ASCII,
/// so the engine's search text (`SearchText.of`: diacritics folded, U+0000
/// as a space) is the body itself.
struct PostgresPreload {
    let link: PostgresLink
    /// Names the loader in the write log's `daemon` column.
    static let daemon = "trail-bench:preload"

    /// The namespace's settings, making it as the engine does
    /// (`WriteTransaction.namespace`: the defaults, landmark now) if new.
    func namespace(_ ns: String) async throws -> NamespaceSettings {
        let now = try await clock()
        let defaults = NamespaceSettings(name: ns, landmark: now)
        try await link.rows("""
            INSERT INTO namespace (name, half_life_s, evaporate_below, max_note_bytes, landmark, created_at)
            VALUES (\(ns), \(defaults.halfLife), \(defaults.evaporateBelow), \(Int64(defaults.maxNoteBytes)), \(now), \(Timestamp.millis(now)))
            ON CONFLICT (name) DO NOTHING
            """)
        let row = try await link.rows("SELECT half_life_s, evaporate_below, max_note_bytes, landmark FROM namespace WHERE name = \(ns)")[0]
        return NamespaceSettings(name: ns, halfLife: try row[0].decode(Double.self), evaporateBelow: try row[1].decode(Double.self),
                                 maxNoteBytes: Int(try row[2].decode(Int64.self)), landmark: try row[3].decode(Double.self))
    }

    private func clock() async throws -> Double {
        try await link.rows("SELECT extract(epoch FROM clock_timestamp())::float8")[0][0].decode(Double.self)
    }

    /// Loads notes `range` of `set` into `ns`, `chunk` notes per
    /// transaction, each note created and updated at `createdAt` (ms), as
    /// an import of records with those times does.
    func load(_ set: inout Dataset, range: Range<Int>, ns: String, chunk: Int, createdAt: Int64) async throws {
        let settings = try await namespace(ns)
        let decay = settings.decay
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(range.upperBound, i + chunk)
            let notes = (i..<end).map { set.note($0) }
            var ids: [String] = [], bodies: [String] = [], tags: [String] = [], weights: [Double] = []
            var sources: [String] = [], targets: [String] = [], trailWeights: [Double] = []
            for n in notes {
                precondition(n.body.utf8.allSatisfy { $0 < 0x80 }, "the preload's bodies are ASCII (the engine's search text is then the body)")
                let id = set.id(n.index)
                ids.append(id)
                bodies.append(n.body)
                tags.append(n.tag)
                weights.append(n.weight)
                for t in n.trails {
                    sources.append(id)
                    targets.append(set.id(t.to))
                    trailWeights.append(t.weight)
                }
            }
            try await link.run("BEGIN")
            do {
                let now = try await clock()
                let nowMillis = Timestamp.millis(now)
                let keys = weights.map { decay.key(weight: $0, at: now) }
                let edgeKeys = trailWeights.map { decay.key(weight: $0, at: now) }
                try await link.rows("""
                    WITH t AS (
                        SELECT * FROM unnest(\(ids)::text[], \(bodies)::text[], \(tags)::text[], \(keys)::float8[])
                            WITH ORDINALITY AS t(id, body, tags, key, i)
                    ), inserted AS (
                        INSERT INTO note (ns, id, body, words, tags, after, key, state, deposits, agent, rank, created_at, updated_at)
                        SELECT \(ns), t.id, convert_to(t.body, 'UTF8'), to_tsvector('english', t.body), t.tags, '', t.key, 0, 1,
                               NULL, NULL, \(createdAt), \(createdAt)
                        FROM t ORDER BY t.i
                        RETURNING seq, tags
                    ), tagged AS (
                        INSERT INTO note_tag (ns, tag, note)
                        SELECT \(ns), unnest(string_to_array(inserted.tags, ' ')), inserted.seq FROM inserted WHERE inserted.tags <> ''
                        ON CONFLICT DO NOTHING
                    )
                    INSERT INTO write_log (at, ns, op, note, daemon)
                    SELECT \(nowMillis), \(ns), 'import', inserted.seq, \(Self.daemon) FROM inserted ORDER BY inserted.seq
                    """)
                if !sources.isEmpty {
                    try await link.rows("""
                        INSERT INTO edge (src, dst, ns, key, created_at, updated_at)
                        SELECT s.seq, d.seq, \(ns), e.key, \(nowMillis), \(nowMillis)
                        FROM unnest(\(sources)::text[], \(targets)::text[], \(edgeKeys)::float8[]) AS e(src, dst, key)
                        JOIN note s ON s.ns = \(ns) AND s.id = e.src
                        JOIN note d ON d.ns = \(ns) AND d.id = e.dst
                        ON CONFLICT (src, dst) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at
                        """)
                }
                try await link.run("COMMIT")
            } catch {
                try? await link.run("ROLLBACK")
                throw error
            }
            i = end
        }
    }

    /// Holds the rows of namespace `mine` (loaded by `load`) to those of
    /// `engine` (the same notes imported through traild): every column of
    /// every note but seq and key (ids, bodies, words, tags, states, times),
    /// keys as weights at their write's instant (within 1e-6 of log2), the
    /// tags, the trails with their weights, one `import` log row per note,
    /// and the namespace's settings. Throws, naming what differs.
    func check(mine: String, engine: String, notes: Int) async throws {
        func differing(_ what: String, _ select: String) async throws {
            let sql = "SELECT count(*) FROM ((\(select.replacingOccurrences(of: "$NS", with: "$1")) EXCEPT \(select.replacingOccurrences(of: "$NS", with: "$2")))"
                + " UNION ALL (\(select.replacingOccurrences(of: "$NS", with: "$2")) EXCEPT \(select.replacingOccurrences(of: "$NS", with: "$1")))) d"
            var binds = PostgresBindings()
            binds.append(mine)
            binds.append(engine)
            let n = try await link.count(PostgresQuery(unsafeSQL: sql, binds: binds))
            guard n == 0 else { throw BenchFailure("the SQL preload differs from the engine's import in \(what): \(n) rows differ") }
        }
        try await differing("notes", """
            SELECT id, body, words, tags, after, state, deposits, agent, rank, created_at, updated_at,
                   retraction_reason, retraction_agent, retracted_at, block, archived_at FROM note WHERE ns = $NS
            """)
        try await differing("tags", "SELECT t.tag, n.id FROM note_tag t JOIN note n ON n.seq = t.note WHERE t.ns = $NS")
        try await differing("trails", "SELECT s.id, d.id FROM edge e JOIN note s ON s.seq = e.src JOIN note d ON d.seq = e.dst WHERE e.ns = $NS")
        try await differing("the namespace", "SELECT half_life_s, evaporate_below, max_note_bytes, dead_trails FROM namespace WHERE name = $NS")
        try await differing("the write log", """
            SELECT n.id, l.op, l.other, l.delta, l.detail, l.agent FROM write_log l JOIN note n ON n.seq = l.note WHERE l.ns = $NS
            """)
        // log2 of each weight at its write: key - (t - L)/h, t the write's instant (the log row's ms, the trail's created_at).
        let noteKeys: PostgresQuery = """
            SELECT count(*), coalesce(max(abs((a.key - (la.at / 1000.0 - na.landmark) / na.half_life_s)
                                            - (b.key - (lb.at / 1000.0 - nb.landmark) / nb.half_life_s))), 0)::float8
            FROM note a JOIN note b ON b.ns = \(engine) AND b.id = a.id
            JOIN write_log la ON la.note = a.seq AND la.op = 'import' JOIN write_log lb ON lb.note = b.seq AND lb.op = 'import'
            JOIN namespace na ON na.name = a.ns JOIN namespace nb ON nb.name = b.ns
            WHERE a.ns = \(mine)
            """
        let trailKeys: PostgresQuery = """
            SELECT count(*), coalesce(max(abs((ea.key - (ea.created_at / 1000.0 - na.landmark) / na.half_life_s)
                                            - (eb.key - (eb.created_at / 1000.0 - nb.landmark) / nb.half_life_s))), 0)::float8
            FROM edge ea JOIN note sa ON sa.seq = ea.src JOIN note da ON da.seq = ea.dst
            JOIN note sb ON sb.ns = \(engine) AND sb.id = sa.id JOIN note db ON db.ns = \(engine) AND db.id = da.id
            JOIN edge eb ON eb.src = sb.seq AND eb.dst = db.seq
            JOIN namespace na ON na.name = ea.ns JOIN namespace nb ON nb.name = eb.ns
            WHERE ea.ns = \(mine)
            """
        for (what, query) in [("note weights", noteKeys), ("trail weights", trailKeys)] {
            let row = try await link.rows(query)[0]
            let (count, gap) = (try row[0].decode(Int64.self), try row[1].decode(Double.self))
            guard count > 0, gap < 1e-6 else {
                throw BenchFailure("the SQL preload differs from the engine's import in \(what): \(count) compared, largest log2 gap \(gap)")
            }
        }
        let loaded = try await link.count("SELECT count(*) FROM note WHERE ns = \(mine)")
        guard loaded == notes else { throw BenchFailure("the SQL preload wrote \(loaded) notes, not \(notes)") }
    }
}
