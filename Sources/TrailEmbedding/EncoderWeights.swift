import CTrailKernels
import Foundation

/// The shape of a BERT encoder, from the model's `config.json`.
public struct EncoderShape: Sendable, Equatable {
    public var vocabulary: Int
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var intermediate: Int
    public var positions: Int
    public var epsilon: Float

    /// Reads `config.json`: a BERT with GELU, absolute positions and a width
    /// that its heads divide.
    public init(config path: String) throws(EmbeddingModelError) {
        guard let data = FileManager.default.contents(atPath: path),
              let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw .unreadable(path, "not a JSON object")
        }
        func int(_ key: String) throws(EmbeddingModelError) -> Int {
            guard let v = o[key] as? Int, v > 0 else { throw .unreadable(path, "\(key) missing or not a positive integer") }
            return v
        }
        vocabulary = try int("vocab_size")
        width = try int("hidden_size")
        layers = try int("num_hidden_layers")
        heads = try int("num_attention_heads")
        intermediate = try int("intermediate_size")
        positions = try int("max_position_embeddings")
        epsilon = Float((o["layer_norm_eps"] as? Double) ?? 1e-12)
        guard (o["model_type"] as? String) == "bert", (o["hidden_act"] as? String) == "gelu", width % heads == 0 else {
            throw .unreadable(path, "not a BERT encoder with GELU whose width its heads divide")
        }
    }
}

/// One encoder layer's weights.
struct EncoderLayerWeights: @unchecked Sendable {
    /// Queries, keys and values as one [3·width, width] layer.
    let attention: Linear
    let attentionOutput: Linear
    let attentionNorm: Norm
    let intermediate: Linear
    let output: Linear
    let outputNorm: Norm
}

/// The word embeddings: one row of `width` numbers per token of the
/// vocabulary, read a row at a time.
enum WordEmbeddings {
    /// [vocabulary, width] floats.
    case float(UnsafeMutablePointer<Float>)
    /// Int8 per row, `codes[id · width + i] × scales[id]`, each row's step
    /// its largest magnitude over 127: a quarter of the floats (11.7 MB
    /// instead of 46.9 for all-MiniLM-L6-v2), each number within half a
    /// step. Held to the float reference with the dense layers' int8.
    case int8(codes: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>)

    /// `row[i] = word(id)[i] + place[i] + type[i]` for i in 0 ..< width.
    func sum(_ id: Int, width: Int, place: UnsafePointer<Float>, type: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>) {
        switch self {
        case let .float(words):
            let word = words + id * width
            for i in 0..<width { row[i] = word[i] + place[i] + type[i] }
        case let .int8(codes, scales):
            let code = codes + id * width, scale = scales[id]
            for i in 0..<width { row[i] = Float(code[i]) * scale + place[i] + type[i] }
        }
    }
}

/// Every weight of the encoder, loaded once from the safetensors file and
/// kept for the life of the process: flat `Float` buffers (about 90 MB for
/// all-MiniLM-L6-v2) with `float`; with `int8`, the dense layers and the
/// word embeddings in int8 (about 25 MB).
final class EncoderWeights: @unchecked Sendable {
    let shape: EncoderShape
    let words: WordEmbeddings
    let positions: UnsafeMutablePointer<Float>
    /// Token type 0's embedding (every token of a single sentence).
    let tokenType: UnsafeMutablePointer<Float>
    let embeddingNorm: Norm
    let layers: [EncoderLayerWeights]
    /// What the dense layers compute with.
    let precision: EncoderPrecision
    private var buffers: [UnsafeMutableRawPointer] = []

    init(_ file: SafeTensors, shape: EncoderShape, precision: EncoderPrecision) throws(EmbeddingModelError) {
        self.shape = shape
        self.precision = precision
        var buffers: [UnsafeMutableRawPointer] = []
        func values(_ name: String, _ expected: [Int]) throws(EmbeddingModelError) -> [Float] {
            let tensor: (shape: [Int], values: [Float])
            do { tensor = try file.floats(name) } catch { throw .weights(error) }
            guard tensor.shape == expected else {
                throw .unreadable(file.path, "tensor \(name) has shape \(tensor.shape), the config says \(expected)")
            }
            return tensor.values
        }
        func load(_ name: String, _ expected: [Int]) throws(EmbeddingModelError) -> UnsafeMutablePointer<Float> {
            let values = try values(name, expected)
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
            buffer.initialize(from: values, count: values.count)
            buffers.append(UnsafeMutableRawPointer(buffer))
            return buffer
        }
        /// `weight` [outputs, inputs] as the layer's products read it: kept, or
        /// quantised and packed (and the floats dropped). The int8 blocks take
        /// 16 outputs by 4 inputs: a layer of another shape stays in float.
        func weights(_ weight: [Float], inputs: Int, outputs: Int) -> LinearWeights {
            switch precision {
            case .int8 where outputs % 16 != 0 || inputs % 4 != 0, .float:
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: weight.count)
                buffer.initialize(from: weight, count: weight.count)
                buffers.append(UnsafeMutableRawPointer(buffer))
                return .float(buffer)
            case .int8:
                let packed = UnsafeMutablePointer<Int8>.allocate(capacity: outputs * inputs)
                let scale = UnsafeMutablePointer<Float>.allocate(capacity: outputs)
                let sums = UnsafeMutablePointer<Int32>.allocate(capacity: outputs)
                buffers += [UnsafeMutableRawPointer(packed), UnsafeMutableRawPointer(scale), UnsafeMutableRawPointer(sums)]
                trail_i8_pack(weight, Int32(outputs), Int32(inputs), packed, scale, sums)
                return .int8(packed: packed, scale: scale, sums: sums)
            }
        }
        func linear(_ prefix: String, inputs: Int, outputs: Int) throws(EmbeddingModelError) -> Linear {
            Linear(inputs: inputs, outputs: outputs,
                   weights: weights(try values(prefix + ".weight", [outputs, inputs]), inputs: inputs, outputs: outputs),
                   bias: try load(prefix + ".bias", [outputs]))
        }
        func norm(_ prefix: String) throws(EmbeddingModelError) -> Norm {
            Norm(gamma: try load(prefix + ".weight", [shape.width]), beta: try load(prefix + ".bias", [shape.width]),
                 epsilon: shape.epsilon)
        }
        /// Queries, keys and values stacked into one layer: one matrix product instead of three.
        func fused(_ prefix: String) throws(EmbeddingModelError) -> Linear {
            let w = shape.width
            var weight: [Float] = []
            weight.reserveCapacity(3 * w * w)
            let bias = UnsafeMutablePointer<Float>.allocate(capacity: 3 * w)
            buffers.append(UnsafeMutableRawPointer(bias))
            for (i, part) in ["query", "key", "value"].enumerated() {
                weight += try values("\(prefix).\(part).weight", [w, w])
                (bias + i * w).initialize(from: try values("\(prefix).\(part).bias", [w]), count: w)
            }
            return Linear(inputs: w, outputs: 3 * w, weights: weights(weight, inputs: w, outputs: 3 * w), bias: bias)
        }
        do {
            switch precision {
            case .float:
                words = .float(try load("embeddings.word_embeddings.weight", [shape.vocabulary, shape.width]))
            case .int8:
                let table = try values("embeddings.word_embeddings.weight", [shape.vocabulary, shape.width])
                let codes = UnsafeMutablePointer<Int8>.allocate(capacity: table.count)
                let scales = UnsafeMutablePointer<Float>.allocate(capacity: shape.vocabulary)
                buffers += [UnsafeMutableRawPointer(codes), UnsafeMutableRawPointer(scales)]
                Self.quantiseRows(table, width: shape.width, codes: codes, scales: scales)
                words = .int8(codes: codes, scales: scales)
            }
            positions = try load("embeddings.position_embeddings.weight", [shape.positions, shape.width])
            tokenType = try load("embeddings.token_type_embeddings.weight", [2, shape.width])
            embeddingNorm = try norm("embeddings.LayerNorm")
            var layers: [EncoderLayerWeights] = []
            for n in 0..<shape.layers {
                let p = "encoder.layer.\(n)"
                layers.append(EncoderLayerWeights(
                    attention: try fused("\(p).attention.self"),
                    attentionOutput: try linear("\(p).attention.output.dense", inputs: shape.width, outputs: shape.width),
                    attentionNorm: try norm("\(p).attention.output.LayerNorm"),
                    intermediate: try linear("\(p).intermediate.dense", inputs: shape.width, outputs: shape.intermediate),
                    output: try linear("\(p).output.dense", inputs: shape.intermediate, outputs: shape.width),
                    outputNorm: try norm("\(p).output.LayerNorm")))
            }
            self.layers = layers
        } catch {
            buffers.forEach { $0.deallocate() }
            throw error
        }
        self.buffers = buffers
    }

    /// Each row of `table` (rows of `width`) as int8 codes and a scale: the
    /// row's largest magnitude over 127 (1 for a row of zeros). Numbers that
    /// are not finite (a damaged file) count as 0. In C (`trail_i8_rows`):
    /// 11.7M numbers, which a debug build's Swift loop took seconds over.
    static func quantiseRows(_ table: [Float], width: Int, codes: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        trail_i8_rows(table, table.count / width, Int32(width), codes, scales)
    }

    deinit { buffers.forEach { $0.deallocate() } }
}
