import Foundation
import Testing
@testable import TrailEmbedding

/// A BERT of random weights whose widths the int8 blocks (16 outputs by 4
/// inputs) mostly do not take, written as a model folder: all-MiniLM's
/// vocabulary and tokenizer files, a config of its own, a safetensors file
/// made here.
struct OddShapeModel {
    let folder: URL
    static let width = 40, heads = 2, intermediate = 64, layers = 2, positions = 512, vocabulary = 30522

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("odd-model-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in ["vocab.txt", "tokenizer.json", "sentence_bert_config.json"] {
            try FileManager.default.copyItem(at: URL(fileURLWithPath: modelDirectory()).appendingPathComponent(file),
                                             to: folder.appendingPathComponent(file))
        }
        let config: [String: Any] = [
            "model_type": "bert", "hidden_act": "gelu", "hidden_size": Self.width, "num_attention_heads": Self.heads,
            "intermediate_size": Self.intermediate, "num_hidden_layers": Self.layers, "max_position_embeddings": Self.positions,
            "vocab_size": Self.vocabulary, "layer_norm_eps": 1e-12,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        try Self.safetensors(Self.tensors()).write(to: folder.appendingPathComponent("model.safetensors"))
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    /// Every tensor the encoder reads, seeded: dense weights uniform with
    /// variance 1/inputs (activations stay near 1), norms near identity.
    static func tensors() -> [(name: String, shape: [Int], values: [Float])] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform(_ count: Int, _ bound: Float, around centre: Float = 0) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return centre + bound * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
            }
        }
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        func dense(_ prefix: String, inputs: Int, outputs: Int) {
            tensors.append((prefix + ".weight", [outputs, inputs], uniform(outputs * inputs, (3 / Float(inputs)).squareRoot())))
            tensors.append((prefix + ".bias", [outputs], uniform(outputs, 0.1)))
        }
        func norm(_ prefix: String) {
            tensors.append((prefix + ".weight", [width], uniform(width, 0.1, around: 1)))
            tensors.append((prefix + ".bias", [width], uniform(width, 0.1)))
        }
        tensors.append(("embeddings.word_embeddings.weight", [vocabulary, width], uniform(vocabulary * width, 1)))
        tensors.append(("embeddings.position_embeddings.weight", [positions, width], uniform(positions * width, 0.3)))
        tensors.append(("embeddings.token_type_embeddings.weight", [2, width], uniform(2 * width, 0.3)))
        norm("embeddings.LayerNorm")
        for n in 0..<layers {
            let p = "encoder.layer.\(n)"
            for part in ["query", "key", "value"] { dense("\(p).attention.self.\(part)", inputs: width, outputs: width) }
            dense("\(p).attention.output.dense", inputs: width, outputs: width)
            norm("\(p).attention.output.LayerNorm")
            dense("\(p).intermediate.dense", inputs: width, outputs: intermediate)
            dense("\(p).output.dense", inputs: intermediate, outputs: width)
            norm("\(p).output.LayerNorm")
        }
        return tensors
    }

    /// The safetensors format: a little-endian header length, the JSON
    /// header (padded to 8 bytes), then the tensors' bytes.
    static func safetensors(_ tensors: [(name: String, shape: [Int], values: [Float])]) throws -> Data {
        var header: [String: Any] = [:], body = Data(), offset = 0
        for t in tensors {
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            t.values.withUnsafeBytes { body.append(contentsOf: $0) }
            offset += 4 * t.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header)
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var file = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Data($0) }
        file.append(json)
        file.append(body)
        return file
    }
}

extension LinearWeights {
    var isInt8: Bool { if case .int8 = self { true } else { false } }
}

@Suite("an encoder whose widths the int8 blocks do not take")
struct OddShapeModelTests {
    @Test("layers of another shape stay in float, the rest go int8, and the vectors still match the NumPy reference (width 40, two heads of 20)")
    func oddShapesStayInFloat() throws {
        let model = try OddShapeModel()
        defer { model.remove() }
        let int8 = try SentenceEncoder(directory: model.folder.path)
        let float = try SentenceEncoder(directory: model.folder.path, precision: .float)
        #expect(int8.dimensions == 40)
        for layer in int8.weights.layers {
            // Queries, keys and values: 120 outputs; attention output and output: 40.
            #expect(!layer.attention.weights.isInt8 && !layer.attentionOutput.weights.isInt8 && !layer.output.weights.isInt8)
            // 64 outputs of 40 inputs: the blocks take it.
            #expect(layer.intermediate.weights.isInt8)
        }
        #expect(float.weights.layers.allSatisfy { !$0.intermediate.weights.isInt8 })
        let texts = Array(WordPieceTokenizerTests.corpus.prefix(12))
        let reference = try referenceVectors(texts, model: model.folder.path)
        let batched = (int8: int8.embed(texts), float: float.embed(texts))
        for (i, text) in texts.enumerated() {
            #expect(cosine(float.embed(text), reference[i]) >= 0.999, "float: \(text)")
            #expect(cosine(batched.float[i], reference[i]) >= 0.999, "float, batched: \(text)")
            #expect(cosine(int8.embed(text), reference[i]) >= 0.99, "int8: \(text)")
            #expect(cosine(batched.int8[i], reference[i]) >= 0.99, "int8, batched: \(text)")
        }
    }
}
