/// The vectors of one namespace, as int8 codes packed for scanning.
///
/// Slot `i` (dense: `0 ..< count`) holds note `handles[i]`: its codes are
/// `codes[i × stride ..< (i + 1) × stride]`, its scale `scales[i]`, and
/// `slots[handles[i]] == i`. A removal moves the last slot into the hole, so
/// the codes stay one contiguous run the scan reads front to back.
struct VectorNamespace: Sendable {
    /// Codes per vector: the dimensions rounded up to the kernel's block, the tail zero.
    let stride: Int
    private(set) var codes: [Int8] = []
    private(set) var scales: [Float] = []
    private(set) var handles: [Int64] = []
    private var slots: [Int64: Int32] = [:]

    init(stride: Int) {
        self.stride = stride
    }

    var count: Int { handles.count }

    func contains(_ handle: Int64) -> Bool {
        slots[handle] != nil
    }

    /// Adds `handle`'s code, or replaces it in place when `handle` is there.
    mutating func insert(_ handle: Int64, _ code: VectorCode) {
        precondition(code.codes.count == stride)
        if let slot = slots[handle] {
            let i = Int(slot)
            codes.replaceSubrange(i * stride ..< (i + 1) * stride, with: code.codes)
            scales[i] = code.scale
        } else {
            precondition(handles.count < Int32.max, "a namespace holds fewer than 2³¹ vectors")
            slots[handle] = Int32(handles.count)
            codes.append(contentsOf: code.codes)
            scales.append(code.scale)
            handles.append(handle)
        }
    }

    /// Whether `additional` more vectors fit without any array growing.
    func hasRoom(for additional: Int) -> Bool {
        let needed = count + additional
        return codes.capacity >= needed * stride && scales.capacity >= needed
            && handles.capacity >= needed && slots.capacity >= needed
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
        slots.reserveCapacity(vectors)
    }

    /// Removes `handle`'s code, if there: O(stride).
    mutating func remove(_ handle: Int64) {
        guard let slot = slots.removeValue(forKey: handle) else { return }
        let hole = Int(slot), last = handles.count - 1
        if hole != last {
            let stride = stride
            codes.withUnsafeMutableBufferPointer { codes in
                (codes.baseAddress! + hole * stride).update(from: codes.baseAddress! + last * stride, count: stride)
            }
            scales[hole] = scales[last]
            handles[hole] = handles[last]
            slots[handles[hole]] = slot
        }
        codes.removeLast(stride)
        scales.removeLast()
        handles.removeLast()
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

    /// Bytes allocated for codes, scales, handles and the slot map (their capacities, not their counts).
    var memoryBytes: Int {
        codes.capacity * MemoryLayout<Int8>.stride
            + scales.capacity * MemoryLayout<Float>.stride
            + handles.capacity * MemoryLayout<Int64>.stride
            + Self.slotMapBytes(capacity: slots.capacity)
    }

    /// A native Dictionary<Int64, Int32> able to hold `capacity` keys has a
    /// power-of-two number of buckets at most 3/4 full, each a key, a value
    /// and an occupancy bit.
    static func slotMapBytes(capacity: Int) -> Int {
        guard capacity > 0 else { return 0 }
        var buckets = 1
        while buckets * 3 / 4 < capacity { buckets *= 2 }
        return buckets * (MemoryLayout<Int64>.stride + MemoryLayout<Int32>.stride) + buckets / 8
    }
}
