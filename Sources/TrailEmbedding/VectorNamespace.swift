import CTrailKernels

/// A vector as the index keeps it: an int8 code (`VectorCode`) until the
/// index has trained its product quantiser, then a product code (one byte
/// per subspace) and 1 / the length of the vector it stands for.
enum StoredCode: Sendable {
    case scalar(VectorCode)
    case product(ArraySlice<UInt8>, inverseLength: Float)
}

/// The vectors of one namespace, packed for scanning.
///
/// Slot `i` (dense: `0 ..< count`) holds the entry of key `keys[i]`, note
/// `handles[i]`. Its code is either int8 (`codes[i × stride ..< (i + 1) ×
/// stride]`, scale `scales[i]`) or, once the namespace holds product codes,
/// byte `j` of block `i / 64` in `productCodes` at `(block × subspaces + j) ×
/// 64 + i % 64` (the layout `trail_pq_scan` reads), with `scales[i]` the
/// inverse length of what the code stands for. `slots` finds a key's
/// slot. A removal moves the last slot into the hole, so the codes stay one
/// contiguous run the scan reads front to back.
struct VectorNamespace: Sendable {
    /// Codes per int8 vector: the dimensions rounded up to the kernel's block, the tail zero.
    let stride: Int
    /// Bytes per product code; 0 while the namespace holds int8 codes.
    private(set) var subspaces = 0
    private(set) var codes: [Int8] = []
    private(set) var scales: [Float] = []
    private(set) var productCodes: [UInt8] = []
    private(set) var handles: [Int64] = []
    private(set) var keys: [UInt64] = []
    private var slots = SlotTable()

    static let block = Int(TRAIL_PQ_BLOCK)

    init(stride: Int, subspaces: Int = 0) {
        self.stride = stride
        self.subspaces = subspaces
    }

    var count: Int { handles.count }
    var holdsProductCodes: Bool { subspaces > 0 }

    func contains(_ key: UInt64) -> Bool {
        slots.slot(of: key, keys: keys) != nil
    }

    /// Adds `key`'s entry, or replaces its handle and code in place when `key` is there.
    /// `reserve` must have made room.
    mutating func insert(_ key: UInt64, handle: Int64, _ code: StoredCode) {
        if let slot = slots.slot(of: key, keys: keys) {
            handles[slot] = handle
            write(code, at: slot)
            return
        }
        precondition(handles.count < Int32.max, "a namespace holds fewer than 2³¹ vectors")
        let slot = handles.count
        handles.append(handle)
        keys.append(key)
        switch code {
        case .scalar:
            codes.append(contentsOf: repeatElement(0, count: stride))
        case .product:
            if slot % Self.block == 0 { productCodes.append(contentsOf: repeatElement(0, count: subspaces * Self.block)) }
        }
        scales.append(0)
        write(code, at: slot)
        slots.insert(slot: slot, keys: keys)
    }

    private mutating func write(_ code: StoredCode, at slot: Int) {
        switch code {
        case let .scalar(c):
            precondition(subspaces == 0 && c.codes.count == stride)
            codes.replaceSubrange(slot * stride ..< (slot + 1) * stride, with: c.codes)
            scales[slot] = c.scale
        case let .product(bytes, inverseLength):
            precondition(subspaces > 0 && bytes.count == subspaces)
            let base = slot / Self.block * subspaces * Self.block + slot % Self.block
            for (j, byte) in bytes.enumerated() { productCodes[base + j * Self.block] = byte }
            scales[slot] = inverseLength
        }
    }

    /// Whether `additional` more vectors fit without any array growing.
    func hasRoom(for additional: Int) -> Bool {
        let needed = count + additional
        let codesFit = holdsProductCodes
            ? productCodes.capacity >= Self.blocks(needed) * subspaces * Self.block
            : codes.capacity >= needed * stride
        return codesFit && scales.capacity >= needed && handles.capacity >= needed && keys.capacity >= needed && slots.capacity >= needed
    }

    static func blocks(_ vectors: Int) -> Int { (vectors + block - 1) / block }

    /// Makes room for `additional` more vectors, doubling the arrays, or
    /// to the exact size when doubling is not enough (so that a namespace
    /// loaded in one batch carries no spare room).
    mutating func reserve(additional: Int) {
        guard !hasRoom(for: additional) else { return }
        let vectors = max(count + additional, 2 * count)
        if holdsProductCodes {
            productCodes.reserveCapacity(Self.blocks(vectors) * subspaces * Self.block)
        } else {
            codes.reserveCapacity(vectors * stride)
        }
        scales.reserveCapacity(vectors)
        handles.reserveCapacity(vectors)
        keys.reserveCapacity(vectors)
        slots.reserve(vectors, keys: keys, filled: count)
    }

    /// Removes `key`'s entry, if there: O(stride).
    mutating func remove(_ key: UInt64) {
        guard let hole = slots.slot(of: key, keys: keys) else { return }
        let last = handles.count - 1
        slots.remove(key, keys: keys)
        if hole != last {
            slots.move(keys[last], to: hole, keys: keys)
            handles[hole] = handles[last]
            keys[hole] = keys[last]
            if holdsProductCodes {
                let from = last / Self.block * subspaces * Self.block + last % Self.block
                let to = hole / Self.block * subspaces * Self.block + hole % Self.block
                for j in 0..<subspaces { productCodes[to + j * Self.block] = productCodes[from + j * Self.block] }
            } else {
                let stride = stride
                codes.withUnsafeMutableBufferPointer { codes in
                    (codes.baseAddress! + hole * stride).update(from: codes.baseAddress! + last * stride, count: stride)
                }
            }
            scales[hole] = scales[last]
        }
        handles.removeLast()
        keys.removeLast()
        scales.removeLast()
        if holdsProductCodes {
            if last % Self.block == 0 { productCodes.removeLast(subspaces * Self.block) }
        } else {
            codes.removeLast(stride)
        }
    }

    /// The int8 code of slot `i` as floats (code × scale), `dimensions` of them, into `out`.
    func decodeScalar(_ i: Int, dimensions: Int, into out: UnsafeMutablePointer<Float>) {
        let scale = scales[i]
        for d in 0..<dimensions { out[d] = Float(codes[i * stride + d]) * scale }
    }

    /// The same entries with product codes from `quantizer`, the int8 codes
    /// decoded and encoded again, with room for as many entries as the
    /// namespace had (a load that reserved its size goes on without
    /// growing); and the largest `ProductQuantizer.residual` among them.
    func converted(to quantizer: ProductQuantizer) -> (namespace: VectorNamespace, residual: Float) {
        precondition(!holdsProductCodes)
        let dimensions = quantizer.dimensions, m = quantizer.subspaces
        var result = VectorNamespace(stride: stride, subspaces: m)
        result.handles = handles
        result.keys = keys
        result.slots = slots
        result.productCodes = [UInt8](repeating: 0, count: Self.blocks(count) * m * Self.block)
        result.scales = [Float](repeating: 0, count: count)
        let room = handles.capacity
        result.productCodes.reserveCapacity(Self.blocks(room) * m * Self.block)
        result.scales.reserveCapacity(room)
        let chunk = 4096
        var floats = [Float](repeating: 0, count: chunk * dimensions)
        var start = 0, residual: Float = 0
        while start < count {
            let n = min(chunk, count - start)
            floats.withUnsafeMutableBufferPointer { f in
                for i in 0..<n { decodeScalar(start + i, dimensions: dimensions, into: f.baseAddress! + i * dimensions) }
            }
            let encoded = floats.withUnsafeBufferPointer { quantizer.encode($0, count: n) }
            for i in 0..<n {
                let slot = start + i
                let base = slot / Self.block * m * Self.block + slot % Self.block
                for j in 0..<m { result.productCodes[base + j * Self.block] = encoded[i * m + j] }
                let code = encoded[i * m ..< (i + 1) * m], inverseLength = quantizer.inverseLength(code)
                result.scales[slot] = inverseLength
                residual = max(residual, floats.withUnsafeBufferPointer {
                    quantizer.residual($0.baseAddress! + i * dimensions, code: code, inverseLength: inverseLength)
                })
            }
            start += n
        }
        return (result, residual)
    }

    /// The `k` handles whose codes have the highest approximate cosine with
    /// the query, best first, ties by handle ascending. Reads every code once.
    /// The query is prepared for the codes the namespace holds: a lookup
    /// table from `quantizer` for product codes, int8 codes otherwise.
    func nearest(_ query: [Float], quantizer: ProductQuantizer?, k: Int) -> [(handle: Int64, similarity: Float)] {
        var top = VectorTopK(k: min(k, count))
        if holdsProductCodes {
            guard let quantizer else { preconditionFailure("product codes scanned without a quantiser") }
            scanProduct(ProductQuery(VectorIndex.unit(query), quantizer: quantizer), into: &top)
        } else {
            scanScalar(VectorQuery(query, stride: stride), into: &top)
        }
        return top.best()
    }

    private func scanScalar(_ query: VectorQuery, into top: inout VectorTopK) {
        precondition(query.stride == stride)
        let stride = stride, count = count, queryScale = query.scale
        codes.withUnsafeBufferPointer { codes in
            scales.withUnsafeBufferPointer { scales in
                handles.withUnsafeBufferPointer { handles in
                    guard var vector = codes.baseAddress else { return }
                    for i in 0..<count {
                        // cos ≈ (Σ code × query code) × scale × query scale
                        let similarity = Float(query.dot(vector)) * scales[i] * queryScale
                        if similarity >= top.threshold { top.offer(similarity, handles[i]) }
                        vector += stride
                    }
                }
            }
        }
    }

    /// Blocks scanned per call of the kernel (their sums fit in 32 KiB).
    static let scanChunk = 256

    private func scanProduct(_ query: ProductQuery, into top: inout VectorTopK) {
        precondition(query.table.count == subspaces * Int(TRAIL_PQ_CENTROIDS))
        let m = subspaces, count = count, blocks = Self.blocks(count), scale = query.scale, bias = query.bias
        var sums = [UInt16](repeating: 0, count: Self.scanChunk * Self.block)
        query.table.withUnsafeBufferPointer { table in
            productCodes.withUnsafeBufferPointer { codes in
                handles.withUnsafeBufferPointer { handles in
                    scales.withUnsafeBufferPointer { inverseLengths in
                        sums.withUnsafeMutableBufferPointer { sums in
                            var first = 0
                            while first < blocks {
                                let n = min(Self.scanChunk, blocks - first)
                                trail_pq_scan(table.baseAddress, Int32(m), codes.baseAddress! + first * m * Self.block, n, sums.baseAddress)
                                let base = first * Self.block, end = min(count, base + n * Self.block)
                                for i in base..<end {
                                    // cos ≈ (x̂ · query) / |x̂|
                                    let similarity = (Float(sums[i - base]) * scale + bias) * inverseLengths[i]
                                    if similarity >= top.threshold { top.offer(similarity, handles[i]) }
                                }
                                first += n
                            }
                        }
                    }
                }
            }
        }
    }

    /// Bytes allocated for codes, scales, handles, keys and the slot table (their capacities, not their counts).
    var memoryBytes: Int {
        codes.capacity * MemoryLayout<Int8>.stride
            + scales.capacity * MemoryLayout<Float>.stride
            + productCodes.capacity
            + handles.capacity * MemoryLayout<Int64>.stride
            + keys.capacity * MemoryLayout<UInt64>.stride
            + slots.memoryBytes
    }
}

/// A query made ready for a scan of product codes: its lookup table, and
/// how a sum of the table's bytes maps to an approximate cosine.
struct ProductQuery {
    let table: [UInt8]
    let scale: Float
    let bias: Float

    init(_ vector: [Float], quantizer: ProductQuantizer) {
        (table, scale, bias) = vector.withUnsafeBufferPointer { quantizer.table(for: $0) }
    }
}
