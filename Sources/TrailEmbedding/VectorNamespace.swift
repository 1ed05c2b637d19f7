/// The vectors of one namespace, as int8 codes packed for scanning.
///
/// Slot `i` (dense: `0 ..< count`) holds the entry of key `keys[i]`, note
/// `handles[i]`: its codes are `codes[i × stride ..< (i + 1) × stride]`, its
/// scale `scales[i]`; `slots` finds a key's slot. A removal moves the last
/// slot into the hole, so the codes stay one contiguous run the scan reads
/// front to back.
struct VectorNamespace: Sendable {
    /// Codes per vector: the dimensions rounded up to the kernel's block, the tail zero.
    let stride: Int
    private(set) var codes: [Int8] = []
    private(set) var scales: [Float] = []
    private(set) var handles: [Int64] = []
    private(set) var keys: [UInt64] = []
    private var slots = SlotTable()

    init(stride: Int) {
        self.stride = stride
    }

    var count: Int { handles.count }

    func contains(_ key: UInt64) -> Bool {
        slots.slot(of: key, keys: keys) != nil
    }

    /// Adds `key`'s entry, or replaces its handle and code in place when
    /// `key` is there. `reserve` must have made room.
    mutating func insert(_ key: UInt64, handle: Int64, _ code: VectorCode) {
        precondition(code.codes.count == stride)
        if let i = slots.slot(of: key, keys: keys) {
            codes.replaceSubrange(i * stride ..< (i + 1) * stride, with: code.codes)
            scales[i] = code.scale
            handles[i] = handle
        } else {
            precondition(handles.count < Int32.max, "a namespace holds fewer than 2³¹ vectors")
            codes.append(contentsOf: code.codes)
            scales.append(code.scale)
            handles.append(handle)
            keys.append(key)
            slots.insert(slot: keys.count - 1, keys: keys)
        }
    }

    /// Whether `additional` more vectors fit without any array growing.
    func hasRoom(for additional: Int) -> Bool {
        let needed = count + additional
        return codes.capacity >= needed * stride && scales.capacity >= needed
            && handles.capacity >= needed && keys.capacity >= needed && slots.capacity >= needed
    }

    /// Makes room for `additional` more vectors, doubling the arrays, or
    /// to the exact size when doubling is not enough (so that a namespace
    /// loaded in one batch carries no spare room).
    mutating func reserve(additional: Int) {
        guard !hasRoom(for: additional) else { return }
        let vectors = max(count + additional, 2 * count)
        codes.reserveCapacity(vectors * stride)
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
            let stride = stride
            codes.withUnsafeMutableBufferPointer { codes in
                (codes.baseAddress! + hole * stride).update(from: codes.baseAddress! + last * stride, count: stride)
            }
            scales[hole] = scales[last]
            handles[hole] = handles[last]
            keys[hole] = keys[last]
        }
        codes.removeLast(stride)
        scales.removeLast()
        handles.removeLast()
        keys.removeLast()
    }

    /// The `k` handles whose codes have the highest approximate cosine with
    /// `query`, best first, ties by handle ascending. Reads every code once.
    func nearest(_ query: VectorQuery, k: Int) -> [(handle: Int64, similarity: Float)] {
        precondition(query.stride == stride)
        var top = VectorTopK(k: min(k, count))
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
        return top.best()
    }

    /// Bytes allocated for codes, scales, handles, keys and the slot table (their capacities, not their counts).
    var memoryBytes: Int {
        codes.capacity * MemoryLayout<Int8>.stride
            + scales.capacity * MemoryLayout<Float>.stride
            + handles.capacity * MemoryLayout<Int64>.stride
            + keys.capacity * MemoryLayout<UInt64>.stride
            + slots.memoryBytes
    }
}
