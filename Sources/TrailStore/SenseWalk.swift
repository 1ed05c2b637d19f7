import TrailCore

/// How `sense` walks a ranking, written once for every engine: page by page
/// in score order, taking each note whose body still fits in what remains
/// of `budget_bytes`, until `limit` notes are taken or the ranking ends.
///
/// An engine asks for pages while `nextPage` gives a size, reads that many
/// rows after `cursor` (by weight) or from `offset` (by score), and hands
/// them to `take`.
public struct SenseWalk {
    public private(set) var taken: [ScoredNote] = []
    /// The last row of the previous page, for keyset paging by weight.
    public private(set) var cursor: (key: Double, id: String)?
    /// Rows read so far, for offset paging by score.
    public private(set) var offset = 0
    private let limit: Int
    private var budget: Int?
    private var ended = false

    /// Rows read per page when a budget may skip some.
    public static let page = 256

    public init(_ query: SenseQuery) {
        limit = query.limit
        budget = query.budgetBytes
    }

    /// The lowest key a returned note may have: the faded threshold (unless
    /// `include_faded`) and `min_weight`.
    public static func floorKey(_ query: SenseQuery, settings: NamespaceSettings, at now: Double) -> Double {
        let decay = settings.decay
        var floor = query.includeFaded ? -Double.greatestFiniteMagnitude : decay.thresholdKey(settings.evaporateBelow, at: now)
        if let m = query.minWeight { floor = max(floor, decay.thresholdKey(m, at: now)) }
        return floor
    }

    /// How many rows to read next, or nil when the walk is done. Without a
    /// budget every row of a page is taken, so it asks for no more than needed.
    public var nextPage: Int? {
        if ended || taken.count >= limit { return nil }
        if let b = budget, b <= 0 { return nil }
        return budget == nil ? limit - taken.count : Self.page
    }

    /// Takes what fits of a page of `asked` rows (`row`, score).
    public mutating func take(_ rows: [(NoteRow, Double)], asked: Int, settings: NamespaceSettings, at now: Double) {
        for (row, score) in rows {
            let size = row.body.utf8.count
            if let b = budget {
                guard size <= b else { continue }
                budget = b - size
            }
            taken.append(ScoredNote(note: row.note(ns: settings, at: now), score: score))
            if taken.count == limit { break }
        }
        offset += rows.count
        if rows.count < asked { ended = true }
        if let last = rows.last { cursor = (last.0.key, last.0.id) }
    }
}
