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

    /// Trails considered per direction: the strongest this many. Bounds the
    /// work on a note with a huge fan-out; `explore` draws among them.
    static let candidates = 1000

    func run() throws -> FollowResult {
        let located = try SQLiteWrites.locate(db, query.from, ns: query.ns)
        guard case let .hot(origin) = located else {
            // An archived note's trails are in its pack; revive it to walk them.
            return FollowResult(from: NoteID(trustedHex: located.id), steps: [])
        }
        var found: [(row: NoteRow, edgeKey: Double, direction: TrailDirection)] = []
        if query.direction != .backward { found += try trails(of: origin.seq, forward: true) }
        if query.direction != .forward { found += try trails(of: origin.seq, forward: false) }
        let decay = settings.decay
        let weights = found.map { decay.weight(key: $0.edgeKey, at: now) }
        // Strongest first, ties by the other end's id, so the order is total.
        let strongest = found.indices.sorted {
            weights[$0] > weights[$1] || (weights[$0] == weights[$1] && found[$0].row.id < found[$1].row.id)
        }
        let order = query.explore > 0
            ? ExploreOrder.order(weights: strongest.map { weights[$0] }, explore: query.explore, seed: query.seed).map { strongest[$0] }
            : strongest
        let steps = order.prefix(query.limit).map { i in
            TrailStep(to: NoteID(trustedHex: found[i].row.id), weight: weights[i], direction: found[i].direction,
                      note: found[i].row.note(ns: settings, at: now))
        }
        return FollowResult(from: NoteID(trustedHex: origin.id), steps: steps)
    }

    private func trails(of seq: Int64, forward: Bool) throws -> [(row: NoteRow, edgeKey: Double, direction: TrailDirection)] {
        let floor = query.includeFaded ? -Double.greatestFiniteMagnitude : settings.decay.thresholdKey(settings.evaporateBelow, at: now)
        let (near, far) = forward ? ("src", "dst") : ("dst", "src")
        let direction: TrailDirection = forward ? .forward : .backward
        var found: [(row: NoteRow, edgeKey: Double, direction: TrailDirection)] = []
        try db.forEachRow(sql: """
            SELECT \(noteColumns), e.key FROM edge e JOIN note n ON n.seq = e.\(far)
            WHERE e.\(near) = ? AND e.key > -1e300 AND n.state = 0 AND n.key >= ?
            ORDER BY e.key DESC LIMIT ?
            """, binding: [.int(seq), .double(floor), .int(Int64(Self.candidates))]) { s in
            found.append((NoteRow(columns: s), RawColumn.double(s, 15), direction))
        }
        return found
    }
}
