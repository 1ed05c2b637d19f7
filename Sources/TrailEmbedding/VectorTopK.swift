/// The `k` best of the (similarity, handle) pairs offered to it, best being
/// the highest similarity and, among equals, the lowest handle.
///
/// A binary heap with the worst pair kept at its root, so a newcomer is
/// weighed against that one pair and an accepted one costs O(log k).
/// `threshold` (the root's similarity) lets a scan skip most pairs with one
/// comparison before offering them.
struct VectorTopK {
    struct Entry {
        var similarity: Float
        var handle: Int64
    }

    let k: Int
    /// A pair below this similarity cannot enter.
    private(set) var threshold: Float
    private var heap: [Entry] = []

    init(k: Int) {
        self.k = max(k, 0)
        threshold = k > 0 ? -.infinity : .infinity
        heap.reserveCapacity(self.k)
    }

    static func isBetter(_ a: Entry, than b: Entry) -> Bool {
        a.similarity > b.similarity || (a.similarity == b.similarity && a.handle < b.handle)
    }

    mutating func offer(_ similarity: Float, _ handle: Int64) {
        let entry = Entry(similarity: similarity, handle: handle)
        if heap.count < k {
            heap.append(entry)
            siftUp(heap.count - 1)
            if heap.count == k { threshold = heap[0].similarity }
        } else if k > 0, Self.isBetter(entry, than: heap[0]) {
            heap[0] = entry
            siftDown(0)
            threshold = heap[0].similarity
        }
    }

    /// The pairs kept, best first. Costs O(k log k).
    func best() -> [(handle: Int64, similarity: Float)] {
        heap.sorted { Self.isBetter($0, than: $1) }.map { ($0.handle, $0.similarity) }
    }

    // Invariant: no child is worse than its parent.
    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.isBetter(heap[parent], than: heap[child]) else { return }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1, right = left + 1
            var worst = parent
            if left < heap.count, Self.isBetter(heap[worst], than: heap[left]) { worst = left }
            if right < heap.count, Self.isBetter(heap[worst], than: heap[right]) { worst = right }
            if worst == parent { return }
            heap.swapAt(parent, worst)
            parent = worst
        }
    }
}
