import Foundation
import GRDB
import Testing
import TrailCore
@testable import TrailSQLite
import TrailStore

/// traild's copy in memory of what a full-text sense ranks by (`NoteKeyMirror`)
/// must rank exactly as SQL does, and never answer from a state the store has
/// left: held against a second store on the same file that reads through SQL
/// alone (`keyMirror: false`), as another process would.
@Suite("Full-text ranking from memory")
struct KeyMirrorTests {
    /// Waits until the copy is at the store's epoch (it reads the store again
    /// in the background after a change it cannot follow).
    func settled(_ store: SQLiteStore) async throws {
        for _ in 0..<400 {
            let epoch = try await store.pool.read { try NoteKeyMirror.epoch($0) }
            if store.mirror?.isCurrent(at: epoch) == true { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the copy never caught up with the store")
    }

    /// The same senses through both stores; the copy must have ranked each.
    func expectSame(_ f: Fixture, _ sql: SQLiteStore, _ queries: [SenseQuery],
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        for q in queries {
            let before = f.store.mirror!.reads.answered
            let mine = try f.store.senseNow(q)
            let theirs = try sql.senseNow(q)
            #expect(f.store.mirror!.reads.answered > before, "the copy did not rank \(q)", sourceLocation: sourceLocation)
            #expect(mine.map(\.note.id) == theirs.map(\.note.id), "\(q)", sourceLocation: sourceLocation)
            #expect(mine.map(\.score) == theirs.map(\.score), "\(q)", sourceLocation: sourceLocation)
            #expect(!mine.isEmpty, sourceLocation: sourceLocation)
        }
    }

    func queries(_ word: String) -> [SenseQuery] {
        [SenseQuery(ns: "default", words: [word], limit: 10),
         SenseQuery(ns: "default", words: [word], limit: 37),
         SenseQuery(ns: "default", words: [word], limit: 300, budgetBytes: 1 << 20),
         SenseQuery(ns: "default", words: [word], limit: 20, minWeight: 2),
         SenseQuery(ns: "default", words: [word], limit: 20, includeFaded: true)]
    }

    @Test("ranks as SQL does: namespaces, strengths, reinforcement, repulsion, retraction, ranks and a new half-life")
    func ranksAsSQL() async throws {
        let f = try Fixture()
        var ids: [String] = []
        for i in 0..<2_300 {
            if i % 7 == 0 { f.clock.advance(3_600) }
            // Strengths from 0.05 to 9.7: some fade within the test's hours.
            let strength = 0.05 + Double((i * 37) % 97) / 10
            ids.append(try await f.deposit("delta note \(i)", strength: strength).note.id.hex)
        }
        for i in 0..<300 { try await f.deposit("delta elsewhere \(i)", ns: "other", strength: 50) }
        for (k, id) in ids.enumerated() where k % 23 == 0 {
            _ = try await f.store.write(.reinforce(id: try f.id(id), ns: "default", delta: k % 2 == 0 ? 40 : -40), by: Writer())
        }
        for (k, id) in ids.enumerated() where k % 31 == 0 {
            _ = try await f.store.write(.retract(id: try f.id(id), ns: "default", reason: "wrong"), by: Writer())
        }
        f.clock.advance(86_400)
        try await settled(f.store)
        let sql = try SQLiteStore(path: f.store.path, clock: f.clock, keyMirror: false)
        try expectSame(f, sql, queries("delta"))

        // A new half-life rewrites every key of the namespace (a rebase the copy follows).
        _ = try await f.store.write(.configure(NamespaceChange(ns: "default", halfLife: 3 * 86_400)), by: Writer())
        try expectSame(f, sql, queries("delta"))

        // Ranks come from a compaction: a bulk change the copy reads again.
        let seqs = try await f.store.pool.read { try Int64.fetchAll($0, sql: "SELECT seq FROM note WHERE ns = 'default' ORDER BY seq") }
        let ranks = seqs.enumerated().map { (handle: $0.element, rank: Double(($0.offset * 13) % 50) / 10) }
        _ = try await f.store.write(.setRanks(ns: "default", ranks: ranks), by: Writer())
        let moved = try await f.store.pool.read { try NoteKeyMirror.epoch($0) }
        #expect(f.store.mirror!.isCurrent(at: moved) == false)
        let unranked = try f.store.senseNow(SenseQuery(ns: "default", words: ["delta"], limit: 10))
        #expect(unranked.map(\.note.id) == (try sql.senseNow(SenseQuery(ns: "default", words: ["delta"], limit: 10))).map(\.note.id))
        try await settled(f.store)
        try expectSame(f, sql, queries("delta"))
        await sql.close()
    }

    @Test("the selection keeps exactly the first k, for sorted, reversed, repeated and random keys")
    func selection() {
        var rng = SystemRandomNumberGenerator()
        let inputs: [[Int]] = [Array(0..<500), Array((0..<500).reversed()), Array(repeating: 7, count: 300) + Array(0..<200),
                               (0..<3_000).map { _ in Int.random(in: 0..<100, using: &rng) }, [3], []]
        for input in inputs {
            // Ties broken by position, as seq breaks them: a strict total order.
            let items = input.enumerated().map { (key: $0.element, seq: $0.offset) }
            let before = { (a: (key: Int, seq: Int), b: (key: Int, seq: Int)) in a.key != b.key ? a.key > b.key : a.seq < b.seq }
            for k in [0, 1, 2, items.count / 3, items.count - 1, items.count, items.count + 5] where k >= 0 {
                var kept = items.shuffled(using: &rng)
                kept.keepFirst(k, by: before)
                let expected = items.sorted(by: before).prefix(k)
                #expect(kept.sorted(by: before).map(\.seq) == expected.map(\.seq), "k = \(k) of \(items.count)")
            }
        }
    }

    @Test("a steady stream of traild's own deposits does not keep the copy from coming back")
    func catchesUpUnderDeposits() async throws {
        let f = try Fixture()
        // A new store's copy is read in the background; deposits keep coming
        // the whole time, a few milliseconds apart.
        let start = ContinuousClock.now
        var current = false
        var i = 0
        while !current, ContinuousClock.now - start < .seconds(5) {
            try await f.deposit("sigma note \(i)")
            i += 1
            let epoch = try await f.store.pool.read { try NoteKeyMirror.epoch($0) }
            current = f.store.mirror!.isCurrent(at: epoch)
        }
        #expect(current, "still behind after \(i) deposits")
        for k in 0..<2_100 { try await f.deposit("sigma more \(k)") }
        let sql = try SQLiteStore(path: f.store.path, clock: f.clock, keyMirror: false)
        try expectSame(f, sql, [SenseQuery(ns: "default", words: ["sigma"], limit: 10)])
        await sql.close()
    }

    @Test("another process's write is seen at once, and the copy catches up with it")
    func otherWriter() async throws {
        let f = try Fixture()
        var ids: [String] = []
        for i in 0..<2_100 {
            f.clock.advance(1)
            ids.append(try await f.deposit("omega note \(i)").note.id.hex)
        }
        try await settled(f.store)
        let other = try SQLiteStore(path: f.store.path, clock: f.clock, keyMirror: false)
        let first = try f.store.senseNow(SenseQuery(ns: "default", words: ["omega"], limit: 5))
        // The other process lifts the lightest note to the top and retracts the heaviest.
        _ = try await other.write(.reinforce(id: try f.id(ids[0]), ns: "default", delta: 1_000), by: Writer())
        _ = try await other.write(.retract(id: try f.id(first[0].note.id.hex), ns: "default", reason: "wrong"), by: Writer())
        let declined = f.store.mirror!.reads.declined
        let now = try f.store.senseNow(SenseQuery(ns: "default", words: ["omega"], limit: 5))
        #expect(f.store.mirror!.reads.declined == declined + 1)
        #expect(now.first?.note.id.hex == ids[0])
        #expect(!now.map(\.note.id).contains(first[0].note.id))
        try await settled(f.store)
        try expectSame(f, other, [SenseQuery(ns: "default", words: ["omega"], limit: 5)])
        #expect(try f.store.senseNow(SenseQuery(ns: "default", words: ["omega"], limit: 5)).map(\.note.id) == now.map(\.note.id))
        await other.close()
    }
}
