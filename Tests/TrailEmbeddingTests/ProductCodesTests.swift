import CTrailKernels
import Testing
@testable import TrailEmbedding

@Suite("product codes")
struct ProductCodesTests {
    @Test("the scan's AVX-512 VBMI path and the portable loop give the same sums, and the sums are the table's")
    func scanPaths() {
        var g = SeededGenerator(seed: 11)
        let m = 96, blocks = 5, block = Int(TRAIL_PQ_BLOCK)
        let table = (0..<m * 256).map { _ in UInt8.random(in: 0...255, using: &g) }
        let codes = (0..<blocks * m * block).map { _ in UInt8.random(in: 0...255, using: &g) }
        var fast = [UInt16](repeating: 0, count: blocks * block), plain = fast
        trail_pq_scan(table, Int32(m), codes, blocks, &fast)
        trail_pq_scan_portable(table, Int32(m), codes, blocks, &plain)
        #expect(fast == plain, "VBMI in use: \(trail_pq_scan_uses_vbmi())")
        for b in 0..<blocks {
            for l in [0, 31, 32, 63] {
                let want = (0..<m).reduce(0) { $0 + Int(table[$1 * 256 + Int(codes[(b * m + $1) * block + l])]) }
                #expect(Int(plain[b * block + l]) == want)
            }
        }
    }

    /// Topical vectors of 384 numbers, the index told to turn to product codes at `threshold`.
    static func filled(count: Int, threshold: Int, seed: UInt64) -> (VectorIndex, [[Float]]) {
        var topical = TopicalVectors(dimensions: 384, topics: 200, seed: seed)
        let vectors = (0..<count).map { _ in topical.next() }
        let index = VectorIndex(dimensions: 384, productThreshold: threshold)
        // In pages, into room reserved for them all, as traild loads stored vectors.
        index.reserve(ns: "n", capacity: count + 200)
        for start in Swift.stride(from: 0, to: count, by: 1000) {
            index.insert(ns: "n", (start..<min(count, start + 1000)).map { (handle: Int64($0), vector: vectors[$0]) })
        }
        return (index, vectors)
    }

    @Test("at the threshold the index trains its quantiser, turns every code into a product code and keeps recall@10 at 0.99 re-ranked")
    func turnsToProductCodes() {
        let (index, vectors) = Self.filled(count: 4000, threshold: 4096, seed: 21)
        #expect(!index.holdsProductCodes && index.candidates(for: 10) == 10)
        let int8Bytes = index.memoryBytes
        // The same topics, the draws after those the index holds.
        var topical = TopicalVectors(dimensions: 384, topics: 200, seed: 21)
        for _ in 0..<4000 { _ = topical.next() }
        let more = (0..<200).map { _ in topical.next() }
        index.insert(ns: "n", more.enumerated().map { (handle: Int64(4000 + $0.offset), vector: $0.element) })
        let all = vectors + more
        #expect(index.holdsProductCodes && index.count(ns: "n") == 4200)
        #expect(index.candidates(for: 10) == 10 * VectorIndex.productOversampling)
        // 96 bytes of code, 4 of inverse length, 16 of handle and key, the slot table (4-byte buckets at
        // most half full); apart from the centroids and their squared lengths.
        let centroids = (96 * 256 * 4 + 96 * 256) * MemoryLayout<Float>.size
        let perVector = (index.memoryBytes - centroids) / 4200
        #expect(perVector < 140, "\(perVector) bytes a vector")
        #expect(index.memoryBytes - centroids < int8Bytes * 2 / 5, "\(index.memoryBytes) against \(int8Bytes)")

        var hits = 0, total = 0
        let slack = index.codeSlack
        for _ in 0..<100 {
            let query = topical.next()
            let cosines = all.map { dot($0, query) }
            let exact = all.indices.sorted { cosines[$0] > cosines[$1] }.prefix(10)
            let candidates = index.nearest(ns: "n", to: query, k: index.candidates(for: 40))
            let reranked = candidates.map(\.handle).sorted { cosines[Int($0)] > cosines[Int($1)] }.prefix(10)
            hits += Set(reranked.map { Int($0) }).intersection(exact).count
            total += 10
            // The code's cosine is at most codeSlack under the exact one.
            for c in candidates.prefix(16) {
                #expect(c.similarity >= cosines[Int(c.handle)] - slack)
            }
        }
        let recall = Double(hits) / Double(total)
        print("product codes recall@10 over 4200 vectors, 100 queries: \(recall)")
        #expect(recall >= 0.99)
    }

    @Test("after the turn: replacing, removing and adding keep every entry findable by its own vector")
    func changesAfterTheTurn() {
        let (index, start) = Self.filled(count: 4200, threshold: 4096, seed: 31)
        #expect(index.holdsProductCodes)
        var vectors = Dictionary(uniqueKeysWithValues: start.enumerated().map { (Int64($0.offset), $0.element) })
        var g = SeededGenerator(seed: 32)
        var topical = TopicalVectors(dimensions: 384, topics: 200, seed: 33)
        for handle in vectors.keys.shuffled(using: &g).prefix(1500) {
            index.remove(ns: "n", key: UInt64(handle))
            vectors[handle] = nil
        }
        for handle in Int64(0)..<300 where vectors[handle] != nil {
            vectors[handle] = topical.next()
            index.insert(ns: "n", handle: handle, vector: vectors[handle]!)
        }
        for handle in Int64(5000)..<5100 {
            vectors[handle] = topical.next()
            index.insert(ns: "n", handle: handle, vector: vectors[handle]!)
        }
        #expect(index.count(ns: "n") == vectors.count && Set(index.handles(ns: "n")) == Set(vectors.keys))
        for (handle, vector) in vectors.shuffled(using: &g).prefix(300) {
            let candidates = index.nearest(ns: "n", to: vector, k: index.candidates(for: 1)).map(\.handle)
            #expect(candidates.contains(handle), "\(handle)")
        }
        // Removed entries are gone; a namespace emptied is dropped.
        for handle in vectors.keys { index.remove(ns: "n", key: UInt64(handle)) }
        #expect(index.count == 0 && index.nearest(ns: "n", to: start[0], k: 5).isEmpty)
        // A new namespace holds product codes from its first entry.
        index.insert(ns: "m", handle: 1, vector: start[0])
        #expect(index.nearest(ns: "m", to: start[0], k: 3).map(\.handle) == [1])
    }

    @Test("after the turn, a vector with components that are not finite is coded by the rest of it, and a query with them too")
    func damagedVectorsAfterTheTurn() {
        let (index, vectors) = Self.filled(count: 4200, threshold: 4096, seed: 61)
        #expect(index.holdsProductCodes)
        var damaged = vectors[7]
        damaged[3] = .nan
        damaged[100] = .infinity
        var clean = damaged
        clean[3] = 0
        clean[100] = 0
        index.insert(ns: "n", handle: 9000, vector: damaged)
        let found = index.nearest(ns: "n", to: damaged, k: index.candidates(for: 1))
        #expect(found.map(\.handle).contains(9000))
        #expect(found.allSatisfy { $0.similarity.isFinite })
        let byClean = index.nearest(ns: "n", to: clean, k: index.candidates(for: 1))
        #expect(byClean.map(\.handle) == found.map(\.handle))
    }

    @Test("training is deterministic: the same vectors give the same candidates and similarities")
    func deterministic() {
        let (a, vectors) = Self.filled(count: 4200, threshold: 4096, seed: 41)
        let (b, _) = Self.filled(count: 4200, threshold: 4096, seed: 41)
        for query in vectors.prefix(20) {
            let x = a.nearest(ns: "n", to: query, k: 30), y = b.nearest(ns: "n", to: query, k: 30)
            #expect(x.map(\.handle) == y.map(\.handle) && x.map(\.similarity) == y.map(\.similarity))
        }
    }

    @Test("dimensions that cannot be cut into subspaces of 4 (or are fewer than 64) keep int8 codes past the threshold")
    func oddDimensionsStayScalar() {
        var g = SeededGenerator(seed: 51)
        for dimensions in [17, 60, 66, 102] {
            let index = VectorIndex(dimensions: dimensions, productThreshold: 1024)
            index.insert(ns: "o", (0..<1100).map { (handle: Int64($0), vector: g.unitVector(dimensions)) })
            #expect(!index.holdsProductCodes && index.count == 1100, "\(dimensions)")
        }
        #expect(ProductQuantizer.fits(dimensions: 384) && ProductQuantizer.fits(dimensions: 64) && ProductQuantizer.fits(dimensions: 1028))
        #expect(!ProductQuantizer.fits(dimensions: 1032))
    }
}
