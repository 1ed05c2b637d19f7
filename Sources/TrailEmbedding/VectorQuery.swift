/// A query vector made ready for a scan: its int8 code, and that code laid
/// out for the SIMD kernel.
///
/// The kernel reads a stored vector 16 codes at a time as eight 16-bit
/// words; on a little-endian machine (x86-64 and arm64, all this project
/// builds for) a word's low byte is the even code and its high byte the odd
/// one. So the query is kept as two rows of 16-bit lanes:
/// `even[j][l] = code[16j + 2l]` and `odd[j][l] = code[16j + 2l + 1]`.
final class VectorQuery {
    /// Codes in one block of the kernel.
    static let block = 16

    /// The query's code scale (`VectorCode.scale`).
    let scale: Float
    /// Codes per stored vector, a multiple of `block`.
    let stride: Int
    let codes: UnsafeMutablePointer<Int8>
    let even: UnsafeMutablePointer<SIMD8<Int16>>
    let odd: UnsafeMutablePointer<SIMD8<Int16>>

    init(_ vector: [Float], stride: Int) {
        precondition(stride % Self.block == 0)
        let code = VectorCode(vector, stride: stride)
        scale = code.scale
        self.stride = stride
        let blocks = stride / Self.block
        codes = .allocate(capacity: stride)
        codes.initialize(from: code.codes, count: stride)
        even = .allocate(capacity: blocks)
        odd = .allocate(capacity: blocks)
        for j in 0..<blocks {
            var e = SIMD8<Int16>(), o = SIMD8<Int16>()
            for l in 0..<8 {
                e[l] = Int16(code.codes[j * Self.block + 2 * l])
                o[l] = Int16(code.codes[j * Self.block + 2 * l + 1])
            }
            (even + j).initialize(to: e)
            (odd + j).initialize(to: o)
        }
    }

    deinit {
        codes.deallocate()
        even.deallocate()
        odd.deallocate()
    }

    /// Σ code[i] × query[i] over the `stride` codes at `vector`: exact, as
    /// |code| ≤ 127 keeps it under 127² × stride < 2³¹.
    ///
    /// Unoptimised (debug) builds run the scalar loop: without the optimiser
    /// every SIMD operation is a generic call, and the SIMD kernel takes some
    /// 25 µs a vector of 384 against the scalar loop's 0.4 µs, too slow for
    /// the tests. Both give the same integer; a test holds them to it.
    @inline(__always)
    func dot(_ vector: UnsafePointer<Int8>) -> Int32 {
        #if DEBUG
        Self.scalarDot(vector, codes, count: stride)
        #else
        Self.simdDot(UnsafeRawPointer(vector), even: even, odd: odd, blocks: stride / Self.block)
        #endif
    }

    /// The SIMD kernel, 16 codes a step in SSE2 (x86-64's baseline, no
    /// -march needed): split the eight words into their sign-extended high
    /// bytes (`w >> 8`) and low bytes (`(w << 8) >> 8`), then multiply-add
    /// each with the query's odd and even lanes into 32-bit sums.
    @inline(__always)
    static func simdDot(
        _ vector: UnsafeRawPointer, even: UnsafePointer<SIMD8<Int16>>, odd: UnsafePointer<SIMD8<Int16>>, blocks: Int
    ) -> Int32 {
        var oddSum = SIMD4<Int32>(), evenSum = SIMD4<Int32>()
        for j in 0..<blocks {
            let words = vector.loadUnaligned(fromByteOffset: j &* block, as: SIMD8<Int16>.self)
            oddSum &+= multiplyAdd(words &>> 8, odd[j])
            evenSum &+= multiplyAdd((words &<< 8) &>> 8, even[j])
        }
        return (oddSum &+ evenSum).wrappedSum()
    }

    /// (a₀b₀ + a₁b₁, a₂b₂ + a₃b₃, …) in 32 bits: the shape LLVM turns into
    /// one `pmaddwd` (`vpmaddwd` with AVX).
    @inline(__always)
    static func multiplyAdd(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD4<Int32> {
        let products = SIMD8<Int32>(truncatingIfNeeded: a) &* SIMD8<Int32>(truncatingIfNeeded: b)
        return products.evenHalf &+ products.oddHalf
    }

    /// The same sum, two codes at a time (`count` is even; unoptimised, a
    /// `while` with two products a turn runs twice as fast as `for i in`).
    @inline(__always)
    static func scalarDot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, count: Int) -> Int32 {
        var sum: Int32 = 0, i = 0
        while i < count {
            sum &+= Int32(a[i]) &* Int32(b[i]) &+ Int32(a[i &+ 1]) &* Int32(b[i &+ 1])
            i &+= 2
        }
        return sum
    }
}
