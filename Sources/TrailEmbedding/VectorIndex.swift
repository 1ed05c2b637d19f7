import Synchronization

/// Notes' vectors held in memory for recall by meaning (contract §8): per
/// namespace, each entry's key, the handle the store gives its note, and its
/// vector. Namespaces never mix: every operation names one.
///
/// A vector is kept as int8 codes and one scale (scalar quantisation:
/// `scale = max |x| / 127`, `code = round(x / scale)`), 384 + 4 bytes for
/// all-MiniLM-L6-v2, plus 8 for its handle, 8 for its key and about 8 for
/// its slot in the namespace's `SlotTable`: about a quarter of float32.
/// `nearest` compares the query with every vector of the namespace (no
/// approximate index: recall is lost only to quantisation), scoring the
/// integer dot product of the codes times both scales. That is the cosine
/// within about 0.01; the caller re-ranks a few more candidates than it needs
/// with the float vectors it keeps elsewhere.
///
/// Safe to use from many threads: searches share a reader-writer lock and
/// run in parallel, each on its caller's thread; inserts and removes take it
/// alone, for the microseconds a change takes (quantising is done before).
/// A writer waits for the searches under way (a full scan: about 1.5 ms per
/// 100,000 vectors of 384), and searches arriving meanwhile wait for it.
/// When a namespace's arrays are full, a change copies them into arrays
/// twice as large without the write lock, searches going on meanwhile
/// (at 1,000,000 vectors that copy takes a fraction of a second), and then
/// swaps them in.
public final class VectorIndex: Sendable {
    /// Numbers in a vector (384 for all-MiniLM-L6-v2).
    public let dimensions: Int
    /// Codes per stored vector: `dimensions` rounded up to the kernel's block.
    let stride: Int
    private let namespaces: VectorLock<[String: VectorNamespace]>
    /// Held through every change, so that only one writer runs at a time: a
    /// namespace the writer copied under the read lock then stays current
    /// until it swaps its grown copy in.
    private let writer = Mutex(())

    /// The most numbers a vector may have: beyond, an integer dot product of
    /// two codes (each at most 127²) could overflow 32 bits.
    static let maximumDimensions = 131_072

    /// An empty index for vectors of `dimensions` numbers. Traps unless
    /// `dimensions` is in 1...131_072.
    public init(dimensions: Int) {
        precondition(
            (1...Self.maximumDimensions).contains(dimensions),
            "dimensions must be in 1...\(Self.maximumDimensions), not \(dimensions)")
        self.dimensions = dimensions
        stride = (dimensions + VectorQuery.block - 1) / VectorQuery.block * VectorQuery.block
        namespaces = VectorLock([:])
    }

    /// Adds or replaces the vector of the entry `key` (by default the
    /// handle's bits) in namespace `ns`, for note `handle` (an Int64 the
    /// store gives).
    ///
    /// The vector should be unit length, as the encoder's are; any other is
    /// taken as its direction. Components that are not finite count as 0.
    /// Costs O(dimensions), most of it before taking the write lock. When the
    /// namespace's arrays are full (each time it doubles) the call also copies
    /// them, O(count(ns:) × dimensions), without the write lock. Traps if
    /// `vector.count != dimensions`.
    public func insert(ns: String, handle: Int64, key: UInt64? = nil, vector: [Float]) {
        let code = quantise(vector), key = key ?? UInt64(bitPattern: handle)
        change(ns, adding: 1) { $0.insert(key, handle: handle, code) }
    }

    /// Adds or replaces many vectors of namespace `ns` at once, each keyed
    /// by its handle's bits: a search sees all of them or none.
    public func insert(ns: String, _ entries: [(handle: Int64, vector: [Float])]) {
        insert(ns: ns, entries.map { (key: UInt64(bitPattern: $0.handle), handle: $0.handle, vector: $0.vector) })
    }

    /// Adds or replaces many vectors of namespace `ns` at once: a search sees
    /// all of them or none. A key given twice keeps its last vector. Costs
    /// as `insert(ns:handle:key:vector:)` each, under one write lock, growing
    /// the arrays at most once (to the exact size when loading an empty
    /// namespace). Traps if a vector's count is not `dimensions`.
    public func insert(ns: String, _ entries: [(key: UInt64, handle: Int64, vector: [Float])]) {
        guard !entries.isEmpty else { return }
        let codes = entries.map { (key: $0.key, handle: $0.handle, code: quantise($0.vector)) }
        change(ns, adding: codes.count) { namespace in
            for entry in codes { namespace.insert(entry.key, handle: entry.handle, entry.code) }
        }
    }

    /// Makes room for `capacity` vectors in namespace `ns` at once, so that
    /// loading that many in batches grows the arrays once, to the size
    /// needed, instead of doubling (which leaves up to half of them spare).
    /// Costs one copy of what the namespace holds, if anything.
    public func reserve(ns: String, capacity: Int) {
        let additional = capacity - count(ns: ns)
        guard additional > 0 else { return }
        change(ns, adding: additional) { _ in }
    }

    /// Removes the entry `key` from namespace `ns`; does nothing if it is
    /// not there. O(dimensions): the namespace's last vector moves into the
    /// freed slot. A namespace left empty is dropped with its memory. A key
    /// the namespace does not hold costs a look under the read lock only
    /// (traild removes every retracted or evaporated note, embedded or not).
    public func remove(ns: String, key: UInt64) {
        guard contains(ns: ns, key: key) else { return }
        writer.withLock { _ in
            namespaces.write { namespaces in
                guard namespaces[ns]?.contains(key) == true else { return }
                namespaces[ns]!.remove(key)
                if namespaces[ns]!.count == 0 { namespaces[ns] = nil }
            }
        }
    }

    /// Whether namespace `ns` holds the entry `key`. O(1).
    public func contains(ns: String, key: UInt64) -> Bool {
        namespaces.read { $0[ns]?.contains(key) ?? false }
    }

    /// Vectors in namespace `ns`. O(1).
    public func count(ns: String) -> Int {
        namespaces.read { $0[ns]?.count ?? 0 }
    }

    /// Vectors in all namespaces. O(number of namespaces).
    public var count: Int {
        namespaces.read { $0.values.reduce(0) { $0 + $1.count } }
    }

    /// The handles of namespace `ns`, in no particular order. O(count(ns:)).
    public func handles(ns: String) -> [Int64] {
        // A copy, not the namespace's array: a caller keeping that would make the next insert copy it under the write lock.
        namespaces.read { $0[ns]?.handles.withUnsafeBufferPointer { Array($0) } ?? [] }
    }

    /// The `k` handles of `ns` whose codes are nearest `query` by approximate
    /// cosine, best first (ties by handle ascending), each with that
    /// similarity. Fewer when the namespace holds fewer; none when `k <= 0`
    /// or `ns` is empty.
    ///
    /// Exact over the codes: every vector of `ns` is scored, under the read
    /// lock, on the caller's thread: about 1.5 ms per 100,000 vectors of 384
    /// (15 ms per 1,000,000) on one core of a 2.6 GHz AMD EPYC, plus
    /// O(k log k) to order the result. The query should be unit length; any
    /// other is taken as its direction. Traps if `query.count != dimensions`.
    public func nearest(ns: String, to query: [Float], k: Int) -> [(handle: Int64, similarity: Float)] {
        precondition(query.count == dimensions, "a query of \(query.count) numbers, not \(dimensions)")
        guard k > 0 else { return [] }
        let prepared = VectorQuery(query, stride: stride)
        return namespaces.read { $0[ns]?.nearest(prepared, k: k) ?? [] }
    }

    /// Bytes the index holds (codes, scales, handles, keys, slot tables), for the
    /// benchmark's memory figure: what their storage has allocated, growth
    /// room included; not the namespaces' names. O(number of namespaces).
    public var memoryBytes: Int {
        namespaces.read { $0.values.reduce(0) { $0 + $1.memoryBytes } }
    }

    /// Applies `body`, which adds at most `additional` vectors, to namespace
    /// `ns` (made when missing).
    private func change(_ ns: String, adding additional: Int, _ body: (inout VectorNamespace) -> Void) {
        writer.withLock { _ in
            if namespaces.read({ $0[ns]?.hasRoom(for: additional) ?? false }) {
                namespaces.write { body(&$0[ns]!) }
                return
            }
            // Growing copies every array of the namespace: done on a copy, outside the write lock.
            var grown = namespaces.read { $0[ns] } ?? VectorNamespace(stride: stride)
            grown.reserve(additional: additional)
            body(&grown)
            let old = namespaces.write { $0.updateValue(grown, forKey: ns) }
            _ = old  // The old arrays are freed here, after the write lock.
        }
    }

    private func quantise(_ vector: [Float]) -> VectorCode {
        precondition(vector.count == dimensions, "a vector of \(vector.count) numbers, not \(dimensions)")
        return VectorCode(vector, stride: stride)
    }
}
