import Foundation
import Testing
@testable import TrailEmbedding

/// Vectors of `texts` by the NumPy forward pass in reference_forward.py
/// (tokens by Hugging Face `tokenizers`, float64 arithmetic): the
/// independent reference.
func referenceVectors(_ texts: [String], model: String = modelDirectory()) throws -> [[Double]] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("reference_forward.py").path
    guard let data = try python([script, model], input: try JSONEncoder().encode(texts)) else {
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
    @Test("float vectors equal an independent NumPy forward pass (cosine >= 0.999 each), one at a time and batched")
    func matchesReference() throws {
        let encoder = try SentenceEncoder(directory: modelDirectory(), precision: .float)
        #expect(encoder.precision == .float)
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

    @Test("int8 vectors are held to the float reference: cosine >= 0.99 on every reference text, one at a time and batched")
    func int8MatchesReference() throws {
        let encoder = try SentenceEncoder(directory: modelDirectory())
        #expect(encoder.precision == .int8)
        let texts = WordPieceTokenizerTests.corpus + Paraphrases.load().flatMap { [$0.note, $0.paraphrase] }
        let reference = try referenceVectors(texts)
        let batched = encoder.embed(texts)
        var worst = 1.0
        for (i, text) in texts.enumerated() {
            let single = encoder.embed(text)
            let length = single.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(length - 1) < 1e-5, "unit length: \(text)")
            #expect(cosine(single, reference[i]) >= 0.99, "alone: \(text)")
            #expect(cosine(batched[i], reference[i]) >= 0.99, "batched: \(text)")
            worst = min(worst, cosine(single, reference[i]), cosine(batched[i], reference[i]))
        }
        print("int8 against the NumPy reference over \(texts.count) texts: lowest cosine \(worst)")
    }

    @Test("int8: each paraphrase finds its own note first and in the top 3 as the NumPy reference does where it is clear, and no fewer in all")
    func int8KeepsParaphraseTopThree() throws {
        let pairs = Paraphrases.load()
        #expect(pairs.count == 48)
        let encoder = try SentenceEncoder(directory: modelDirectory())
        let notes = encoder.embed(pairs.map(\.note)), paraphrases = encoder.embed(pairs.map(\.paraphrase))
        let reference = try referenceVectors(pairs.map(\.note) + pairs.map(\.paraphrase))
        let referenceNotes = Array(reference.prefix(48)), referenceParaphrases = Array(reference.suffix(48))
        /// Each paraphrase's notes by similarity, nearest first.
        func ranked<V>(_ paraphrases: [[V]], _ notes: [[V]], _ dot: ([V], [V]) -> Double) -> [[(note: Int, similarity: Double)]] {
            paraphrases.map { p in notes.enumerated().map { ($0.offset, dot(p, $0.element)) }.sorted { $0.1 > $1.1 } }
        }
        let want = ranked(referenceParaphrases, referenceNotes) { zip($0, $1).reduce(0.0) { $0 + $1.0 * $1.1 } }
        let got = ranked(paraphrases, notes) { zip($0, $1).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        // Where the reference's own note is within this of the place that decides (the first,
        // or the third and fourth), int8's rounding (similarities move by up to about 0.01 at
        // cosine 0.993) decides which side it falls on: such a paraphrase may move either way.
        let tie = 0.01
        var counts = (reference: (first: 0, three: 0), int8: (first: 0, three: 0)), ties: [Int] = []
        for i in pairs.indices {
            let own = want[i].first { $0.note == i }!.similarity
            let first = (reference: want[i][0].note == i, int8: got[i][0].note == i)
            let three = (reference: want[i].prefix(3).contains { $0.note == i }, int8: got[i].prefix(3).contains { $0.note == i })
            counts.reference.first += first.reference ? 1 : 0
            counts.int8.first += first.int8 ? 1 : 0
            counts.reference.three += three.reference ? 1 : 0
            counts.int8.three += three.int8 ? 1 : 0
            let firstTie = abs(own - want[i][first.reference ? 1 : 0].similarity) < tie
            let threeTie = abs(own - want[i][three.reference ? 3 : 2].similarity) < tie
            if firstTie || threeTie { ties.append(i) }
            if !firstTie { #expect(first.int8 == first.reference, "paraphrase \(i), own note first: int8 \(first.int8)") }
            if !threeTie { #expect(three.int8 == three.reference, "paraphrase \(i), own note in the top 3: int8 \(three.int8)") }
        }
        print("paraphrases, own note first: reference \(counts.reference.first), int8 \(counts.int8.first) of 48; "
              + "in the top 3: reference \(counts.reference.three), int8 \(counts.int8.three); near ties (within \(tie)): \(ties)")
        #expect(ties.count <= 3, "near ties: \(ties)")
        #expect(counts.int8.first >= counts.reference.first)
        #expect(counts.int8.three >= counts.reference.three)
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

/// tests/e2e/paraphrases.json: notes and the same facts in other words.
enum Paraphrases {
    struct Pair: Decodable {
        let note: String
        let paraphrase: String
    }

    static func load() -> [Pair] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tests/e2e/paraphrases.json")
        guard let data = FileManager.default.contents(atPath: path.path),
              let pairs = try? JSONDecoder().decode([Pair].self, from: data) else { return [] }
        return pairs
    }
}
