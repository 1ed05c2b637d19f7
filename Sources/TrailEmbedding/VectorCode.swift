/// One vector in int8 (scalar quantisation): `code = round(x / scale)` with
/// `scale = max |x| / 127`, so that `x ≈ code × scale` and the largest
/// component maps to ±127.
///
/// The vector is taken to unit length first (a no-op for the encoder's
/// vectors, which already are), so that the dot product of two vectors'
/// `code × scale` approximates their cosine. Components that are not finite
/// count as 0; a vector with no non-zero component gets scale 0.
struct VectorCode: Sendable {
    /// `stride` codes: the vector's, then zeros.
    var codes: [Int8]
    var scale: Float

    init(_ vector: [Float], stride: Int) {
        precondition(vector.count <= stride)
        codes = [Int8](repeating: 0, count: stride)
        var largest: Float = 0
        for x in vector where x.isFinite { largest = max(largest, abs(x)) }
        guard largest > 0 else {
            scale = 0
            return
        }
        // Relative to the largest component, so that neither tiny nor huge vectors under- or overflow.
        var sumOfSquares: Float = 0
        for (i, x) in vector.enumerated() where x.isFinite {
            let relative = x / largest
            sumOfSquares += relative * relative
            codes[i] = Int8(max(-127, min(127, (relative * 127).rounded())))
        }
        // max |x| / 127 of the unit vector x / |x|, with |x| = largest × √sumOfSquares.
        scale = 1 / (127 * sumOfSquares.squareRoot())
    }
}
