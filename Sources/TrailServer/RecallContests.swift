import Foundation
import Synchronization
import TrailCore
import TrailEmbedding
import TrailStore

/// Each namespace's `contest_similarity`, as contest detection last read
/// it: read again when more than a second old (another daemon on the
/// database may change it), replaced at once by this daemon's `configure`.
final class ContestThresholds: Sendable {
    private let cached = Mutex<[String: (value: Double, readAt: Double)]>([:])
    /// Seconds a value read from the store is used for.
    static let maxAge = 1.0

    /// The value of `ns` if read less than `maxAge` before `now`.
    func value(ns: String, at now: Double) -> Double? {
        cached.withLock { c in c[ns].flatMap { now - $0.readAt < Self.maxAge ? $0.value : nil } }
    }

    func keep(_ value: Double, ns: String, at now: Double = ProcessInfo.processInfo.systemUptime) {
        cached.withLock { $0[ns] = (value, now) }
    }
}

/// Finding contested notes (contract §8): two live notes of a namespace at
/// least its `contest_similarity` close that disagree on a decisive token
/// (`DecisiveTokens`).
///
/// A note is compared when its vector enters this daemon's index: one that
/// was embedded here, or one whose vector another daemon stored, so that
/// two notes deposited through two daemons at once still meet (on the
/// daemon that learns of the second; recording a pair twice is a no-op).
/// The pairs of notes embedded here are recorded in the transaction that
/// stores their vectors, before the vectors enter the index: a note that
/// `trail.stats` counts as embedded has its contests recorded.
extension Recall {
    /// A note whose contests are looked for: its handle, id and vector.
    typealias ContestEntry = (handle: Int64, id: NoteID, vector: [Float])

    /// Notes a new note is compared with for contests: its nearest.
    static let contestCandidates = 16

    /// `contest_similarity` of `ns` (nil when the namespace is not there).
    func contestSimilarity(ns: String) async throws(TrailError) -> Double? {
        let now = ProcessInfo.processInfo.systemUptime
        if let known = contestThresholds.value(ns: ns, at: now) { return known }
        guard let settings = try await store.settings(ns: ns) else { return nil }
        contestThresholds.keep(settings.contestSimilarity, ns: ns, at: now)
        return settings.contestSimilarity
    }

    /// The contests of `entries` (notes of `ns`) with the notes near them
    /// in the index and, unless `inIndex`, with each other (the notes of a
    /// batch are not in the index yet). Nothing is written.
    ///
    /// Costs a nearest search in memory per note; the namespace's settings
    /// (at most once a second) and one read of the candidates' bodies and
    /// vectors only when some candidate is near enough.
    ///
    /// `inIndex`: the entries are in the index already (vectors other
    /// daemons stored, up to a page of 10,000): each search finds the others,
    /// and comparing every pair of the batch directly would cost n² cosines.
    func contests(ns: String, of entries: [ContestEntry], inIndex: Bool = false) async throws(TrailError) -> NamespaceContests {
        let none = NamespaceContests(ns: ns, pairs: [])
        guard !entries.isEmpty else { return none }
        var found: [Int64: [(handle: Int64, similarity: Double)]] = [:]
        for e in entries {
            var near = index.nearest(ns: ns, to: e.vector, k: index.candidates(for: Self.contestCandidates))
                .filter { $0.handle != e.handle }.map { (handle: $0.handle, similarity: Double($0.similarity)) }
            if !inIndex {
                let searched = Set(near.map(\.handle))
                near += entries.filter { $0.handle != e.handle && !searched.contains($0.handle) }
                    .map { (handle: $0.handle, similarity: Self.cosine(e.vector, $0.vector)) }
            }
            found[e.handle] = near
        }
        guard found.values.contains(where: { !$0.isEmpty }), let threshold = try await contestSimilarity(ns: ns) else { return none }
        var near: [Int64: [Int64]] = [:]
        var handles = Set<Int64>()
        let floor = threshold - Double(index.codeSlack)
        for (handle, candidates) in found {
            let close = candidates.filter { $0.similarity >= floor }.map(\.handle)
            guard !close.isEmpty else { continue }
            near[handle] = close
            handles.insert(handle)
            handles.formUnion(close)
        }
        guard !near.isEmpty else { return none }
        let rows = try await store.meaningRows(ns: ns, .handles(Array(handles)), model: model)
        let byHandle = Dictionary(rows.map { ($0.handle, $0) }, uniquingKeysWith: { a, _ in a })
        var tokens: [Int64: DecisiveTokens] = [:]
        func tokensOf(_ row: MeaningRow) -> DecisiveTokens {
            if let t = tokens[row.handle] { return t }
            let t = DecisiveTokens(row.note.body)
            tokens[row.handle] = t
            return t
        }
        // The notes of the batch have no stored vector yet: theirs are given.
        let given = Dictionary(entries.map { ($0.handle, $0.vector) }, uniquingKeysWith: { a, _ in a })
        var pairs = Set<ContestPair>()
        for e in entries {
            guard let close = near[e.handle], let mine = byHandle[e.handle] else { continue }
            for h in close {
                guard let other = byHandle[h], let v = given[h] ?? other.vector, v.count == e.vector.count else { continue }
                let similarity = Self.cosine(e.vector, v)
                if similarity >= threshold, tokensOf(mine).disagrees(with: tokensOf(other)) {
                    pairs.insert(ContestPair(e.handle, h, similarity: similarity))
                }
            }
        }
        return NamespaceContests(ns: ns, pairs: Array(pairs))
    }

    /// The contests of a note just deposited with `merge_similar` (its
    /// handle and decisive tokens) among the live notes `near` it, read
    /// with their vectors before the deposit.
    func contestPairs(ns: String, handle: Int64, tokens: DecisiveTokens, near: [NearNote]) async throws(TrailError) -> [ContestPair] {
        guard !near.isEmpty, let threshold = try await contestSimilarity(ns: ns) else { return [] }
        return near.filter { $0.handle != handle && $0.similarity >= threshold && tokens.disagrees(with: DecisiveTokens($0.note.body)) }
            .map { ContestPair(handle, $0.handle, similarity: $0.similarity) }
    }
}
