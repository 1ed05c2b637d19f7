import COpenBLAS
import CTrailKernels
import Foundation
import Testing
@testable import TrailEmbedding

/// The C kernels of the encoder (Sources/CTrailKernels) against plain
/// references, on every level of instructions this CPU has (plain C, AVX2,
/// AVX-512): the int8 products against float ones and against the plain C
/// loop, GELU against erff, layer norm and attention against direct loops.
@Suite("encoder kernels")
struct EncoderKernelTests {
    static let names = [Int32(TRAIL_KERNELS_PORTABLE): "plain C", Int32(TRAIL_KERNELS_AVX2): "AVX2", Int32(TRAIL_KERNELS_AVX512): "AVX-512"]

    /// Runs `body` once for each level this CPU has for `kind`, plain C
    /// first, with the calling thread capped at it (a test's cases run on
    /// threads of their own, and the cap is the thread's).
    static func eachLevel(_ kind: Int32, _ body: (Int32) -> Void) {
        defer { trail_kernels_limit(-1) }
        var seen: [Int32] = []
        for cap in [TRAIL_KERNELS_PORTABLE, TRAIL_KERNELS_AVX2, TRAIL_KERNELS_AVX512].map({ Int32($0) }) {
            trail_kernels_limit(cap)
            let level = trail_kernels_level(kind)
            guard !seen.contains(level) else { continue }
            seen.append(level)
            body(level)
        }
    }

    /// Seeded values in [-1, 1), with a few large ones (as BERT's activations have).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let v = Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000
            return i % 97 == 0 ? v * 20 : v
        }
    }

    @Test("int8 products: every level gives the plain C loop's bytes and sums (AVX2 its floats), within 1 % of float", arguments: [
        (1, 384, 384), (12, 1152, 384), (7, 384, 1536), (33, 48, 20), (5, 16, 4),
    ])
    func int8Product(tokens: Int, outputs: Int, inputs: Int) {
        let w = Self.values(outputs * inputs, seed: 1)
        let x = Self.values(tokens * inputs, seed: 2)
        let bias = Self.values(outputs, seed: 3)
        var packed = [Int8](repeating: 0, count: outputs * inputs)
        var scale = [Float](repeating: 0, count: outputs)
        var sums = [Int32](repeating: 0, count: outputs)
        trail_i8_pack(w, Int32(outputs), Int32(inputs), &packed, &scale, &sums)

        var plain: (q: [UInt8], qs: [Float], qz: [Int32], y: [Float])?
        var y: [Float] = []
        Self.eachLevel(Int32(TRAIL_KERNELS_INT8)) { level in
            var q = [UInt8](repeating: 0, count: tokens * inputs)
            var qs = [Float](repeating: 0, count: tokens), qz = [Int32](repeating: 0, count: tokens)
            trail_u8_quantize(x, Int32(tokens), Int32(inputs), &q, &qs, &qz)
            y = [Float](repeating: 0, count: tokens * outputs)
            trail_i8_gemm(q, qs, qz, Int32(tokens), Int32(inputs), packed, scale, sums, bias, Int32(outputs), &y)
            print("int8 \(tokens)x\(outputs)x\(inputs): \(Self.names[level]!)")
            guard let plain else {
                plain = (q, qs, qz, y)
                return
            }
            #expect(q == plain.q && qs == plain.qs && qz == plain.qz, "\(Self.names[level]!)")
            if level == TRAIL_KERNELS_AVX2 {
                // Exact sums, and the plain loop's own last expression: the same floats.
                #expect(y == plain.y)
            } else {
                // Exact sums; the last step is a fused multiply-add, which may round apart.
                for i in y.indices { #expect(abs(y[i] - plain.y[i]) <= 1e-5 * max(1, abs(y[i])), "output \(i)") }
            }
        }

        var reference = [Float](repeating: 0, count: tokens * outputs)
        for t in 0..<tokens { for o in 0..<outputs { reference[t * outputs + o] = bias[o] } }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(tokens), Int32(outputs), Int32(inputs),
                    1, x, Int32(inputs), w, Int32(inputs), 1, &reference, Int32(outputs))
        for t in 0..<tokens {
            let row = Array(y[(t * outputs)..<((t + 1) * outputs)]), want = Array(reference[(t * outputs)..<((t + 1) * outputs)])
            let dot = zip(row, want).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let norms = (row.reduce(0.0) { $0 + Double($1) * Double($1) } * want.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
            #expect(dot / norms >= 0.99, "token \(t)")
        }
    }

    @Test("GELU on every level equals x·Φ(x) by erff within 2e-6 over [-12, 12], odd lengths included")
    func gelu() {
        Self.eachLevel(Int32(TRAIL_KERNELS_FLOAT)) { level in
            for count in [1, 7, 8, 9, 15, 16, 17, 4001] {
                let input = (0..<count).map { Float($0) / Float(max(1, count - 1)) * 24 - 12 }
                var x = input
                trail_gelu(&x, count)
                for i in x.indices {
                    let want = 0.5 * input[i] * (1 + erff(input[i] * 0.70710678118654752))
                    #expect(abs(x[i] - want) <= 2e-6 * max(1, abs(want)), "x = \(input[i]) at \(i) of \(count), \(Self.names[level]!)")
                }
            }
        }
    }

    @Test("layer norm with and without a residual, on every level, equals a float64 loop within 1e-5",
          arguments: [(1, 384), (9, 384), (3, 40), (2, 16), (2, 12)], [false, true])
    func layerNorm(shape: (tokens: Int, width: Int), residual: Bool) {
        let (tokens, width) = shape
        let x = Self.values(tokens * width, seed: 11).map { $0 * 3 + 0.5 }
        let r = Self.values(tokens * width, seed: 12)
        let gamma = Self.values(width, seed: 13).map { 1 + $0 / 10 }, beta = Self.values(width, seed: 14).map { $0 / 10 }
        var want = [Double](repeating: 0, count: tokens * width)
        for t in 0..<tokens {
            let row = (0..<width).map { Double(x[t * width + $0]) + (residual ? Double(r[t * width + $0]) : 0) }
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
            for i in 0..<width { want[t * width + i] = (row[i] - mean) / (variance + 1e-12).squareRoot() * Double(gamma[i]) + Double(beta[i]) }
        }
        Self.eachLevel(Int32(TRAIL_KERNELS_FLOAT)) { level in
            var got = x
            if residual {
                r.withUnsafeBufferPointer { trail_layer_norm(&got, $0.baseAddress, tokens, Int32(width), gamma, beta, 1e-12) }
            } else {
                trail_layer_norm(&got, nil, tokens, Int32(width), gamma, beta, 1e-12)
            }
            for i in got.indices {
                #expect(abs(Double(got[i]) - want[i]) <= 1e-5 * max(1, abs(want[i])), "value \(i) of \(tokens)x\(width), \(Self.names[level]!)")
            }
        }
    }

    @Test("attention on every level equals a direct loop: softmax(Q Kᵀ / √d) V per head and sequence",
          arguments: [([1], 64, 4), ([5, 12], 64, 4), ([17, 3, 40], 384, 12), ([9, 2], 72, 6), ([3, 10], 16, 2),
                      ([9, 2], 80, 2), ([6, 19], 128, 2)])
    func attention(lengths: [Int], width: Int, heads: Int) {
        let d = width / heads
        let tokens = lengths.reduce(0, +)
        let qkv = Self.values(tokens * 3 * width, seed: 9)
        var want = [Double](repeating: 0, count: tokens * width)
        var start = 0
        for length in lengths {
            for h in 0..<heads {
                for i in 0..<length {
                    let q = (start + i) * 3 * width + h * d
                    var scores = (0..<length).map { j -> Double in
                        let k = (start + j) * 3 * width + width + h * d
                        return (0..<d).reduce(0.0) { $0 + Double(qkv[q + $1]) * Double(qkv[k + $1]) } / Double(d).squareRoot()
                    }
                    let top = scores.max()!
                    scores = scores.map { exp($0 - top) }
                    let sum = scores.reduce(0, +)
                    for c in 0..<d {
                        want[(start + i) * width + h * d + c] =
                            (0..<length).reduce(0.0) { $0 + scores[$1] / sum * Double(qkv[(start + $1) * 3 * width + 2 * width + h * d + c]) }
                    }
                }
            }
            start += length
        }
        Self.eachLevel(Int32(TRAIL_KERNELS_FLOAT)) { level in
            var context = [Float](repeating: 0, count: tokens * width)
            var work = [Float](repeating: 0, count: EncoderLayers.attentionWork(longest: lengths.max()!, width: width, heads: heads))
            trail_attention(qkv, lengths.map { Int32($0) }, Int32(lengths.count), Int32(width), Int32(heads), &work, &context)
            for i in context.indices {
                let (token, column) = i.quotientAndRemainder(dividingBy: width)
                #expect(abs(Double(context[i]) - want[i]) <= 1e-5 * max(1, abs(want[i])),
                        "token \(token), head \(column / d), column \(column % d), \(Self.names[level]!)")
            }
        }
    }
}
