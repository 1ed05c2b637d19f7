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
/// The index holds codes (`VectorIndex`: int8, then product codes past
/// 65,536 vectors), keyed by the first 64 bits of each note's id; the float vectors stay in
/// the store, which a search reads back for the notes it found (the exact
/// re-rank). An entry for a note that is no longer live costs memory only:
/// every search reads the notes it found from the store, which leaves out
/// what is retracted or archived.
final class Recall: Sendable {
    let encoder: SentenceEncoder
    let index: VectorIndex
    let store: any TrailStore
    let logger: Logger
    let work = IndexerWork()
    /// Merges by meaning run one at a time per namespace (see `merge`).
    private let mergeLanes = NamespaceLanes()
    /// Each namespace's `contest_similarity`, read at most once a second.
    let contestThresholds = ContestThresholds()
    /// The vectors of the questions (`similar`) and merged bodies embedded
    /// lately: a colony asks the same question many times.
    let recent = RecentVectors(capacity: Recall.recentVectors)
    /// Vectors `recent` holds at most (under 2.5 MiB with their texts at 384 dimensions).
    static let recentVectors = 1024
    /// The vectors of the note bodies the indexer embedded lately (as many):
    /// a body deposited again in another namespace (colonies that share
    /// advice, runs of one task side by side) or after it evaporated costs
    /// a lookup instead of a pass of the model. Apart from `recent`, so that
    /// deposits never push the questions out.
    let recentNotes = RecentVectors(capacity: Recall.recentVectors)
    /// Passes of the model for the texts requests ask (texts asked at once share one).
    let queue: EmbeddingQueue

    /// The model's name, as `trail.hello` and the store's vectors name it.
    var model: String { encoder.name }

    /// `productThreshold`: vectors at which the index turns to product codes
    /// (`VectorIndex`; lower only in tests).
    init(encoder: SentenceEncoder, store: any TrailStore, logger: Logger, productThreshold: Int = 65_536) {
        self.encoder = encoder
        self.store = store
        self.logger = logger
        index = VectorIndex(dimensions: encoder.dimensions, productThreshold: productThreshold)
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
        index.insert(ns: ns, entries.map { (key: Self.idKey($0.id), handle: $0.handle, vector: $0.vector) })
    }

    /// Takes a note out of memory (its vector stays in the store).
    func remove(ns: String, id: NoteID) {
        index.remove(ns: ns, key: Self.idKey(id))
    }

    func isIndexed(ns: String, id: NoteID) -> Bool {
        index.contains(ns: ns, key: Self.idKey(id))
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
        case let .configured(settings): contestThresholds.keep(settings.contestSimilarity, ns: settings.name)
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
            let candidates = index.nearest(ns: d.ns, to: vector, k: index.candidates(for: Self.contestCandidates))
            let rows = candidates.isEmpty ? []
                : try await store.meaningRows(ns: d.ns, .handles(candidates.map(\.handle)), model: model)
            // Every live note near, with its similarity: the notes `after` names contest too.
            let all = rows.compactMap { row -> NearNote? in
                guard row.note.id != d.id, let v = row.vector, v.count == vector.count else { return nil }
                return NearNote(handle: row.handle, note: row.note, similarity: Self.cosine(vector, v))
            }.sorted { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.note.id < $1.note.id }
            let near = all.filter { n in !d.after.contains(where: { n.note.id.hex.hasPrefix($0.hex) }) }
            let tokens = DecisiveTokens(d.body)
            let committed: Committed
            var contests: [NoteID] = []
            if let best = near.first, best.similarity >= threshold {
                if tokens.disagrees(with: DecisiveTokens(best.note.body)) {
                    contests = [best.note.id] + near.dropFirst().prefix { $0.similarity >= threshold }
                        .filter { tokens.disagrees(with: DecisiveTokens($0.note.body)) }.map(\.note.id)
                    var own = d
                    own.after += contests.prefix(max(0, Limits.maxAfter - d.after.count)).map(IDPrefix.init)
                    committed = try await store.commit(.deposit(own), by: writer)
                } else {
                    committed = try await store.commit(.merge(d, into: best.note.id, similarity: best.similarity), by: writer)
                }
            } else {
                committed = try await store.commit(.deposit(d), by: writer)
            }
            let outcome = committed.outcome
            // The note written is found by meaning before the next merge looks.
            if case let .deposited(note, _) = outcome, !isIndexed(ns: note.ns, id: note.id),
               let row = try await store.meaningRows(ns: note.ns, .ids([note.id]), model: model).first {
                // Its contests are among the notes just read: recorded with its vector.
                let pairs = try await contestPairs(ns: note.ns, handle: row.handle, tokens: tokens, near: all)
                _ = try await store.write(.storeVectors(model: model, vectors: [VectorWrite(handle: row.handle, vector: vector)],
                                                        contests: [NamespaceContests(ns: note.ns, pairs: pairs)]),
                                          by: Writer(agent: "traild"))
                insert(ns: note.ns, handle: row.handle, id: note.id, vector: vector)
            }
            return MergeOutcome(write: outcome, seq: committed.seq, contests: contests)
        }
    }

    /// A live note near another, with the cosine of their vectors.
    struct NearNote {
        let handle: Int64
        let note: Note
        let similarity: Double
    }

    /// What a deposit with `merge_similar` did: the write, and the near
    /// notes it disagrees with (empty unless it was kept from a merge).
    struct MergeOutcome: Sendable {
        let write: WriteOutcome
        /// Its write-log row's seq.
        let seq: Int64?
        let contests: [NoteID]
    }

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
