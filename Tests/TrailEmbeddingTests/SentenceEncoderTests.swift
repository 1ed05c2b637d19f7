import Foundation
import Testing
@testable import TrailEmbedding

/// Vectors of `texts` by the NumPy forward pass in reference_forward.py
/// (tokens by Hugging Face `tokenizers`, float64 arithmetic): the
/// independent reference.
func referenceVectors(_ texts: [String]) throws -> [[Double]] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("reference_forward.py").path
    guard let data = try python([script, modelDirectory()], input: try JSONEncoder().encode(texts)) else {
        throw EmbeddingModelError.unreadable(script, "python3 with numpy and tokenizers (pip install -r tests/requirements.txt) failed")
    }
    return try JSONDecoder().decode([[Double]].self, from: data)
}

func cosine(_ a: [Float], _ b: [Double]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) { dot += Double(x) * y; na += Double(x) * Double(x); nb += y * y }
    return dot / (na.squareRoot() * nb.squareRoot())
}

@Suite("sentence encoder")
struct SentenceEncoderTests {
    @Test("vectors equal an independent NumPy forward pass (cosine >= 0.999 each), one at a time and batched")
    func matchesReference() throws {
        let encoder = try SentenceEncoder(directory: modelDirectory())
        #expect(encoder.name == "all-MiniLM-L6-v2")
        #expect(encoder.dimensions == 384)
        let texts = WordPieceTokenizerTests.corpus
        let reference = try referenceVectors(texts)
        let batched = encoder.embed(texts)
        #expect(batched.count == texts.count)
        for (i, text) in texts.enumerated() {
            let single = encoder.embed(text)
            #expect(single.count == 384)
            let length = single.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(length - 1) < 1e-5, "unit length: \(text)")
            #expect(cosine(single, reference[i]) >= 0.999, "alone: \(text)")
            #expect(cosine(batched[i], reference[i]) >= 0.999, "batched: \(text)")
        }
    }

    @Test("meaning: a paraphrase is nearer than an unrelated sentence")
    func paraphraseNearer() throws {
        let encoder = try SentenceEncoder(directory: modelDirectory())
        let v = encoder.embed(["the build fails because a compression library is missing",
                               "compiling breaks: zstd headers are not installed",
                               "ants lay pheromone trails to food"])
        func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        #expect(dot(v[0], v[1]) > dot(v[0], v[2]) + 0.2)
    }

    @Test("a missing or damaged model folder is refused naming the file")
    func badFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: EmbeddingModelError.missing(dir.appendingPathComponent("config.json").path)) {
            try SentenceEncoder(directory: dir.path)
        }
        for file in ["config.json", "vocab.txt", "model.safetensors"] {
            try FileManager.default.copyItem(at: URL(fileURLWithPath: modelDirectory()).appendingPathComponent(file),
                                             to: dir.appendingPathComponent(file))
        }
        // A config whose width disagrees with the weights.
        let config = dir.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "\"intermediate_size\": 1536", with: "\"intermediate_size\": 1024")
        try text.write(to: config, atomically: true, encoding: .utf8)
        do {
            _ = try SentenceEncoder(directory: dir.path)
            Issue.record("a config that disagrees with the weights was accepted")
        } catch {
            #expect(error.description.contains("model.safetensors"))
            #expect(error.description.contains("intermediate.dense"))
        }
        try "{".write(to: config, atomically: true, encoding: .utf8)
        #expect(throws: EmbeddingModelError.unreadable(config.path, "not a JSON object")) {
            try SentenceEncoder(directory: dir.path)
        }
    }
}
