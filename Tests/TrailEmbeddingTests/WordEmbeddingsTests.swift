import Testing
@testable import TrailEmbedding

@Suite("int8 word embeddings")
struct WordEmbeddingsTests {
    @Test("each row is kept within half its step, a row of zeros stays zeros, numbers that are not finite count as 0")
    func rowsQuantised() {
        let width = 8
        let rows: [[Float]] = [
            [0.5, -0.25, 0.125, 0, -1, 0.75, 0.0625, -0.5],
            [0, 0, 0, 0, 0, 0, 0, 0],
            [Float.infinity, 0.2, -Float.nan, -0.4, 0.1, -Float.infinity, 0.3, 0.05],
            [3e38, -3e38, 1, 0, 0, 0, 0, 0],
        ]
        let codes = UnsafeMutablePointer<Int8>.allocate(capacity: rows.count * width)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: rows.count)
        defer { codes.deallocate(); scales.deallocate() }
        EncoderWeights.quantiseRows(rows.flatMap { $0 }, width: width, codes: codes, scales: scales)
        let embeddings = WordEmbeddings.int8(codes: codes, scales: scales)
        let zeros = [Float](repeating: 0, count: width)
        for (r, row) in rows.enumerated() {
            let finite = row.map { $0.isFinite ? $0 : 0 }
            let step = finite.map(abs).max()! / 127
            var out = [Float](repeating: .nan, count: width)
            zeros.withUnsafeBufferPointer { z in
                out.withUnsafeMutableBufferPointer { embeddings.sum(r, width: width, place: z.baseAddress!, type: z.baseAddress!, into: $0.baseAddress!) }
            }
            for i in 0..<width {
                #expect(out[i].isFinite && abs(out[i] - finite[i]) <= step / 2 * 1.0001, "row \(r), number \(i): \(out[i]) for \(finite[i])")
            }
        }
        #expect(scales[1] == 1 && (0..<width).allSatisfy { codes[width + $0] == 0 })
    }
}
