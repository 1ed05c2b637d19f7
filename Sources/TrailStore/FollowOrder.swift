import TrailCore

/// A trail a `follow` found: the note at its other end, the trail's key and
/// which way it runs.
public struct FoundTrail {
    public var row: NoteRow
    public var edgeKey: Double
    public var direction: TrailDirection
    public init(row: NoteRow, edgeKey: Double, direction: TrailDirection) {
        self.row = row
        self.edgeKey = edgeKey
        self.direction = direction
    }
}

/// How `follow` orders what it found, written once for every engine:
/// strongest first (ties by the other end's id, so the order is total), or
/// drawn by `ExploreOrder` when `explore` is above 0; then `limit` of them.
public enum FollowOrder {
    /// Trails considered per direction: the strongest this many. Bounds the
    /// work on a note with a huge fan-out; `explore` draws among them.
    public static let candidates = 1000

    public static func steps(_ found: [FoundTrail], query: FollowQuery, settings: NamespaceSettings, at now: Double) -> [TrailStep] {
        let decay = settings.decay
        let weights = found.map { decay.weight(key: $0.edgeKey, at: now) }
        let strongest = found.indices.sorted {
            weights[$0] > weights[$1] || (weights[$0] == weights[$1] && found[$0].row.id < found[$1].row.id)
        }
        let order = query.explore > 0
            ? ExploreOrder.order(weights: strongest.map { weights[$0] }, explore: query.explore, seed: query.seed).map { strongest[$0] }
            : strongest
        return order.prefix(query.limit).map { i in
            TrailStep(to: NoteID(trustedHex: found[i].row.id), weight: weights[i], direction: found[i].direction,
                      note: found[i].row.note(ns: settings, at: now))
        }
    }

    /// The lowest key a note at the other end may have: live unless `include_faded`.
    public static func floorKey(_ query: FollowQuery, settings: NamespaceSettings, at now: Double) -> Double {
        query.includeFaded ? -Double.greatestFiniteMagnitude : settings.decay.thresholdKey(settings.evaporateBelow, at: now)
    }
}
