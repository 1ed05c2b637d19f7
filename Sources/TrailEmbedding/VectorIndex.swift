import Synchronization

/// Notes' vectors held in memory for recall by meaning (contract §8): per
/// namespace, each entry's key, the handle the store gives its note, and its
/// vector as a code. Namespaces never mix: every operation names one.
///
/// Codes come in two kinds. While the index holds fewer than
/// `productThreshold` vectors (65,536 by default), a vector is kept as int8
/// codes and one scale (scalar quantisation, `VectorCode`): 384 + 4 bytes for
/// all-MiniLM-L6-v2, the cosine within about 0.01. When it reaches that many,
/// the index trains a product quantiser on them (`ProductQuantizer`: k-means
/// in 96 subspaces on every core, writers waiting meanwhile
/// and searches going on), turns every int8 code into a product code and
/// keeps product codes from then on: 96 bytes a vector, the cosine within a
/// few hundredths. A namespace costs its codes plus 20 bytes an entry
/// (handle, key, and the slot table). The quantiser is trained once per
/// index, on the vectors it holds then; vectors that come later are coded
/// with it.
///
/// `nearest` compares the query with every code of the namespace (no
/// approximate graph: what is lost is lost to quantisation). With product
/// codes the caller should ask for more candidates than it needs
/// (`candidates(for:)`) and rank them again with the float vectors it keeps
/// elsewhere.
///
/// Safe to use from many threads: searches share a reader-writer lock and
/// run in parallel, each on its caller's thread; inserts and removes take it
/// alone, for the microseconds a change takes (coding is done before).
/// A writer waits for the searches under way (a full scan: about 1.5 ms per
/// 100,000 int8 codes of 384, about 14 ms per 1,000,000 product codes of
/// 96 bytes on a 2-core Intel Xeon with AVX-512 VBMI), and
/// searches arriving meanwhile wait for it. When a namespace's arrays are
/// full, a change copies them into arrays twice as large without the write
/// lock, searches going on meanwhile, and then swaps them in.
public final class VectorIndex: Sendable {
    /// Numbers in a vector (384 for all-MiniLM-L6-v2).
    public let dimensions: Int
    /// Codes per stored int8 vector: `dimensions` rounded up to the kernel's block.
    let stride: Int
    /// Vectors (all namespaces) at which the index turns to product codes.
    public let productThreshold: Int
    private let state: VectorLock<State>
    /// Held through every change, so that only one writer runs at a time: a
    /// namespace the writer copied under the read lock then stays current
    /// until it swaps its grown copy in.
    private let writer = Mutex(())

    struct State: Sendable {
        var namespaces: [String: VectorNamespace] = [:]
        var quantizer: ProductQuantizer?
        /// The largest `ProductQuantizer.residual` of any vector given a product code.
        var residual: Float = 0
        /// The largest inverse length of any product code.
        var inverseLength: Float = 0
    }

    /// The most numbers a vector may have: beyond, an integer dot product of
    /// two codes (each at most 127²) could overflow 32 bits.
    static let maximumDimensions = 131_072

    /// Candidates a caller should ask for, per result it needs, while the
    /// index holds product codes: their cosine is a few hundredths off, so
    /// the true nearest may sit a few places down.
    public static let productOversampling = 4

    /// An empty index for vectors of `dimensions` numbers, turning to product
    /// codes at `productThreshold` vectors (never when the dimensions cannot
    /// be cut into subspaces of 4, or fewer than 64, or more than 1,028). Traps unless
    /// `dimensions` is in 1...131_072.
    public init(dimensions: Int, productThreshold: Int = 65_536) {
        precondition(
            (1...Self.maximumDimensions).contains(dimensions),
            "dimensions must be in 1...\(Self.maximumDimensions), not \(dimensions)")
        self.dimensions = dimensions
        self.productThreshold = max(productThreshold, ProductQuantizer.sampleMinimum)
        stride = (dimensions + VectorQuery.block - 1) / VectorQuery.block * VectorQuery.block
        state = VectorLock(State())
    }

    /// Whether the index holds product codes (it has trained its quantiser).
    public var holdsProductCodes: Bool { state.read { $0.quantizer != nil } }

    /// How far below its exact cosine a code may put a vector: a caller
    /// looking for vectors at or above a cosine takes candidates this much
    /// below it, then compares their exact vectors. 0.02 for int8 codes
    /// (measured). For product codes a bound: the largest residual of any
    /// vector coded (`ProductQuantizer.residual`) plus the most the lookup
    /// table's rounding can add (half a step per subspace, a step at most
    /// twice the longest centroid over 255, times the largest inverse length).
    public var codeSlack: Float {
        state.read { state in
            guard let quantizer = state.quantizer else { return Self.scalarSlack }
            let rounding = Float(quantizer.subspaces) / 2 * (2 * quantizer.longestCentroid / 255) * state.inverseLength
            return state.residual + rounding
        }
    }
    static let scalarSlack: Float = 0.02

    /// How many candidates to ask `nearest` for when `needed` are wanted
    /// after ranking them again exactly: `needed`, or `productOversampling`
    /// times as many once the index holds product codes.
    public func candidates(for needed: Int) -> Int {
        holdsProductCodes ? needed * Self.productOversampling : needed
    }

    /// Adds or replaces the vector of the entry `key` (by default the
    /// handle's bits) in namespace `ns`, for note `handle` (an Int64 the store gives).
    ///
    /// The vector should be unit length, as the encoder's are; any other is
    /// taken as its direction. Components that are not finite count as 0.
    /// Costs O(dimensions) (a product code: about 256 × dimensions
    /// multiply-adds, a distance to each centroid of each subspace). When the namespace's arrays are full (each time it
    /// doubles) the call also copies them, O(count(ns:)), without the write
    /// lock; the insert that brings the index to `productThreshold` trains
    /// the quantiser. Traps if `vector.count != dimensions`.
    public func insert(ns: String, handle: Int64, key: UInt64? = nil, vector: [Float]) {
        insert(ns: ns, [(key: key ?? UInt64(bitPattern: handle), handle: handle, vector: vector)])
    }

    /// Adds or replaces many vectors of namespace `ns` at once, each entry
    /// keyed by its handle's bits: a search sees all of them or none.
    public func insert(ns: String, _ entries: [(handle: Int64, vector: [Float])]) {
        insert(ns: ns, entries.map { (key: UInt64(bitPattern: $0.handle), handle: $0.handle, vector: $0.vector) })
    }

    /// Adds or replaces many vectors of namespace `ns` at once: a search sees
    /// all of them or none. A key given twice keeps its last vector. Costs
    /// as `insert(ns:handle:key:vector:)` each, under one write lock,
    /// growing the arrays at most once (to the exact size when loading an
    /// empty namespace). Traps if a vector's count is not `dimensions`.
    public func insert(ns: String, _ entries: [(key: UInt64, handle: Int64, vector: [Float])]) {
        guard !entries.isEmpty else { return }
        for e in entries {
            precondition(e.vector.count == dimensions, "a vector of \(e.vector.count) numbers, not \(dimensions)")
        }
        writer.withLock { _ in
            let total = state.read { $0.namespaces.values.reduce(0) { $0 + $1.count } }
            if total + entries.count >= productThreshold { trainIfNeeded(adding: entries.map(\.vector)) }
            let codes = encode(entries.map(\.vector))
            change(ns, adding: entries.count) { namespace in
                for (e, code) in zip(entries, codes) { namespace.insert(e.key, handle: e.handle, code) }
            }
        }
    }

    /// Makes room for `capacity` vectors in namespace `ns` at once, so that
    /// loading that many in batches grows the arrays once, to the size
    /// needed, instead of doubling (which leaves up to half of them spare).
    /// Costs one copy of what the namespace holds, if anything.
    public func reserve(ns: String, capacity: Int) {
        writer.withLock { _ in
            let additional = capacity - count(ns: ns)
            guard additional > 0 else { return }
            change(ns, adding: additional) { _ in }
        }
    }

    /// Removes the entry `key` from namespace `ns`; does nothing if it is
    /// not there. O(dimensions): the namespace's last vector moves into the
    /// freed slot. A namespace left empty is dropped with its memory. A key
    /// the namespace does not hold costs a look under the read lock only
    /// (traild removes every retracted or evaporated note, embedded or not).
    public func remove(ns: String, key: UInt64) {
        guard contains(ns: ns, key: key) else { return }
        writer.withLock { _ in
            state.write { state in
                guard state.namespaces[ns]?.contains(key) == true else { return }
                state.namespaces[ns]!.remove(key)
                if state.namespaces[ns]!.count == 0 { state.namespaces[ns] = nil }
            }
        }
    }

    /// Whether namespace `ns` holds the entry `key`. O(1).
    public func contains(ns: String, key: UInt64) -> Bool {
        state.read { $0.namespaces[ns]?.contains(key) ?? false }
    }

    /// Vectors in namespace `ns`. O(1).
    public func count(ns: String) -> Int {
        state.read { $0.namespaces[ns]?.count ?? 0 }
    }

    /// Vectors in all namespaces. O(number of namespaces).
    public var count: Int {
        state.read { $0.namespaces.values.reduce(0) { $0 + $1.count } }
    }

    /// The handles of namespace `ns`, in no particular order. O(count(ns:)).
    public func handles(ns: String) -> [Int64] {
        // A copy, not the namespace's array: a caller keeping that would make the next insert copy it under the write lock.
        state.read { $0.namespaces[ns]?.handles.withUnsafeBufferPointer { Array($0) } ?? [] }
    }

    /// The `k` handles of `ns` whose codes are nearest `query` by approximate
    /// cosine, best first (ties by handle ascending), each with that
    /// similarity. Fewer when the namespace holds fewer; none when `k <= 0`
    /// or `ns` is empty.
    ///
    /// Exact over the codes: every vector of `ns` is scored, under the read
    /// lock, on the caller's thread: int8 codes about 1.5 ms per 100,000
    /// vectors of 384 on one core of a 2.6 GHz AMD EPYC, product codes
    /// 64 at a time with AVX-512 VBMI byte permutes (a portable loop
    /// elsewhere), plus O(k log k) to order the result. The query should be
    /// unit length; any other is taken as its direction. Traps if
    /// `query.count != dimensions`.
    public func nearest(ns: String, to query: [Float], k: Int) -> [(handle: Int64, similarity: Float)] {
        precondition(query.count == dimensions, "a query of \(query.count) numbers, not \(dimensions)")
        guard k > 0 else { return [] }
        return state.read { $0.namespaces[ns]?.nearest(query, quantizer: $0.quantizer, k: k) ?? [] }
    }

    /// Bytes the index holds (codes, scales, handles, keys, slot tables, the
    /// quantiser's centroids), for the benchmark's memory figure: what their
    /// storage has allocated, growth room included; not the namespaces'
    /// names. O(number of namespaces).
    public var memoryBytes: Int {
        state.read { state in
            state.namespaces.values.reduce(state.quantizer?.memoryBytes ?? 0) { $0 + $1.memoryBytes }
        }
    }

    /// Applies `body`, which adds at most `additional` vectors, to namespace
    /// `ns` (made when missing). Called with `writer` held.
    private func change(_ ns: String, adding additional: Int, _ body: (inout VectorNamespace) -> Void) {
        if state.read({ $0.namespaces[ns]?.hasRoom(for: additional) ?? false }) {
            state.write { body(&$0.namespaces[ns]!) }
            return
        }
        // Growing copies every array of the namespace: done on a copy, outside the write lock.
        var grown = state.read { state in
            state.namespaces[ns] ?? VectorNamespace(stride: stride, subspaces: state.quantizer?.subspaces ?? 0)
        }
        grown.reserve(additional: additional)
        body(&grown)
        let old = state.write { $0.namespaces.updateValue(grown, forKey: ns) }
        _ = old  // The old arrays are freed here, after the write lock.
    }

    /// The codes of `vectors`, of the kind the index holds; with product
    /// codes, the index's largest residual and inverse length grow to
    /// theirs. Called with `writer` held.
    private func encode(_ vectors: [[Float]]) -> [StoredCode] {
        guard let quantizer = state.read({ $0.quantizer }) else {
            return vectors.map { .scalar(VectorCode($0, stride: stride)) }
        }
        var flat = [Float]()
        flat.reserveCapacity(vectors.count * dimensions)
        for v in vectors { flat += Self.unit(v) }
        let bytes = flat.withUnsafeBufferPointer { quantizer.encode($0, count: vectors.count) }
        let m = quantizer.subspaces
        var residual: Float = 0, inverseLength: Float = 0
        let codes: [StoredCode] = flat.withUnsafeBufferPointer { flat in
            (0..<vectors.count).map { i in
                let code = bytes[i * m ..< (i + 1) * m], inverse = quantizer.inverseLength(code)
                residual = max(residual, quantizer.residual(flat.baseAddress! + i * dimensions, code: code, inverseLength: inverse))
                inverseLength = max(inverseLength, inverse)
                return .product(code, inverseLength: inverse)
            }
        }
        state.write { state in
            state.residual = max(state.residual, residual)
            state.inverseLength = max(state.inverseLength, inverseLength)
        }
        return codes
    }

    /// Trains the quantiser, when there is none yet and the dimensions allow
    /// one, on the vectors held (their int8 codes decoded) and `adding`, and
    /// turns every namespace's codes into product codes; searches go on
    /// meanwhile. Called with `writer` held.
    private func trainIfNeeded(adding: [[Float]]) {
        guard ProductQuantizer.fits(dimensions: dimensions), state.read({ $0.quantizer == nil }) else { return }
        let current = state.read { $0.namespaces }
        let held = current.values.reduce(0) { $0 + $1.count }
        let total = held + adding.count
        // Every step-th vector, so that the sample spreads over all of them.
        let step = max(1, (total + ProductQuantizer.sampleLimit - 1) / ProductQuantizer.sampleLimit)
        var samples = [Float]()
        samples.reserveCapacity((total / step + 1) * dimensions)
        var position = 0, taken = 0
        var decoded = [Float](repeating: 0, count: dimensions)
        for name in current.keys.sorted() {
            let namespace = current[name]!
            for i in 0..<namespace.count {
                if position % step == 0 {
                    decoded.withUnsafeMutableBufferPointer { namespace.decodeScalar(i, dimensions: dimensions, into: $0.baseAddress!) }
                    samples += Self.unit(decoded)
                    taken += 1
                }
                position += 1
            }
        }
        for v in adding {
            if position % step == 0 {
                samples += Self.unit(v)
                taken += 1
            }
            position += 1
        }
        guard let quantizer = ProductQuantizer.train(samples: samples, count: taken, dimensions: dimensions) else { return }
        let converted = current.mapValues { $0.converted(to: quantizer) }
        let inverseLength = converted.values.reduce(Float(0)) { max($0, $1.namespace.scales.max() ?? 0) }
        let old = state.write { state in
            defer {
                state.namespaces = converted.mapValues(\.namespace)
                state.quantizer = quantizer
                state.residual = converted.values.reduce(0) { max($0, $1.residual) }
                state.inverseLength = inverseLength
            }
            return state.namespaces
        }
        _ = old  // The int8 codes are freed here, after the write lock.
    }

    /// `vector` at unit length, components that are not finite as 0 (all 0 stays all 0).
    static func unit(_ vector: [Float]) -> [Float] {
        var sumOfSquares: Float = 0
        var clean = vector
        for i in clean.indices {
            if !clean[i].isFinite { clean[i] = 0 }
            sumOfSquares += clean[i] * clean[i]
        }
        guard sumOfSquares > 0 else { return clean }
        let scale = 1 / sumOfSquares.squareRoot()
        return clean.map { $0 * scale }
    }
}
