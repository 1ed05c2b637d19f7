import COpenBLAS
import CTrailKernels
import Foundation

/// The layer kinds of a BERT encoder as plain functions over flat row-major
/// buffers. `tokens` rows of a batch are packed one sequence after another
/// (no padding): the dense layers see every token of the batch at once, and
/// attention runs within each sequence's rows.
enum EncoderLayers {
    /// y[T, out] = x[T, in] · Wᵀ + b, with W as PyTorch keeps it, [out, in]
    /// (int8 weights: x quantised per token into `scratch` first).
    static func linear(_ x: UnsafePointer<Float>, tokens: Int, _ layer: Linear, into y: UnsafeMutablePointer<Float>,
                       scratch: QuantizedInputs) {
        switch layer.weights {
        case let .float(weight):
            for t in 0..<tokens {
                (y + t * layer.outputs).update(from: layer.bias, count: layer.outputs)
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(tokens), Int32(layer.outputs), Int32(layer.inputs),
                        1, x, Int32(layer.inputs), weight, Int32(layer.inputs), 1, y, Int32(layer.outputs))
        case let .int8(packed, scale, sums):
            trail_u8_quantize(x, Int32(tokens), Int32(layer.inputs), scratch.bytes, scratch.scales, scratch.zeros)
            trail_i8_gemm(scratch.bytes, scratch.scales, scratch.zeros, Int32(tokens), Int32(layer.inputs), packed, scale, sums,
                          layer.bias, Int32(layer.outputs), y)
        }
    }

    /// x[t] = γ · (x[t] + r[t] − mean) / √(var + ε) + β, per row of `width`:
    /// the residual `r` added first when given.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, adding residual: UnsafePointer<Float>? = nil, tokens: Int, width: Int,
                          _ norm: Norm) {
        trail_layer_norm(x, residual, tokens, Int32(width), norm.gamma, norm.beta, norm.epsilon)
    }

    /// x = x · Φ(x) = ½x(1 + erf(x/√2)), the exact GELU BERT was trained with.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        trail_gelu(x, count)
    }

    /// Multi-head self-attention within each sequence: for each head h,
    /// context_h = softmax(Q_h K_hᵀ / √d) V_h, where `qkv` holds [T, 3·width]
    /// (queries, keys, values side by side) and `context` receives [T, width].
    /// `work` holds `attentionWork(longest:width:heads:)` floats.
    static func attention(_ qkv: UnsafePointer<Float>, lengths: [Int32], width: Int, heads: Int,
                          work: UnsafeMutablePointer<Float>, into context: UnsafeMutablePointer<Float>) {
        trail_attention(qkv, lengths, Int32(lengths.count), Int32(width), Int32(heads), work, context)
    }

    /// The floats `attention` works in for sequences of at most `longest` tokens.
    static func attentionWork(longest: Int, width: Int, heads: Int) -> Int {
        max(1, longest * (longest + width / heads))
    }

    /// out[s] = mean of sequence s's rows of `x`, scaled to unit length.
    static func meanPoolNormalized(_ x: UnsafePointer<Float>, lengths: [Int], width: Int) -> [[Float]] {
        var start = 0
        return lengths.map { length in
            var sum = [Double](repeating: 0, count: width)
            for t in start..<(start + length) {
                let row = x + t * width
                for i in 0..<width { sum[i] += Double(row[i]) }
            }
            start += length
            let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return sum.map { norm > 0 ? Float($0 / norm) : 0 }
        }
    }
}

/// A dense layer's weights: `weight` [outputs, inputs], `bias` [outputs].
struct Linear: @unchecked Sendable {
    let inputs: Int
    let outputs: Int
    let weights: LinearWeights
    let bias: UnsafeMutablePointer<Float>
}

/// A dense layer's weights as its products read them.
enum LinearWeights: @unchecked Sendable {
    /// [outputs, inputs] floats, as PyTorch keeps them (OpenBLAS `sgemm`).
    case float(UnsafeMutablePointer<Float>)
    /// Int8 per output row, packed for `trail_i8_gemm`: `outputs · inputs`
    /// bytes, a scale and the sum of each row.
    case int8(packed: UnsafeMutablePointer<Int8>, scale: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Int32>)
}

/// The numbers the encoder's dense layers compute with.
public enum EncoderPrecision: String, Sendable, CaseIterable {
    /// Weights in int8, one scale per output; each token's inputs quantised
    /// to 8 bits over their range on the way in (AVX-512 VNNI where the CPU
    /// has it). Held to
    /// the float reference by the tests: cosine at least 0.99 on every
    /// reference text, the paraphrase set's top 3 unchanged.
    case int8
    /// float32 throughout: the reference.
    case float
}

/// Room for one pass's quantised inputs: bytes, and a scale and a zero point per token.
struct QuantizedInputs {
    let bytes: UnsafeMutablePointer<UInt8>
    let scales: UnsafeMutablePointer<Float>
    let zeros: UnsafeMutablePointer<Int32>

    init(tokens: Int, widest: Int) {
        bytes = .allocate(capacity: max(1, tokens * widest))
        scales = .allocate(capacity: max(1, tokens))
        zeros = .allocate(capacity: max(1, tokens))
    }

    func deallocate() {
        bytes.deallocate()
        scales.deallocate()
        zeros.deallocate()
    }
}

/// A layer norm's scale and shift, [width] each.
struct Norm: @unchecked Sendable {
    let gamma: UnsafeMutablePointer<Float>
    let beta: UnsafeMutablePointer<Float>
    let epsilon: Float
}
