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
        let entries = try await depositAndEmbed(Self.bodies)
        let kept = [entries[0], entries[2]]
        _ = try await store.write(.storeVectors(model: recall.model, vectors: kept.map { VectorWrite(handle: $0.handle, vector: $0.vector) }),
                                  by: Writer())
        recall.insert(ns: "default", kept)
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

    @Test("a note alone in its namespace, or in a namespace that is not there, has no contests")
    func nothingNear() async throws {
        let entries = try await depositAndEmbed([Self.bodies[2]])
        #expect(try await recall.contests(ns: "default", of: entries).pairs.isEmpty)
        #expect(try await recall.contests(ns: "nowhere", of: entries).pairs.isEmpty)
    }
}
