import COpenBLAS
import CTrailKernels
import Foundation
import Testing
@testable import TrailEmbedding

/// The C kernels of the encoder (Sources/CTrailKernels) against plain
/// references: the int8 products against float ones and their own portable
/// loops, GELU against erff, attention against a direct Swift loop.
@Suite("encoder kernels")
struct EncoderKernelTests {
    /// Seeded values in [-1, 1), with a few large ones (as BERT's activations have).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let v = Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000
            return i % 97 == 0 ? v * 20 : v
        }
    }

    @Test("int8 products: the VNNI or AVX2 path equals the portable loop, and both stay within 1 % of float", arguments: [
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

        var q = [UInt8](repeating: 0, count: tokens * inputs), qPortable = q
        var qs = [Float](repeating: 0, count: tokens), qsPortable = qs
        var qz = [Int32](repeating: 0, count: tokens), qzPortable = qz
        trail_u8_quantize(x, Int32(tokens), Int32(inputs), &q, &qs, &qz)
        trail_u8_quantize_portable(x, Int32(tokens), Int32(inputs), &qPortable, &qsPortable, &qzPortable)
        #expect(q == qPortable)
        #expect(qs == qsPortable)
        #expect(qz == qzPortable)

        var y = [Float](repeating: 0, count: tokens * outputs), yPortable = y
        trail_i8_gemm(q, qs, qz, Int32(tokens), Int32(inputs), packed, scale, sums, bias, Int32(outputs), &y)
        trail_i8_gemm_portable(q, qs, qz, Int32(tokens), Int32(inputs), packed, scale, sums, bias, Int32(outputs), &yPortable)
        // Integer sums are exact; only the last step (a fused multiply-add or not) may round apart.
        for i in y.indices {
            #expect(abs(y[i] - yPortable[i]) <= 1e-5 * max(1, abs(y[i])), "output \(i)")
        }
        if trail_i8_gemm_uses_avx2() == 1 {
            // The AVX2 path ends with the portable loop's own expression: the same floats.
            #expect(y == yPortable)
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
        print("int8 \(tokens)x\(outputs)x\(inputs): \(trail_i8_gemm_uses_vnni() == 1 ? "VNNI" : trail_i8_gemm_uses_avx2() == 1 ? "AVX2" : "portable")")
    }

    @Test("GELU equals x·Φ(x) by erff within 2e-6 over [-12, 12], odd lengths included")
    func gelu() {
        for count in [1, 15, 16, 17, 4001] {
            var x = (0..<count).map { Float($0) / Float(max(1, count - 1)) * 24 - 12 }
            let want = x.map { 0.5 * $0 * (1 + erff($0 * 0.70710678118654752)) }
            trail_gelu(&x, count)
            for i in x.indices { #expect(abs(x[i] - want[i]) <= 2e-6 * max(1, abs(want[i])), "x = \(want[i]) at \(i) of \(count)") }
        }
    }

    @Test("layer norm with and without a residual, the dispatched kernel and the portable one, equals a float64 loop within 1e-5",
          arguments: [(1, 384), (9, 384), (3, 40), (2, 16)], [false, true])
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
        for kernel in [trail_layer_norm, trail_layer_norm_portable] {
            var got = x
            if residual {
                r.withUnsafeBufferPointer { kernel(&got, $0.baseAddress, tokens, Int32(width), gamma, beta, 1e-12) }
            } else {
                kernel(&got, nil, tokens, Int32(width), gamma, beta, 1e-12)
            }
            for i in got.indices { #expect(abs(Double(got[i]) - want[i]) <= 1e-5 * max(1, abs(want[i])), "value \(i) of \(tokens)x\(width)") }
        }
    }

    @Test("attention, the dispatched kernel and the portable one, equals a direct loop: softmax(Q Kᵀ / √d) V per head and sequence",
          arguments: [([1], 64, 4), ([5, 12], 64, 4), ([17, 3, 40], 384, 12), ([9, 2], 72, 6)], [false, true])
    func attention(shape: ([Int], Int, Int), portable: Bool) {
        let (lengths, width, heads) = shape
        let d = width / heads
        let tokens = lengths.reduce(0, +)
        let qkv = Self.values(tokens * 3 * width, seed: 9)
        var context = [Float](repeating: 0, count: tokens * width)
        var work = [Float](repeating: 0, count: EncoderLayers.attentionWork(longest: lengths.max()!, width: width, heads: heads))
        (portable ? trail_attention_portable : trail_attention)(qkv, lengths.map { Int32($0) }, Int32(lengths.count), Int32(width),
                                                                Int32(heads), &work, &context)
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
                        let want = (0..<length).reduce(0.0) { $0 + scores[$1] / sum * Double(qkv[(start + $1) * 3 * width + 2 * width + h * d + c]) }
                        let got = context[(start + i) * width + h * d + c]
                        #expect(abs(Double(got) - want) <= 1e-5 * max(1, abs(want)), "sequence at \(start), head \(h), row \(i), column \(c)")
                    }
                }
            }
            start += length
        }
    }
}
