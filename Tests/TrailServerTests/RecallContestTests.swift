import Foundation
import Logging
import Testing
import TrailCore
import TrailEmbedding
@testable import TrailServer
import TrailSQLite
import TrailStore

/// Contest detection (contract §8) with the real model and a real SQLite
/// store: what `Recall.contests` finds for notes the indexer keeps.
@Suite("Recall: contests found when notes are embedded")
struct RecallContestTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trail-recall-\(UUID().uuidString)")
    let store: SQLiteStore
    let recall: Recall

    init() throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try SQLiteStore(path: dir.appendingPathComponent("trail.db").path)
        recall = Recall(encoder: try SentenceEncoder(directory: EmbeddingQueueTests.modelDirectory), store: store,
                        logger: Logger(label: "test"))
    }

    static let bodies = [
        "Set the request timeout to 30 s or uploads abort.",
        "Set the request timeout to 60 s or uploads abort.",
        "The staging database is rebuilt every night at two.",
    ]

    /// Deposits `bodies` and returns them as the indexer would find them: handle, id, vector.
    func depositAndEmbed(_ bodies: [String], ns: String = "default") async throws -> [Recall.ContestEntry] {
        var entries: [Recall.ContestEntry] = []
        for body in bodies {
            _ = try await store.write(.deposit(Deposit(body: body, ns: ns, tags: [], after: [], strength: 1, force: false)), by: Writer())
            let id = NoteID(body: body)
            let row = try #require(try await store.meaningRows(ns: ns, .ids([id]), model: recall.model).first)
            entries.append((handle: row.handle, id: id, vector: recall.encoder.embed(body)))
        }
        return entries
    }

    /// Deposits `bodies`, stores the first and the last one's vectors and puts them in `recall`'s index;
    /// the second (which contests the first) is embedded, not stored.
    func firstAndLastKept(in recall: Recall) async throws -> [Recall.ContestEntry] {
        let entries = try await depositAndEmbed(Self.bodies)
        let kept = [entries[0], entries[2]]
        _ = try await store.write(.storeVectors(model: recall.model, vectors: kept.map { VectorWrite(handle: $0.handle, vector: $0.vector) }),
                                  by: Writer())
        recall.insert(ns: "default", kept)
        return entries
    }

    @Test("two notes of one batch (no vector stored yet, neither in the index) contest each other; an unrelated note does not")
    func withinOneBatch() async throws {
        let entries = try await depositAndEmbed(Self.bodies)
        let found = try await recall.contests(ns: "default", of: entries)
        #expect(found.pairs.map { [$0.a, $0.b] } == [[entries[0].handle, entries[1].handle]])
        #expect(try #require(found.pairs.first).similarity >= 0.9)
        // Stored with the vectors in one write: shown at once.
        _ = try await store.write(.storeVectors(model: recall.model, vectors: entries.map { VectorWrite(handle: $0.handle, vector: $0.vector) },
                                                contests: [found]), by: Writer())
        #expect(try await store.get(IDPrefix(entries[0].id), ns: "default").note.contestedBy == [entries[1].id])
    }

    @Test("a note is compared with the notes already in the index, and only where the namespace's contest_similarity allows")
    func withTheIndex() async throws {
        let entries = try await firstAndLastKept(in: recall)
        let found = try await recall.contests(ns: "default", of: [entries[1]])
        #expect(found.pairs.map { [$0.a, $0.b] } == [[entries[0].handle, entries[1].handle]])
        // This daemon's configure replaces the threshold read a moment before.
        recall.observe(try await store.write(.configure(NamespaceChange(ns: "default", contestSimilarity: 1)), by: Writer()))
        #expect(try await recall.contests(ns: "default", of: [entries[1]]).pairs.isEmpty)
    }

    @Test("vectors already in the index (another daemon's page) are found by the searches alone, each pair once")
    func inIndex() async throws {
        let entries = try await depositAndEmbed(Self.bodies, ns: "shared")
        _ = try await store.write(.storeVectors(model: recall.model, vectors: entries.map { VectorWrite(handle: $0.handle, vector: $0.vector) }),
                                  by: Writer())
        recall.insert(ns: "shared", entries)
        let found = try await recall.contests(ns: "shared", of: entries, inIndex: true)
        #expect(found.pairs.map { [$0.a, $0.b] } == [[entries[0].handle, entries[1].handle]])
    }

    @Test("with product codes in the index (past its threshold), contests are still found and a sense by meaning still finds the note")
    func withProductCodes() async throws {
        let recall = Recall(encoder: self.recall.encoder, store: store, logger: Logger(label: "test"), productThreshold: 1024)
        // 1,100 vectors of notes the store does not hold (random directions, nowhere near the bodies) take the
        // index past its threshold; the search reads the rows of the notes it finds and skips those.
        var state: UInt64 = 7
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) - (1 << 52)) / Float(1 << 52)
        }
        let filler = (0..<1100).map { i in
            (handle: Int64(10_000_000 + i), id: NoteID(body: "filler \(i)"), vector: (0..<recall.encoder.dimensions).map { _ in next() })
        }
        recall.insert(ns: "default", filler)
        #expect(recall.index.holdsProductCodes)
        #expect(recall.index.candidates(for: 16) == 16 * VectorIndex.productOversampling)

        let entries = try await firstAndLastKept(in: recall)
        let found = try await recall.contests(ns: "default", of: [entries[1]])
        #expect(found.pairs.map { [$0.a, $0.b] } == [[entries[0].handle, entries[1].handle]])

        let sensed = try await recall.sense(SenseQuery(ns: "default", limit: 2, similar: "how long before an upload request times out"))
        #expect(sensed.map(\.note.body) == [Self.bodies[0], Self.bodies[2]])
        #expect(try #require(sensed.first?.similarity) > 0.4)
    }

    @Test("a note alone in its namespace, or in a namespace that is not there, has no contests")
    func nothingNear() async throws {
        let entries = try await depositAndEmbed([Self.bodies[2]])
        #expect(try await recall.contests(ns: "default", of: entries).pairs.isEmpty)
        #expect(try await recall.contests(ns: "nowhere", of: entries).pairs.isEmpty)
    }
}
