import Foundation
import Testing
import TrailEmbedding
@testable import TrailServer

@Suite("The embedding queue")
struct EmbeddingQueueTests {
    static var modelDirectory: String {
        ProcessInfo.processInfo.environment["TRAIL_MODEL_DIR"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("models/all-MiniLM-L6-v2").path
    }

    static let texts = (0..<24).map { "worker \($0) found that the flaky build needs a clean cache, step \($0 * 7)" }

    @Test("texts asked at once share passes, and each gets the vector the model gives it alone")
    func textsAskedAtOnceSharePasses() async throws {
        let encoder = try SentenceEncoder(directory: Self.modelDirectory)
        let queue = EmbeddingQueue(encoder: encoder)
        let vectors = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (i, text) in Self.texts.enumerated() {
                group.addTask { (i, try await queue.embed(text)) }
            }
            var out = [[Float]](repeating: [], count: Self.texts.count)
            for try await (i, v) in group { out[i] = v }
            return out
        }
        for (text, v) in zip(Self.texts, vectors) {
            let alone = encoder.embed(text)
            let cosine = zip(alone, v).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(v.count == encoder.dimensions)
            #expect(cosine > 0.9999, "\(text): cosine \(cosine) with the text embedded alone")
        }
        let counts = queue.passes
        #expect(counts.texts == Self.texts.count)
        // 24 texts asked at once: the first starts a pass alone, the rest wait for it and go together.
        #expect(counts.passes < Self.texts.count)
    }

    @Test("a text asked alone is embedded at once, in a pass of its own")
    func aLoneTextIsNotHeldBack() async throws {
        let encoder = try SentenceEncoder(directory: Self.modelDirectory)
        let queue = EmbeddingQueue(encoder: encoder)
        for text in Self.texts.prefix(3) {
            let v = try await queue.embed(text)
            #expect(v == encoder.embed(text))
        }
        #expect(queue.passes == (passes: 3, texts: 3))
    }
}
