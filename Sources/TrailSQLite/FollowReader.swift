import GRDB
import TrailCore
import TrailStore

/// Answers `follow` inside one read transaction: the trails out of (and/or
/// into) a note, strongest first or drawn by `ExploreOrder`.
struct FollowReader {
    let db: Database
    let settings: NamespaceSettings
    let query: FollowQuery
    let now: Double

    func run() throws -> FollowResult {
        let located = try SQLiteWrites.locate(db, query.from, ns: query.ns)
        guard case let .hot(origin) = located else {
            // An archived note's trails are in its pack; revive it to walk them.
            return FollowResult(from: NoteID(trustedHex: located.id), steps: [])
        }
        var found: [FoundTrail] = []
        if query.direction != .backward { found += try trails(of: origin.seq, forward: true) }
        if query.direction != .forward { found += try trails(of: origin.seq, forward: false) }
        return FollowResult(from: NoteID(trustedHex: origin.id), steps: FollowOrder.steps(found, query: query, settings: settings, at: now))
    }

    private func trails(of seq: Int64, forward: Bool) throws -> [FoundTrail] {
        let floor = FollowOrder.floorKey(query, settings: settings, at: now)
        let (near, far) = forward ? ("src", "dst") : ("dst", "src")
        let direction: TrailDirection = forward ? .forward : .backward
        var found: [FoundTrail] = []
        try db.forEachRow(sql: """
            SELECT \(noteColumns), e.key FROM edge e JOIN note n ON n.seq = e.\(far)
            WHERE e.\(near) = ? AND e.key > -1e300 AND n.state = 0 AND n.key >= ?
            ORDER BY e.key DESC LIMIT ?
            """, binding: [.int(seq), .double(floor), .int(Int64(FollowOrder.candidates))]) { s in
            found.append(FoundTrail(row: NoteRow(columns: s), edgeKey: RawColumn.double(s, 15), direction: direction))
        }
        return found
    }
}
