import Foundation
import Logging
import Synchronization
import TrailCore
import TrailEmbedding
import TrailProtocol
import TrailStore

/// Recall by meaning inside the daemon (contract §8): the model, the
/// in-memory index of live notes' vectors, and what keeps the index in step
/// with the store (the `Indexer`, on threads of its own).
///
/// The index holds int8 codes (`VectorIndex`); the float vectors stay in
/// the store, which a search reads back for the notes it found (the exact
/// re-rank). An entry for a note that is no longer live costs memory only:
/// every search reads the notes it found from the store, which leaves out
/// what is retracted or archived.
final class Recall: Sendable {
    let encoder: SentenceEncoder
    let index: VectorIndex
    let store: any TrailStore
    let logger: Logger
    /// Per namespace: the first 64 bits of each indexed note's id, to its handle.
    private let known = Mutex<[String: [UInt64: Int64]]>([:])
    let work = IndexerWork()
    /// Merges by meaning run one at a time per namespace (see `merge`).
    private let mergeLanes = NamespaceLanes()
    /// The vectors of the questions (`similar`) and merged bodies embedded
    /// lately: a colony asks the same question many times.
    let recent = RecentVectors(capacity: Recall.recentVectors)
    /// Vectors `recent` holds at most (under 2.5 MiB with their texts at 384 dimensions).
    static let recentVectors = 1024
    /// Passes of the model for the texts requests ask (texts asked at once share one).
    let queue: EmbeddingQueue

    /// The model's name, as `trail.hello` and the store's vectors name it.
    var model: String { encoder.name }

    init(encoder: SentenceEncoder, store: any TrailStore, logger: Logger) {
        self.encoder = encoder
        self.store = store
        self.logger = logger
        index = VectorIndex(dimensions: encoder.dimensions)
        queue = EmbeddingQueue(encoder: encoder)
    }

    /// Loads the model in `directory`, or says why there is none (logged by
    /// the caller): traild then runs without recall by meaning.
    static func load(directory: String, store: any TrailStore, logger: Logger) -> Result<Recall, EmbeddingModelError> {
        do {
            return .success(Recall(encoder: try SentenceEncoder(directory: directory), store: store, logger: logger))
        } catch {
            return .failure(error)
        }
    }

    // MARK: the index and what it knows

    static func idKey(_ id: NoteID) -> UInt64 { UInt64(id.hex.prefix(16), radix: 16) ?? 0 }

    /// Adds (or replaces) a note's vector.
    func insert(ns: String, handle: Int64, id: NoteID, vector: [Float]) {
        insert(ns: ns, [(handle, id, vector)])
    }

    /// Adds many vectors of one namespace at once. A stored vector of
    /// another length (a damaged row) is left out, logged, and handed to the
    /// indexer to embed the note again.
    func insert(ns: String, _ given: [(handle: Int64, id: NoteID, vector: [Float])]) {
        let entries = given.filter { $0.vector.count == encoder.dimensions }
        let damaged = given.filter { $0.vector.count != encoder.dimensions }
        if !damaged.isEmpty {
            logger.error("left out stored vectors of the wrong length; their notes are embedded again", metadata: [
                "ns": "\(ns)", "notes": "\(damaged.map(\.id.hex).prefix(5))",
            ])
            for d in damaged { work.adopt(ns: ns, id: d.id) }
        }
        index.insert(ns: ns, entries.map { (handle: $0.handle, vector: $0.vector) })
        known.withLock { known in
            for e in entries { known[ns, default: [:]][Self.idKey(e.id)] = e.handle }
        }
    }

    /// Takes a note out of memory (its vector stays in the store).
    func remove(ns: String, id: NoteID) {
        guard let handle = known.withLock({ $0[ns]?.removeValue(forKey: Self.idKey(id)) }) else { return }
        index.remove(ns: ns, handle: handle)
    }

    func isIndexed(ns: String, id: NoteID) -> Bool {
        known.withLock { $0[ns]?[Self.idKey(id)] != nil }
    }

    /// What a committed write means for the index: new notes wake the
    /// indexer; a note live again (re-deposited from the archive, revived)
    /// that memory lacks is adopted; a retracted one leaves memory.
    func observe(_ outcome: WriteOutcome) {
        switch outcome {
        case .deposited(_, created: true): work.wake()
        case let .deposited(note, created: false), let .revived(note):
            if !isIndexed(ns: note.ns, id: note.id) { work.adopt(ns: note.ns, id: note.id) }
        case let .retracted(note): remove(ns: note.ns, id: note.id)
        default: break
        }
    }

    /// Evaporated notes leave memory.
    func evaporated(_ notes: [Note]) {
        for note in notes { remove(ns: note.ns, id: note.id) }
    }

    /// `embedding` of `trail.stats`: notes of `ns` in memory, and live ones
    /// (faded included) still to embed.
    func stats(ns: String, live: Int) -> JSONValue {
        let embedded = index.count(ns: ns)
        return .object(["model": .string(model), "embedded": .int(embedded), "pending": .int(max(0, live - embedded))])
    }

    /// `semantic` of `trail.hello`.
    var hello: JSONValue { .object(["model": .string(model), "dims": .int(encoder.dimensions)]) }

    /// The unit vector of `text`: from the vectors embedded lately, else
    /// from the next pass of the model (`EmbeddingQueue`: on NIO's blocking
    /// pool, never on an event loop; texts asked at once share a pass).
    func embed(_ text: String) async throws(TrailError) -> [Float] {
        if let known = recent.lookup(text) { return known }
        do {
            let vector = try await queue.embed(text)
            recent.keep(text, vector)
            return vector
        } catch let error as TrailError {
            throw error
        } catch {
            throw .internal("embedding failed: \(error)")
        }
    }

    // MARK: merge_similar

    /// A deposit with `merge_similar` (contract §8): its body is embedded,
    /// the nearest live note of another body found, and at or above the
    /// threshold the deposit lands on it; otherwise it is an ordinary deposit,
    /// whose vector is stored and indexed before the answer.
    ///
    /// A correction is never merged: when the nearest note at or above the
    /// threshold disagrees with the body on a decisive token
    /// (`DecisiveTokens`: "fix-3 resolved it" against "fix-5 resolved it",
    /// 0.99 apart), the body is deposited as its own note, after (linked
    /// from) every note at or above the threshold that it disagrees with, and
    /// those notes are the result's `contests`.
    ///
    /// The notes the deposit names in `after` are never merged into either:
    /// a deposit that names what it follows is a note of its own.
    ///
    /// Merges of a namespace run one at a time, each seeing every merge
    /// before it: two paraphrases deposited at once with `merge_similar`
    /// make one note (the first to arrive) and a merge into it.
    func merge(_ d: Deposit, threshold: Double, writer: Writer) async throws(TrailError) -> MergeOutcome {
        let vector = try await embed(d.body)
        return try await mergeLanes.run(ns: d.ns) { () async throws(TrailError) -> MergeOutcome in
            let candidates = index.nearest(ns: d.ns, to: vector, k: 16)
            let rows = candidates.isEmpty ? []
                : try await store.meaningRows(ns: d.ns, .handles(candidates.map(\.handle)), model: model)
            let near = rows.compactMap { row -> (note: Note, similarity: Double)? in
                guard row.note.id != d.id, row.note.state != .retracted, let v = row.vector, v.count == vector.count,
                      !d.after.contains(where: { row.note.id.hex.hasPrefix($0.hex) }) else { return nil }
                return (row.note, Self.cosine(vector, v))
            }.sorted { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.note.id < $1.note.id }
            let outcome: WriteOutcome
            var contests: [NoteID] = []
            if let best = near.first, best.similarity >= threshold {
                let tokens = DecisiveTokens(d.body)
                if tokens.disagrees(with: DecisiveTokens(best.note.body)) {
                    contests = near.filter { $0.similarity >= threshold && tokens.disagrees(with: DecisiveTokens($0.note.body)) }
                        .map(\.note.id)
                    var own = d
                    own.after += contests.prefix(max(0, Limits.maxAfter - d.after.count)).map(IDPrefix.init)
                    outcome = try await store.write(.deposit(own), by: writer)
                } else {
                    outcome = try await store.write(.merge(d, into: best.note.id, similarity: best.similarity), by: writer)
                }
            } else {
                outcome = try await store.write(.deposit(d), by: writer)
            }
            // The note written is found by meaning before the next merge looks.
            if case let .deposited(note, _) = outcome, !isIndexed(ns: note.ns, id: note.id),
               let row = try await store.meaningRows(ns: note.ns, .ids([note.id]), model: model).first {
                _ = try await store.write(.storeVectors(model: model, vectors: [VectorWrite(handle: row.handle, vector: vector)]),
                                          by: Writer(agent: "traild"))
                // Contests first: a note counted as embedded has its contests recorded.
                try await recordContests(ns: note.ns, of: [(handle: row.handle, id: note.id, vector: vector)])
                insert(ns: note.ns, handle: row.handle, id: note.id, vector: vector)
            }
            return MergeOutcome(write: outcome, contests: contests)
        }
    }

    /// What a deposit with `merge_similar` did: the write, and the near
    /// notes it disagrees with (empty unless it was kept from a merge).
    struct MergeOutcome: Sendable {
        let write: WriteOutcome
        let contests: [NoteID]
    }

    // MARK: contested notes

    /// Finds and records the contests of notes just put into the index
    /// (contract §8): for each, the live notes of `ns` at least the
    /// namespace's `contest_similarity` close that disagree with it on a
    /// decisive token (`DecisiveTokens`). Run for every note embedded here
    /// and every vector another daemon stored, so that two notes deposited
    /// through two daemons at once still meet: the daemon that learns of the
    /// second finds the pair (recording a pair twice is a no-op).
    ///
    /// Called with vectors already stored and, for notes embedded here,
    /// before they enter the index: a note that `trail.stats` counts as
    /// embedded has its contests recorded. The notes of one batch are
    /// compared with each other as well as with the index.
    ///
    /// Costs a nearest search in memory per note and one read of the
    /// candidates' bodies and vectors for the batch.
    ///
    /// `inIndex`: the entries are in the index already (vectors other
    /// daemons stored, up to a page of 10,000): each search finds the others,
    /// and comparing every pair of the batch directly would cost n² cosines.
    func recordContests(ns: String, of entries: [(handle: Int64, id: NoteID, vector: [Float])],
                        inIndex: Bool = false) async throws(TrailError) {
        guard !entries.isEmpty, let settings = try await store.settings(ns: ns) else { return }
        let threshold = settings.contestSimilarity
        var near: [Int64: [Int64]] = [:]
        var handles = Set(entries.map(\.handle))
        for e in entries {
            // The int8 codes may put a pair a little under its exact cosine: look a little lower.
            var found = index.nearest(ns: ns, to: e.vector, k: Self.contestCandidates)
                .filter { $0.handle != e.handle && Double($0.similarity) >= threshold - 0.02 }.map(\.handle)
            // The notes of the same batch are not in the index yet: compared directly.
            if !inIndex {
                found += entries.filter { $0.handle != e.handle && !found.contains($0.handle) && Self.cosine(e.vector, $0.vector) >= threshold }
                    .map(\.handle)
            }
            near[e.handle] = found
            handles.formUnion(found)
        }
        guard near.values.contains(where: { !$0.isEmpty }) else { return }
        let rows = try await store.meaningRows(ns: ns, .handles(Array(handles)), model: model)
        let byHandle = Dictionary(rows.map { ($0.handle, $0) }, uniquingKeysWith: { a, _ in a })
        var pairs = Set<ContestPair>()
        for e in entries {
            guard let mine = byHandle[e.handle], mine.note.state != .retracted else { continue }
            let tokens = DecisiveTokens(mine.note.body)
            for h in near[e.handle] ?? [] {
                guard let other = byHandle[h], other.note.state != .retracted, let v = other.vector, v.count == e.vector.count else { continue }
                let similarity = Self.cosine(e.vector, v)
                if similarity >= threshold, tokens.disagrees(with: DecisiveTokens(other.note.body)) {
                    pairs.insert(ContestPair(e.handle, h, similarity: similarity))
                }
            }
        }
        guard !pairs.isEmpty else { return }
        _ = try await store.write(.recordContests(ns: ns, pairs: Array(pairs)), by: Writer(agent: "traild"))
    }

    /// Notes a new note is compared with for contests: its nearest.
    static let contestCandidates = 16

    /// The cosine of two unit vectors: their dot product.
    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot: Double = 0
        for i in 0..<min(a.count, b.count) { dot += Double(a[i]) * Double(b[i]) }
        return dot
    }
}

/// Runs bodies one at a time per namespace, in arrival order.
actor NamespaceLanes {
    private var busy: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    func run<T: Sendable>(ns: String, _ body: () async throws(TrailError) -> T) async throws(TrailError) -> T {
        if busy.contains(ns) {
            await withCheckedContinuation { waiting[ns, default: []].append($0) }
        } else {
            busy.insert(ns)
        }
        defer {
            if var queue = waiting[ns], !queue.isEmpty {
                // The lane passes straight to the next in line.
                let next = queue.removeFirst()
                waiting[ns] = queue.isEmpty ? nil : queue
                next.resume()
            } else {
                busy.remove(ns)
            }
        }
        return try await body()
    }
}
