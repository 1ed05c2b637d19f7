import CTrailKernels
import Dispatch
import Synchronization

/// Product quantisation (Jégou, Douze and Schmid, 2011) of the index's
/// vectors: a vector of 384 numbers is cut into 96 subspaces of 4, each
/// subspace has 256 centroids found by k-means over sample vectors, and a
/// vector is kept as the index of its nearest centroid in each subspace:
/// 96 bytes, a quarter of its int8 code and a sixteenth of its floats.
/// Subspaces of 4, not 8: at 1M vectors 48 subspaces of 8 kept only 0.87 of
/// the true ten nearest among 256 candidates, 96 of 4 kept 0.996 (measured
/// in NumPy on the benchmark's vectors; docs/decisions.md).
///
/// A query is compared with every code through a lookup table (its dot
/// product with each centroid of each subspace, in byte steps), 64 codes at
/// a time (`trail_pq_scan`). That gives the cosine within a few hundredths:
/// enough to find candidates, which the caller ranks again with the exact
/// vectors (the store keeps them).
struct ProductQuantizer: Sendable {
    /// Numbers per subspace.
    static let subspaceDimensions = 4
    /// K-means rounds when training.
    static let iterations = 10
    /// Sample vectors trained on at most (spread evenly over what there is).
    static let sampleLimit = 16_384
    /// The fewest samples training takes: a few per centroid.
    static let sampleMinimum = 4 * Int(TRAIL_PQ_CENTROIDS)

    let dimensions: Int
    /// Subspaces: bytes per code.
    let subspaces: Int
    /// [subspace][centroid][number]: subspaces × 256 × 4 floats.
    let centroids: [Float]
    /// [subspace][centroid]: each centroid's squared length.
    let squaredLengths: [Float]

    init(dimensions: Int, subspaces: Int, centroids: [Float]) {
        self.dimensions = dimensions
        self.subspaces = subspaces
        self.centroids = centroids
        let d = Self.subspaceDimensions
        squaredLengths = (0 ..< centroids.count / d).map { c in
            (0..<d).reduce(Float(0)) { $0 + centroids[c * d + $1] * centroids[c * d + $1] }
        }
    }

    /// 1 / the length of the vector `code` stands for (0 for a zero vector):
    /// the scan's dot product times this is the cosine with that vector,
    /// which ranks better than the dot product, as a code loses more of
    /// some vectors' length than of others'.
    func inverseLength(_ code: ArraySlice<UInt8>) -> Float {
        var sum: Float = 0
        for (j, c) in code.enumerated() { sum += squaredLengths[j * Int(TRAIL_PQ_CENTROIDS) + Int(c)] }
        return sum > 0 ? 1 / sum.squareRoot() : 0
    }

    /// Whether vectors of `dimensions` numbers can be cut into subspaces:
    /// a multiple of 4, at least 64 (fewer would leave too few subspaces to
    /// tell vectors apart), at most 257 × 4 (the scan's 16-bit sums).
    static func fits(dimensions: Int) -> Bool {
        dimensions % subspaceDimensions == 0 && dimensions >= 64 && dimensions / subspaceDimensions <= 257
    }

    /// Centroids trained on `count` samples (`samples`: count × dimensions,
    /// unit vectors), the subspaces spread over the cores. nil when there are
    /// fewer than `sampleMinimum` samples or the dimensions do not fit.
    /// Deterministic: the same samples give the same centroids.
    static func train(samples: [Float], count: Int, dimensions: Int) -> ProductQuantizer? {
        guard fits(dimensions: dimensions), count >= sampleMinimum, samples.count == count * dimensions else { return nil }
        let subspaces = dimensions / subspaceDimensions
        let perSubspace = Int(TRAIL_PQ_CENTROIDS) * subspaceDimensions
        var centroids = [Float](repeating: 0, count: subspaces * perSubspace)
        let failed = Mutex(false)
        samples.withUnsafeBufferPointer { samples in
            centroids.withUnsafeMutableBufferPointer { out in
                let base = UnsafeSendable(out.baseAddress!), input = UnsafeSendable(UnsafeMutablePointer(mutating: samples.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: subspaces) { j in
                    let status = trail_pq_train_subspace(
                        input.pointer, count, Int32(dimensions), Int32(j * subspaceDimensions), Int32(subspaceDimensions),
                        Int32(iterations), 0x7472_6169_6C00 + UInt64(j), base.pointer + j * perSubspace)
                    if status != 0 { failed.withLock { $0 = true } }
                }
            }
        }
        guard !failed.withLock({ $0 }) else { return nil }
        return ProductQuantizer(dimensions: dimensions, subspaces: subspaces, centroids: centroids)
    }

    /// The codes of `count` vectors (count × dimensions), count × subspaces bytes.
    func encode(_ vectors: UnsafeBufferPointer<Float>, count: Int) -> [UInt8] {
        precondition(vectors.count >= count * dimensions)
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count * subspaces) { codes, initialised in
            centroids.withUnsafeBufferPointer { c in
                trail_pq_encode(c.baseAddress, Int32(subspaces), Int32(Self.subspaceDimensions), vectors.baseAddress, count, codes.baseAddress)
            }
            initialised = count * subspaces
        }
    }

    /// The query's lookup table for `trail_pq_scan`, and how its sums map
    /// to an approximate dot product.
    func table(for query: UnsafeBufferPointer<Float>) -> (table: [UInt8], scale: Float, bias: Float) {
        precondition(query.count == dimensions)
        var scale: Float = 0, bias: Float = 0
        let table = [UInt8](unsafeUninitializedCapacity: subspaces * Int(TRAIL_PQ_CENTROIDS)) { table, initialised in
            centroids.withUnsafeBufferPointer { c in
                trail_pq_table(c.baseAddress, Int32(subspaces), Int32(Self.subspaceDimensions), query.baseAddress, table.baseAddress, &scale, &bias)
            }
            initialised = subspaces * Int(TRAIL_PQ_CENTROIDS)
        }
        return (table, scale, bias)
    }

    /// The longest centroid of any subspace.
    var longestCentroid: Float { squaredLengths.max().map { $0.squareRoot() } ?? 0 }

    /// |x − x̂ / |x̂||: how far unit vector `vector` lies from the direction
    /// its code stands for. For any unit query q, q · x̂ / |x̂| is within this
    /// of q · x (Cauchy-Schwarz), before the lookup table's rounding.
    func residual(_ vector: UnsafePointer<Float>, code: ArraySlice<UInt8>, inverseLength: Float) -> Float {
        let d = Self.subspaceDimensions, k = Int(TRAIL_PQ_CENTROIDS)
        var sum: Float = 0
        for (j, c) in code.enumerated() {
            let centroid = (j * k + Int(c)) * d
            for i in 0..<d {
                let delta = vector[j * d + i] - centroids[centroid + i] * inverseLength
                sum += delta * delta
            }
        }
        return sum.squareRoot()
    }

    /// Bytes the centroids take.
    var memoryBytes: Int { (centroids.capacity + squaredLengths.capacity) * MemoryLayout<Float>.stride }
}

/// A pointer handed to the threads of `concurrentPerform`, each of which
/// writes a part of its own.
private struct UnsafeSendable<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

