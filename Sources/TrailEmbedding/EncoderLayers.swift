import COpenBLAS
import Foundation

/// The layer kinds of a BERT encoder as plain functions over flat row-major
/// buffers. `tokens` rows of a batch are packed one sequence after another
/// (no padding): the dense layers see every token of the batch at once, and
/// attention runs within each sequence's rows.
enum EncoderLayers {
    /// y[T, out] = x[T, in] · Wᵀ + b, with W as PyTorch keeps it, [out, in].
    static func linear(_ x: UnsafePointer<Float>, tokens: Int, _ layer: Linear, into y: UnsafeMutablePointer<Float>) {
        for t in 0..<tokens {
            (y + t * layer.outputs).update(from: layer.bias, count: layer.outputs)
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(tokens), Int32(layer.outputs), Int32(layer.inputs),
                    1, x, Int32(layer.inputs), layer.weight, Int32(layer.inputs), 1, y, Int32(layer.outputs))
    }

    /// x[t] = γ · (x[t] − mean) / √(var + ε) + β, per row of `width`.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, tokens: Int, width: Int, _ norm: Norm) {
        for t in 0..<tokens {
            let row = x + t * width
            var mean: Float = 0
            for i in 0..<width { mean += row[i] }
            mean /= Float(width)
            var variance: Float = 0
            for i in 0..<width { let d = row[i] - mean; variance += d * d }
            variance /= Float(width)
            let scale = 1 / (variance + norm.epsilon).squareRoot()
            for i in 0..<width { row[i] = (row[i] - mean) * scale * norm.gamma[i] + norm.beta[i] }
        }
    }

    /// x += y, elementwise over `count` values (a residual connection).
    static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }

    /// x = x · Φ(x) = ½x(1 + erf(x/√2)), the exact GELU BERT was trained with.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752))
        }
    }

    /// Multi-head self-attention within each sequence: for each head h,
    /// context_h = softmax(Q_h K_hᵀ / √d) V_h, where `qkv` holds [T, 3·width]
    /// (queries, keys, values side by side) and `context` receives [T, width].
    static func attention(_ qkv: UnsafePointer<Float>, lengths: [Int], width: Int, heads: Int,
                          scores: UnsafeMutablePointer<Float>, into context: UnsafeMutablePointer<Float>) {
        let headWidth = width / heads
        let stride = 3 * width
        let scale = 1 / Float(headWidth).squareRoot()
        var start = 0
        for length in lengths {
            let rows = qkv + start * stride
            for h in 0..<heads {
                let q = rows + h * headWidth
                let k = rows + width + h * headWidth
                let v = rows + 2 * width + h * headWidth
                // scores[L, L] = Q_h · K_hᵀ / √d
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(length), Int32(length), Int32(headWidth),
                            scale, q, Int32(stride), k, Int32(stride), 0, scores, Int32(length))
                softmaxRows(scores, rows: length, width: length)
                // context_h[L, d] = scores · V_h
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(length), Int32(headWidth), Int32(length),
                            1, scores, Int32(length), v, Int32(stride), 0,
                            context + start * width + h * headWidth, Int32(width))
            }
            start += length
        }
    }

    /// Each row of `x` becomes exp(x − max) / Σ exp(x − max).
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let row = x + r * width
            var top = row[0]
            for i in 1..<width { top = max(top, row[i]) }
            var sum: Float = 0
            for i in 0..<width { row[i] = expf(row[i] - top); sum += row[i] }
            let inverse = 1 / sum
            for i in 0..<width { row[i] *= inverse }
        }
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
    let weight: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>
}

/// A layer norm's scale and shift, [width] each.
struct Norm: @unchecked Sendable {
    let gamma: UnsafeMutablePointer<Float>
    let beta: UnsafeMutablePointer<Float>
    let epsilon: Float
}
