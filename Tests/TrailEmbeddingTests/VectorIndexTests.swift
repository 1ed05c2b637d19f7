import COpenBLAS
import Foundation
import Testing
@testable import TrailEmbedding

/// SplitMix64: a fixed-seed generator, so the synthetic sets are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    /// Box-Muller makes normal numbers in pairs: the second, for the next call.
    var spare: Float?
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal number (Box-Muller).
    mutating func gaussian() -> Float {
        if let spare {
            self.spare = nil
            return spare
        }
        let u = Double(next() >> 11 + 1) * 0x1p-53, v = Double(next() >> 11) * 0x1p-53  // u in (0, 1], v in [0, 1)
        let r = (-2 * log(u)).squareRoot()
        spare = Float(r * sin(2 * Double.pi * v))
        return Float(r * cos(2 * Double.pi * v))
    }

    mutating func unitVector(_ dimensions: Int) -> [Float] {
        unit((0..<dimensions).map { _ in gaussian() })
    }
}

func unit(_ v: [Float]) -> [Float] {
    let length = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return v.map { $0 / length }
}

func dot(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}

/// Unit vectors shaped like sentence embeddings: each mostly one of a few
/// hundred topics (random centres), partly a second, plus noise, so that a
/// vector's neighbours are meaningfully close (cosine 0.5 to 0.8) yet many
/// are nearly tied, as for real notes.
struct TopicalVectors {
    var generator: SeededGenerator
    let centres: [[Float]]

    init(dimensions: Int, topics: Int, seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        centres = (0..<topics).map { _ in g.unitVector(dimensions) }
        generator = g
    }

    mutating func next() -> [Float] {
        let main = centres[Int.random(in: 0..<centres.count, using: &generator)]
        let second = centres[Int.random(in: 0..<centres.count, using: &generator)]
        let mix = Float.random(in: 0..<0.5, using: &generator)
        return unit((0..<main.count).map { main[$0] + mix * second[$0] + 0.035 * generator.gaussian() })
    }
}

@Suite("vector index")
struct VectorIndexTests {
    @Test("insert, replace, remove, contains and count, namespace by namespace")
    func bookkeeping() {
        let index = VectorIndex(dimensions: 4)
        #expect(index.dimensions == 4)
        #expect(index.count == 0 && index.memoryBytes == 0)
        index.insert(ns: "a", handle: 1, vector: [1, 0, 0, 0])
        index.insert(ns: "a", handle: 2, vector: [0, 1, 0, 0])
        index.insert(ns: "a", [(handle: 3, vector: [0, 0, 1, 0]), (handle: 4, vector: [0, 0, 0, 1])])
        index.insert(ns: "b", handle: 1, vector: [0, 0, 0, 1])
        #expect(index.count(ns: "a") == 4 && index.count(ns: "b") == 1 && index.count(ns: "c") == 0)
        #expect(index.count == 5)
        #expect(index.handles(ns: "a").sorted() == [1, 2, 3, 4])
        #expect(index.handles(ns: "b") == [1] && index.handles(ns: "c") == [])
        #expect(index.contains(ns: "a", key: UInt64(4)) && index.contains(ns: "b", key: UInt64(1)))
        #expect(!index.contains(ns: "b", key: UInt64(4)) && !index.contains(ns: "c", key: UInt64(1)))
        #expect(index.memoryBytes > 0)

        // Replacing keeps the count and moves the note.
        index.insert(ns: "a", handle: 2, vector: [1, 0, 0, 0])
        index.insert(ns: "a", [(handle: 3, vector: [0, 1, 0, 0]), (handle: 3, vector: [0, 0, 0, -1])])
        #expect(index.count(ns: "a") == 4)
        #expect(index.nearest(ns: "a", to: [1, 0, 0, 0], k: 2).map(\.handle) == [1, 2])
        #expect(index.nearest(ns: "a", to: [0, 0, 0, -1], k: 1).map(\.handle) == [3], "the batch's last vector for 3 wins")

        // Namespaces never mix: "b"'s note 1 is [0, 0, 0, 1] whatever "a" holds.
        #expect(index.nearest(ns: "b", to: [1, 0, 0, 0], k: 5).map(\.handle) == [1])
        #expect(abs(index.nearest(ns: "b", to: [0, 0, 0, 1], k: 1)[0].similarity - 1) < 0.01)

        // Removing: absent handles and namespaces are no-ops.
        index.remove(ns: "a", key: UInt64(1))
        index.remove(ns: "a", key: UInt64(1))
        index.remove(ns: "b", key: UInt64(2))
        index.remove(ns: "c", key: UInt64(1))
        #expect(index.count(ns: "a") == 3 && index.count(ns: "b") == 1 && index.count == 4)
        #expect(!index.contains(ns: "a", key: UInt64(1)) && index.contains(ns: "b", key: UInt64(1)))
        #expect(index.handles(ns: "a").sorted() == [2, 3, 4])
        #expect(index.nearest(ns: "a", to: [1, 0, 0, 0], k: 1).map(\.handle) == [2])

        // An emptied namespace is gone, with its memory.
        let before = index.memoryBytes
        for handle: Int64 in [2, 3, 4] { index.remove(ns: "a", key: UInt64(handle)) }
        #expect(index.count(ns: "a") == 0 && index.handles(ns: "a") == [] && index.count == 1)
        #expect(index.nearest(ns: "a", to: [1, 0, 0, 0], k: 3).isEmpty)
        #expect(index.memoryBytes < before)
        index.insert(ns: "a", handle: 7, vector: [0, 1, 0, 0])
        #expect(index.handles(ns: "a") == [7] && index.count == 2)
    }

    @Test("removals move the last slot into the hole: every note still finds itself")
    func swapRemove() {
        var g = SeededGenerator(seed: 7)
        let index = VectorIndex(dimensions: 384)
        var vectors: [Int64: [Float]] = [:]
        for handle in Int64(1)...300 { vectors[handle] = g.unitVector(384) }
        index.insert(ns: "n", vectors.map { (handle: $0.key, vector: $0.value) })
        // Loaded in one batch: the arrays are sized to it, without spare room.
        let packed = 300 * (384 + MemoryLayout<Float>.size + MemoryLayout<Int64>.size)
        #expect(index.memoryBytes >= packed && index.memoryBytes <= packed + 300 * 40, "\(index.memoryBytes) bytes")
        for handle in vectors.keys.shuffled(using: &g).prefix(170) {
            index.remove(ns: "n", key: UInt64(handle))
            vectors[handle] = nil
        }
        for handle in Int64(301)...340 {
            vectors[handle] = g.unitVector(384)
            index.insert(ns: "n", handle: handle, vector: vectors[handle]!)
        }
        #expect(index.count(ns: "n") == vectors.count)
        #expect(Set(index.handles(ns: "n")) == Set(vectors.keys))
        for (handle, vector) in vectors {
            let best = index.nearest(ns: "n", to: vector, k: 1)
            #expect(best.first?.handle == handle)
            #expect(abs((best.first?.similarity ?? 0) - 1) < 0.01)
        }
    }

    @Test("nearest on hand-made vectors: order, similarities, ties by handle, k and odd sizes")
    func nearestTiny() {
        let index = VectorIndex(dimensions: 3)
        let s = Float(0.5).squareRoot()
        index.insert(ns: "n", handle: 10, vector: [1, 0, 0])
        index.insert(ns: "n", handle: 20, vector: [0, 1, 0])
        index.insert(ns: "n", handle: 30, vector: [s, s, 0])
        index.insert(ns: "n", handle: 40, vector: [-1, 0, 0])
        index.insert(ns: "n", handle: 50, vector: [0.6, 0, 0.8])
        let all = index.nearest(ns: "n", to: [1, 0, 0], k: 10)
        #expect(all.map(\.handle) == [10, 30, 50, 20, 40])
        for (got, want) in zip(all.map(\.similarity), [1, s, 0.6, 0, -1] as [Float]) {
            #expect(abs(got - want) < 0.01, "\(got) vs \(want)")
        }
        #expect(index.nearest(ns: "n", to: [1, 0, 0], k: 2).map(\.handle) == [10, 30])
        #expect(index.nearest(ns: "n", to: [1, 0, 0], k: 0).isEmpty)
        #expect(index.nearest(ns: "n", to: [1, 0, 0], k: -3).isEmpty)
        #expect(index.nearest(ns: "other", to: [1, 0, 0], k: 3).isEmpty)
        // Length does not matter, direction does.
        #expect(index.nearest(ns: "n", to: [0, 7, 0], k: 1).map(\.handle) == [20])
        index.insert(ns: "n", handle: 60, vector: [0, 0, 5])
        #expect(abs(index.nearest(ns: "n", to: [0, 0, 1], k: 1)[0].similarity - 1) < 0.01)

        // Equal vectors tie; the lower handle comes first, also when k cuts the ties.
        let ties = VectorIndex(dimensions: 3)
        for handle: Int64 in [5, 3, 9, -2] { ties.insert(ns: "t", handle: handle, vector: [0, 1, 0]) }
        ties.insert(ns: "t", handle: 1, vector: [0, -1, 0])
        #expect(ties.nearest(ns: "t", to: [0, 1, 0], k: 5).map(\.handle) == [-2, 3, 5, 9, 1])
        #expect(ties.nearest(ns: "t", to: [0, 1, 0], k: 2).map(\.handle) == [-2, 3])
        // A zero query (or vector) has similarity 0 with everything: all tie.
        let zero = ties.nearest(ns: "t", to: [0, 0, 0], k: 5)
        #expect(zero.map(\.handle) == [-2, 1, 3, 5, 9] && zero.allSatisfy { $0.similarity == 0 })
        // Not-finite components count as 0.
        ties.insert(ns: "t", handle: 8, vector: [.nan, 0, 1])
        #expect(ties.nearest(ns: "t", to: [0, 0, 1], k: 1).map(\.handle) == [8])

        // Sizes that are not a multiple of the kernel's 16 codes: the padding adds nothing.
        var g = SeededGenerator(seed: 3)
        for dimensions in [1, 15, 17, 100, 385] {
            let odd = VectorIndex(dimensions: dimensions)
            let vectors = (0..<50).map { _ in g.unitVector(dimensions) }
            odd.insert(ns: "o", vectors.enumerated().map { (handle: Int64($0.offset), vector: $0.element) })
            let query = g.unitVector(dimensions)
            let got = odd.nearest(ns: "o", to: query, k: 50)
            #expect(got.count == 50)
            for (handle, similarity) in got {
                #expect(abs(similarity - dot(vectors[Int(handle)], query)) < 0.02, "\(dimensions) dimensions")
            }
            let best = vectors.map { dot($0, query) }.max()!
            #expect(dot(vectors[Int(got[0].handle)], query) >= best - 0.01, "\(dimensions) dimensions")
        }
    }

    @Test("a vector or query of the wrong size, or a size out of range, traps")
    func traps() async {
        await #expect(processExitsWith: .failure) { VectorIndex(dimensions: 4).insert(ns: "n", handle: 1, vector: [1, 0, 0]) }
        await #expect(processExitsWith: .failure) { VectorIndex(dimensions: 4).insert(ns: "n", [(handle: 1, vector: [1, 0, 0, 0, 0])]) }
        await #expect(processExitsWith: .failure) { _ = VectorIndex(dimensions: 4).nearest(ns: "n", to: [1], k: 1) }
        await #expect(processExitsWith: .failure) { _ = VectorIndex(dimensions: 0) }
        await #expect(processExitsWith: .failure) { _ = VectorIndex(dimensions: VectorIndex.maximumDimensions + 1) }
    }

    @Test("codes: scale = max |x| / 127, |code| <= 127, x within scale / 2 of code × scale")
    func quantisation() {
        var g = SeededGenerator(seed: 11)
        for _ in 0..<20 {
            let x = g.unitVector(384)
            let code = VectorCode(x, stride: 384)
            let largest = x.map(abs).max()!
            #expect(abs(code.scale - largest / 127) <= 1e-4 * code.scale)
            #expect(code.codes.map { abs(Int($0)) }.max() == 127)
            for (xi, ci) in zip(x, code.codes) { #expect(abs(xi - Float(ci) * code.scale) <= code.scale * 0.5001) }
        }
        let padded = VectorCode([0.5, -0.25, 1e-30], stride: 16)
        #expect(padded.codes == [127, -64, 0] + [Int8](repeating: 0, count: 13))
        #expect(VectorCode([0, 0], stride: 16).scale == 0)
    }

    @Test("the SIMD kernel and the scalar one give the same exact integer dot products")
    func kernels() {
        var g = SeededGenerator(seed: 5)
        for stride in [16, 48, 384, 1024] {
            let vectors = (0..<20).map { _ in (0..<stride).map { _ in Int8.random(in: -127...127, using: &g) } }
            let queryVector = (0..<stride).map { _ in Float.random(in: -1...1, using: &g) }
            let query = VectorQuery(queryVector, stride: stride)
            let queryCodes = Array(UnsafeBufferPointer(start: query.codes, count: stride))
            for vector in vectors {
                let want = zip(vector, queryCodes).reduce(0) { $0 + Int($1.0) * Int($1.1) }
                vector.withUnsafeBufferPointer { v in
                    let simd = VectorQuery.simdDot(UnsafeRawPointer(v.baseAddress!), even: query.even, odd: query.odd, blocks: stride / 16)
                    #expect(Int(simd) == want)
                    #expect(Int(VectorQuery.scalarDot(v.baseAddress!, query.codes, count: stride)) == want)
                    #expect(Int(query.dot(v.baseAddress!)) == want)
                }
            }
            // The extremes: every product ±127².
            let extreme = [Int8](repeating: -127, count: stride)
            let maxQuery = VectorQuery([Float](repeating: -1, count: stride), stride: stride)
            extreme.withUnsafeBufferPointer { v in
                #expect(Int(maxQuery.dot(v.baseAddress!)) == 127 * 127 * stride)
            }
        }
    }

    @Test("recall@10 of nearest(k: 40) re-ranked in float32, against float32 brute force, is at least 0.99")
    func recall() {
        let dimensions = 384, count = 20_000, queries = 200
        var source = TopicalVectors(dimensions: dimensions, topics: 300, seed: 42)
        let vectors = (0..<count).map { _ in source.next() }
        let queryVectors = (0..<queries).map { _ in source.next() }
        let index = VectorIndex(dimensions: dimensions)
        index.insert(ns: "n", vectors.enumerated().map { (handle: Int64($0.offset), vector: $0.element) })

        // The reference: every float32 dot product, by BLAS.
        var scores = [Float](repeating: 0, count: queries * count)
        let flatVectors = vectors.flatMap { $0 }, flatQueries = queryVectors.flatMap { $0 }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(queries), Int32(count), Int32(dimensions),
            1, flatQueries, Int32(dimensions), flatVectors, Int32(dimensions), 0, &scores, Int32(count))
        /// The ten of `candidates` with the highest float32 cosine with query `q`, best first.
        func topTen(_ q: Int, among candidates: some Sequence<Int>) -> [Int] {
            var best: [Int] = []
            for i in candidates where best.count < 10 || scores[q * count + i] > scores[q * count + best[9]] {
                best.insert(i, at: best.firstIndex { scores[q * count + $0] < scores[q * count + i] } ?? best.endIndex)
                if best.count > 10 { best.removeLast() }
            }
            return best
        }

        var reranked = 0, plain = 0, tenthCosine: Float = 0
        for q in 0..<queries {
            let exact = topTen(q, among: 0..<count)
            tenthCosine += scores[q * count + exact[9]]
            let candidates = index.nearest(ns: "n", to: queryVectors[q], k: 40).map { Int($0.handle) }
            reranked += Set(exact).intersection(topTen(q, among: candidates)).count
            plain += Set(exact).intersection(index.nearest(ns: "n", to: queryVectors[q], k: 10).map { Int($0.handle) }).count
        }
        let recall = Double(reranked) / Double(queries * 10), recallPlain = Double(plain) / Double(queries * 10)
        print(
            "vector index recall@10 over \(count) vectors, \(queries) queries (10th neighbour's cosine \(tenthCosine / Float(queries)) on average):"
                + " nearest(k: 40) re-ranked \(recall), nearest(k: 10) alone \(recallPlain)")
        #expect(recall >= 0.99)
        #expect(recallPlain >= 0.9)
    }

    @Test("searches run while another task inserts and removes: no crash, consistent counts")
    func concurrent() async {
        let dimensions = 384
        var g = SeededGenerator(seed: 9)
        let index = VectorIndex(dimensions: dimensions)
        let fixed = (0..<2_000).map { (handle: Int64($0), vector: g.unitVector(dimensions)) }
        index.insert(ns: "fixed", fixed)
        let churn = (0..<400).map { _ in g.unitVector(dimensions) }
        let queries = (0..<8).map { _ in g.unitVector(dimensions) }
        let expected = queries.map { index.nearest(ns: "fixed", to: $0, k: 20).map(\.handle) }

        let kept = await withTaskGroup(of: Set<Int64>?.self) { group in
            group.addTask {
                // The writer: rounds of inserting 100 notes (one at a time and batched) and removing 60.
                var live = Set<Int64>(), next: Int64 = 0
                for round in 0..<40 {
                    let batch = (0..<50).map { i in (handle: next + Int64(i), vector: churn[(Int(next) + i) % churn.count]) }
                    index.insert(ns: "churn", batch)
                    for i in 50..<100 { index.insert(ns: "churn", handle: next + Int64(i), vector: churn[(Int(next) + i) % churn.count]) }
                    live.formUnion(next..<next + 100)
                    next += 100
                    for handle in live.sorted().filter({ $0 % 5 != Int64(round % 5) }).prefix(60) {
                        index.remove(ns: "churn", key: UInt64(handle))
                        live.remove(handle)
                    }
                    await Task.yield()
                }
                return live
            }
            for reader in 0..<4 {
                group.addTask {
                    for round in 0..<60 {
                        let q = (reader + round) % queries.count
                        // Untouched by the writer: the same answer as before it started.
                        #expect(index.nearest(ns: "fixed", to: queries[q], k: 20).map(\.handle) == expected[q])
                        // Changing under us: whatever one search sees, it sees once, best first.
                        let seen = index.nearest(ns: "churn", to: queries[q], k: 10_000)
                        #expect(Set(seen.map(\.handle)).count == seen.count)
                        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.similarity >= $1.similarity })
                        #expect(seen.count <= 40 * 100)
                        let handles = index.handles(ns: "churn")
                        #expect(Set(handles).count == handles.count)
                        #expect(index.count(ns: "fixed") == 2_000)
                        await Task.yield()
                    }
                    return nil
                }
            }
            var kept: Set<Int64> = []
            for await result in group { if let result { kept = result } }
            return kept
        }
        #expect(index.count(ns: "churn") == kept.count)
        #expect(Set(index.handles(ns: "churn")) == kept)
        #expect(index.count == 2_000 + kept.count)
        for handle in kept.prefix(50) { #expect(index.contains(ns: "churn", key: UInt64(handle))) }
    }

    /// The benchmark's figures: one search's time at 100,000 and 1,000,000
    /// vectors of 384 and the memory at 1,000,000. Run in release:
    /// `TRAIL_VECTOR_BENCH=1 swift test -c release --filter VectorIndexTests/speed`.
    @Test(
        "speed: one nearest() at 100k and 1M vectors, memory at 1M",
        .enabled(if: ProcessInfo.processInfo.environment["TRAIL_VECTOR_BENCH"] != nil))
    func speed() {
        let dimensions = 384
        var g = SeededGenerator(seed: 1)
        let pool = (0..<4_096).map { _ in g.unitVector(dimensions) }
        for count in [100_000, 1_000_000] {
            // Loaded in one batch, as the daemon does at start (the arrays then hold no growth room).
            let index = VectorIndex(dimensions: dimensions)
            index.insert(ns: "n", (0..<count).map { (handle: Int64($0), vector: pool[($0 * 7 + $0 / 4_096) % pool.count]) })
            let queries = (0..<20).map { _ in g.unitVector(dimensions) }
            for k in [10, 40, 1_000] {
                var times: [Double] = []
                for query in queries {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    _ = index.nearest(ns: "n", to: query, k: k)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                }
                times.sort()
                print("vector index: \(count) vectors, k \(k): nearest \(times[times.count / 2]) ms median, \(times[0]) ms best")
            }
            print("vector index: \(count) vectors, memoryBytes \(index.memoryBytes) (\(index.memoryBytes / count) a vector)")
        }
    }
}

@Suite("vector index reserve")
struct VectorIndexReserveTests {
    @Test("reserving a namespace's size up front leaves no growth room after loading it in pages")
    func reserveThenLoad() {
        func unit(_ i: Int) -> [Float] {
            var v = [Float](repeating: 0, count: 8)
            v[i % 8] = 1
            v[(i / 8) % 8] += 0.5
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / n }
        }
        let pages = stride(from: 0, to: 10_000, by: 1_000).map { start in (start..<start + 1_000).map { (handle: Int64($0), vector: unit($0)) } }
        let doubling = VectorIndex(dimensions: 8)
        for page in pages { doubling.insert(ns: "a", page) }
        let reserved = VectorIndex(dimensions: 8)
        reserved.reserve(ns: "a", capacity: 10_000)
        for page in pages { reserved.insert(ns: "a", page) }
        #expect(reserved.count(ns: "a") == 10_000 && doubling.count(ns: "a") == 10_000)
        #expect(reserved.memoryBytes < doubling.memoryBytes)
        #expect(reserved.nearest(ns: "a", to: unit(17), k: 1).first?.similarity ?? 0 > 0.99)
        // Reserving less than it holds changes nothing.
        let before = reserved.memoryBytes
        reserved.reserve(ns: "a", capacity: 5)
        #expect(reserved.memoryBytes == before)
    }
}
