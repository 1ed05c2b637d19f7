import Testing
@testable import TrailEmbedding

@Suite("slot table")
struct SlotTableTests {
    @Test("the slot table agrees with a dictionary through inserts, moves and removals, keys colliding")
    func agreesWithDictionary() {
        var g = SeededGenerator(seed: 5)
        var table = SlotTable()
        var keys: [UInt64] = []
        var model: [UInt64: Int] = [:]
        for round in 0..<4000 {
            // Small keys collide in the table's buckets; a few large ones too.
            let key = round % 7 == 0 ? UInt64.random(in: 0...UInt64.max, using: &g) : UInt64.random(in: 0..<600, using: &g)
            if model[key] == nil, Bool.random(using: &g) || keys.isEmpty {
                keys.append(key)
                table.reserve(keys.count, keys: keys, filled: keys.count - 1)
                table.insert(slot: keys.count - 1, keys: keys)
                model[key] = keys.count - 1
            } else if let victim = keys.randomElement(using: &g) {
                // Remove as the namespace does: the last slot moves into the hole.
                let hole = model[victim]!, last = keys.count - 1
                table.remove(victim, keys: keys)
                if hole != last {
                    table.move(keys[last], to: hole, keys: keys)
                    keys[hole] = keys[last]
                    model[keys[hole]] = hole
                }
                keys.removeLast()
                model[victim] = nil
            }
            if round % 97 == 0 {
                for (key, slot) in model { #expect(table.slot(of: key, keys: keys) == slot) }
            }
        }
        #expect(table.capacity >= keys.count)
        for (key, slot) in model { #expect(table.slot(of: key, keys: keys) == slot) }
        for key in UInt64(600)..<700 where model[key] == nil { #expect(table.slot(of: key, keys: keys) == nil) }
    }

    @Test("4 bytes a bucket, at most half full: a million keys in 8 MiB")
    func size() {
        var table = SlotTable()
        let keys = (0..<1_000_000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        table.reserve(keys.count, keys: keys, filled: 0)
        #expect(table.memoryBytes >= 8 * 1024 * 1024 && table.memoryBytes < 8 * 1024 * 1024 + 65_536, "\(table.memoryBytes)")
    }
}
