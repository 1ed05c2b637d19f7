/// From a key to the slot that holds it, in 4 bytes a bucket: the buckets
/// hold slots only, and a key is told apart by reading the key its slot
/// holds (`keys[slot]`, kept by the caller). Open addressing with linear
/// probing, at most half full; a removal shifts the probe run back instead
/// of leaving a tombstone.
///
/// At a million keys that is 8 MiB, where a `Dictionary<UInt64, Int32>`
/// takes 24 MiB.
struct SlotTable: Sendable {
    private static let empty: Int32 = -1
    private var buckets: [Int32] = []

    /// Keys the table holds at most before it must grow.
    var capacity: Int { buckets.count / 2 }

    var memoryBytes: Int { buckets.capacity * MemoryLayout<Int32>.stride }

    private func home(_ key: UInt64) -> Int {
        // Fibonacci hashing: the high bits of key × 2⁶⁴/φ, as many as the buckets need.
        let bits = buckets.count.trailingZeroBitCount
        return Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits))
    }

    /// The bucket holding `key`, or the empty one where it would go.
    private func bucket(of key: UInt64, keys: [UInt64]) -> (index: Int, found: Bool) {
        let mask = buckets.count - 1
        var i = home(key)
        while true {
            let slot = buckets[i]
            if slot == Self.empty { return (i, false) }
            if keys[Int(slot)] == key { return (i, true) }
            i = (i + 1) & mask
        }
    }

    /// The slot of `key`, if the table holds it.
    func slot(of key: UInt64, keys: [UInt64]) -> Int? {
        guard !buckets.isEmpty else { return nil }
        let (i, found) = bucket(of: key, keys: keys)
        return found ? Int(buckets[i]) : nil
    }

    /// Records `slot` for `keys[slot]`, which the table must not hold yet;
    /// `reserve` must have made room.
    mutating func insert(slot: Int, keys: [UInt64]) {
        precondition(!buckets.isEmpty, "reserve first")
        let (i, found) = bucket(of: keys[slot], keys: keys)
        precondition(!found, "a key the table holds already")
        buckets[i] = Int32(slot)
    }

    /// Points `key`'s bucket at `slot` (the key moved there).
    mutating func move(_ key: UInt64, to slot: Int, keys: [UInt64]) {
        let (i, found) = bucket(of: key, keys: keys)
        precondition(found)
        buckets[i] = Int32(slot)
    }

    /// Forgets `key`; nothing when it is not there.
    mutating func remove(_ key: UInt64, keys: [UInt64]) {
        guard !buckets.isEmpty else { return }
        let mask = buckets.count - 1
        var (hole, found) = bucket(of: key, keys: keys)
        guard found else { return }
        buckets[hole] = Self.empty
        // Shift back every later key of the run whose home does not lie after the hole.
        var i = hole
        while true {
            i = (i + 1) & mask
            let slot = buckets[i]
            if slot == Self.empty { return }
            let h = home(keys[Int(slot)])
            let staysPut = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i)
            if !staysPut {
                buckets[hole] = slot
                buckets[i] = Self.empty
                hole = i
            }
        }
    }

    /// Makes room for `count` keys: when the table is too small, its buckets
    /// are laid out again (twice `count`, rounded up to a power of two) from
    /// `keys[0 ..< filled]`, the slots in use.
    mutating func reserve(_ count: Int, keys: [UInt64], filled: Int) {
        guard count > capacity else { return }
        var size = 16
        while size / 2 < count { size *= 2 }
        buckets = [Int32](repeating: Self.empty, count: size)
        for slot in 0..<filled { insert(slot: slot, keys: keys) }
    }
}
