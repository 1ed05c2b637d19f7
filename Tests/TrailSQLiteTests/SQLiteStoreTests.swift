import Foundation
import GRDB
import Synchronization
import Testing
import TrailCore
@testable import TrailSQLite
import TrailStore

/// A clock the test moves by hand.
final class ManualClock: WallClock {
    private let time: Mutex<Double>
    init(_ start: Double = 1_800_000_000) { time = Mutex(start) }
    func now() -> Double { time.withLock { $0 } }
    func advance(_ seconds: Double) { time.withLock { $0 += seconds } }
}

/// A store in a fresh temporary folder.
struct Fixture {
    let dir: URL
    let clock = ManualClock()
    let store: SQLiteStore

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("trail-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try SQLiteStore(path: dir.appendingPathComponent("trail.db").path, clock: clock)
    }

    @discardableResult
    func deposit(_ body: String, ns: String = "default", tags: [String] = [], after: [String] = [], strength: Double = 1,
                 force: Bool = false, agent: String? = nil) async throws -> (note: Note, created: Bool) {
        let d = Deposit(body: body, ns: ns, tags: tags, after: try after.map { try IDPrefix($0, field: "after") },
                        strength: strength, force: force)
        guard case let .deposited(note, created) = try await store.write(.deposit(d), by: Writer(agent: agent)) else {
            throw TrailError.internal("not a deposit")
        }
        return (note, created)
    }

    func id(_ s: String) throws -> IDPrefix { try IDPrefix(s, field: "id") }
}

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test("deposit, re-deposit adds to the decayed weight and unions tags and after")
    func redeposit() async throws {
        let f = try Fixture()
        let a = try await f.deposit("first", tags: ["x"], agent: "ant-1")
        #expect(a.created)
        #expect(a.note.id == NoteID(body: "first"))
        let b = try await f.deposit("second")
        f.clock.advance(604_800)  // one half-life
        let again = try await f.deposit("first", tags: ["y"], after: [b.note.id.hex], strength: 2, agent: "ant-2")
        #expect(!again.created)
        #expect(abs(again.note.weight - 2.5) < 1e-9)
        #expect(again.note.deposits == 2)
        #expect(again.note.tags == ["x", "y"])
        #expect(again.note.after == [b.note.id])
        #expect(again.note.agent == "ant-1")
    }

    @Test("notes fade as a range on the key and sense leaves them out")
    func fading() async throws {
        let f = try Fixture()
        _ = try await f.store.write(.configure(NamespaceChange(ns: "fast", halfLife: 1)), by: Writer())
        try await f.deposit("strong", ns: "fast", strength: 1)
        try await f.deposit("weak", ns: "fast", strength: 0.1)
        f.clock.advance(1.5)  // weak: 0.035 < 0.05 (faded), strong: 0.35
        let live = try await f.store.sense(SenseQuery(ns: "fast"))
        #expect(live.map(\.note.body) == ["strong"])
        let all = try await f.store.sense(SenseQuery(ns: "fast", includeFaded: true))
        #expect(all.map(\.note.body) == ["strong", "weak"])
        #expect(all[1].note.state == .faded)
        let summary = try await f.store.summary(ns: "fast")
        #expect(summary.counts.live == 1 && summary.counts.faded == 1 && summary.counts.notes == 2)
    }

    @Test("sense orders by weight, ties by id; tags, budget and min_weight")
    func senseOrdering() async throws {
        let f = try Fixture()
        let bodies = ["alpha", "bravo", "charlie", "delta"]
        for b in bodies { try await f.deposit(b, tags: b == "delta" ? ["d", "x"] : ["x"]) }
        try await f.deposit("charlie", strength: 2)
        let ranked = try await f.store.sense(SenseQuery(ns: "default"))
        #expect(ranked.first?.note.body == "charlie")
        let ties = ranked.dropFirst().map(\.note.id.hex)
        #expect(ties == ties.sorted())
        #expect(try await f.store.sense(SenseQuery(ns: "default", allTags: ["d", "x"])).map(\.note.body) == ["delta"])
        #expect(try await f.store.sense(SenseQuery(ns: "default", anyTags: ["d", "zzz"])).map(\.note.body) == ["delta"])
        #expect(try await f.store.sense(SenseQuery(ns: "default", minWeight: 1.5)).map(\.note.body) == ["charlie"])
        // Budget 12: charlie (7) fits, then the next that fits in 5 bytes: alpha, bravo, delta are 5.
        let budget = try await f.store.sense(SenseQuery(ns: "default", budgetBytes: 12))
        #expect(budget.count == 2)
        #expect(budget.reduce(0) { $0 + $1.note.body.utf8.count } <= 12)
    }

    @Test("full text matches stemmed words and mixes relevance with weight")
    func fullText() async throws {
        let f = try Fixture()
        try await f.deposit("the build fails on linux without libzstd")
        try await f.deposit("builds pass after installing zstd", strength: 3)
        try await f.deposit("unrelated note about ants")
        let hits = try await f.store.sense(SenseQuery(ns: "default", words: ["building"]))
        #expect(hits.count == 2)
        #expect(hits.first?.note.body == "builds pass after installing zstd")
        #expect(hits.allSatisfy { $0.score > $0.note.weight })
    }

    @Test("trails: follow forward, backward, both; explore is reproducible")
    func trails() async throws {
        let f = try Fixture()
        let root = try await f.deposit("root").note.id.hex
        for (i, s) in [1.0, 3.0, 2.0].enumerated() {
            try await f.deposit("child \(i)", after: [root], strength: s)
        }
        let fw = try await f.store.follow(FollowQuery(from: f.id(root), ns: "default"))
        #expect(fw.steps.map(\.note.body) == ["child 1", "child 2", "child 0"])
        let child = fw.steps[0].to.hex
        let back = try await f.store.follow(FollowQuery(from: f.id(child), ns: "default", direction: .backward))
        #expect(back.steps.map(\.to.hex) == [root])
        let both = try await f.store.follow(FollowQuery(from: f.id(child), ns: "default", direction: .both))
        #expect(both.steps.count == 1 && both.steps[0].direction == .backward)
        let x = try await f.store.follow(FollowQuery(from: f.id(root), ns: "default", explore: 1, seed: 7))
        let y = try await f.store.follow(FollowQuery(from: f.id(root), ns: "default", explore: 1, seed: 7))
        #expect(x.steps.map(\.to) == y.steps.map(\.to))
    }

    @Test("retract refuses re-deposit unless forced; revive brings it back")
    func retraction() async throws {
        let f = try Fixture()
        let id = try await f.deposit("bad advice").note.id.hex
        _ = try await f.store.write(.retract(id: f.id(id), ns: "default", reason: "it broke the build"), by: Writer(agent: "a"))
        await #expect(throws: TrailError.self) { try await f.deposit("bad advice") }
        let note = try await f.store.get(f.id(id), ns: "default").note
        #expect(note.state == .retracted && note.retraction?.reason == "it broke the build")
        #expect(try await f.store.sense(SenseQuery(ns: "default")).isEmpty)
        let forced = try await f.deposit("bad advice", force: true)
        #expect(forced.note.state == .live && forced.note.retraction == nil)
    }

    @Test("changing the half-life keeps every current weight")
    func rebaseOnConfigure() async throws {
        let f = try Fixture()
        try await f.deposit("a", strength: 5)
        try await f.deposit("b", strength: 0.5)
        f.clock.advance(86_400)
        let before = try await f.store.sense(SenseQuery(ns: "default")).map(\.note.weight)
        _ = try await f.store.write(.configure(NamespaceChange(ns: "default", halfLife: 60)), by: Writer())
        let after = try await f.store.sense(SenseQuery(ns: "default")).map(\.note.weight)
        for (x, y) in zip(before, after) { #expect(abs(x - y) < 1e-9 * x) }
        f.clock.advance(60)
        let later = try await f.store.sense(SenseQuery(ns: "default")).map(\.note.weight)
        for (x, y) in zip(before, later) { #expect(abs(x / 2 - y) < 1e-9 * x) }
    }

    @Test("prefixes resolve; ambiguity and unknown ids are errors")
    func prefixes() async throws {
        let f = try Fixture()
        // Two bodies whose ids share 8 hex digits: by the birthday bound, ~2^16 tries.
        var seen: [String: String] = [:]
        var pair: (String, String)?
        for i in 0..<300_000 where pair == nil {
            let body = "n\(i)"
            let p = String(NoteID(body: body).hex.prefix(8))
            if let other = seen[p] { pair = (other, body) } else { seen[p] = body }
        }
        let (x, y) = try #require(pair)
        try await f.deposit(x)
        try await f.deposit(y)
        let shared = String(NoteID(body: x).hex.prefix(8))
        await #expect(throws: TrailError.self) { try await f.store.get(f.id(shared), ns: "default") }
        let prefix9 = String(NoteID(body: x).hex.prefix(12))
        #expect(try await f.store.get(f.id(prefix9), ns: "default").note.body == x)
        await #expect(throws: TrailError.unknownNote(id: "ffffffff", ns: "default")) {
            try await f.store.get(f.id("ffffffff"), ns: "default")
        }
    }

    @Test("many concurrent writes commit together and each is answered")
    func groupCommit() async throws {
        let f = try Fixture()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<400 { group.addTask { try await f.deposit("note \(i)") } }
            try await group.waitForAll()
        }
        #expect(try await f.store.summary(ns: "default").counts.notes == 400)
    }

    @Test("a refused write in a group leaves no trace; the rest of the group commits")
    func refusedInGroup() async throws {
        let f = try Fixture()
        let anchor = try await f.deposit("anchor").note.id
        // Queued back to back, so they commit in groups; each refused deposit
        // would create namespace "ghost" before finding that its `after` is unknown.
        let outcomes = Mutex<[Int: Result<WriteOutcome, TrailError>]>([:])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let left = Atomic<Int>(300)
            for i in 0..<300 {
                let refused = i % 50 == 7
                let d = Deposit(body: "grouped \(i)", ns: refused ? "ghost" : "default",
                                tags: [], after: [try! IDPrefix(refused ? "deadbeefdeadbeef" : anchor.hex, field: "after")],
                                strength: 1, force: false)
                f.store.submit(.deposit(d), by: Writer()) { result in
                    outcomes.withLock { $0[i] = result.map(\.outcome) }
                    if left.subtract(1, ordering: .relaxed).newValue == 0 { done.resume() }
                }
            }
        }
        let all = outcomes.withLock { $0 }
        for (i, result) in all {
            if i % 50 == 7 {
                guard case let .failure(error) = result, case .unknownNote = error else {
                    Issue.record("deposit \(i) should be refused: \(result)")
                    continue
                }
            } else if case let .failure(error) = result {
                Issue.record("deposit \(i) failed: \(error)")
            }
        }
        #expect(try await f.store.summary(ns: "default").counts.notes == 295)
        #expect(try await f.store.follow(FollowQuery(from: IDPrefix(anchor.hex, field: "id"), ns: "default", limit: 500)).steps.count == 294)
        #expect(try await f.store.namespaces().map(\.settings.name) == ["default"])
    }

    @Test("a full-text search finds its own namespace's notes only, whether its words are rare or common in the store")
    func textByNamespace() async throws {
        let f = try Fixture()
        try await f.deposit("red apple", ns: "a")
        try await f.deposit("red cherry", ns: "b")
        #expect(try await f.store.sense(SenseQuery(ns: "a", words: ["red"])).map(\.note.body) == ["red apple"])
        // 2,100 matches in b make "ruby" common: a's search takes the common-word path.
        let many = (0..<2100).map { i in
            NoteRecord(note: Note(id: NoteID(body: "ruby \(i)"), ns: "b", body: "ruby \(i)", tags: [], after: [], weight: 1,
                                  rank: nil, deposits: 1, agent: nil, state: .live, createdAtMillis: 0, updatedAtMillis: 0,
                                  retraction: nil), trails: [])
        }
        _ = try await f.store.write(.restore(ns: "b", records: many), by: Writer())
        try await f.deposit("ruby slipper", ns: "a")
        try await f.deposit("ruby glass", ns: "a", strength: 2)
        let found = try await f.store.sense(SenseQuery(ns: "a", words: ["ruby"], limit: 50))
        #expect(found.map(\.note.body) == ["ruby glass", "ruby slipper"])
    }

    /// Rare tags are read through `note_tag`, common ones by walking the key
    /// index: every plan must give what filtering all notes by hand gives.
    @Test("tag-filtered senses return the heaviest tagged notes, whichever rows they walk")
    func tagPlans() async throws {
        let f = try Fixture()
        let records = (0..<600).map { i in
            var tags = ["all"]
            if i % 3 == 0 { tags.append("third") }
            if i % 2 == 0 { tags.append("half") }
            if i % 50 == 0 { tags.append("rare") }
            if i % 50 == 1 { tags.append("pair") }
            return NoteRecord(note: Note(id: NoteID(body: "tagged \(i)"), ns: "default", body: "tagged \(i)", tags: tags.sorted(),
                                         after: [], weight: Double((i * 37) % 101) / 10 + 0.1, rank: nil, deposits: 1,
                                         agent: nil, state: .live, createdAtMillis: 0, updatedAtMillis: 0, retraction: nil),
                              trails: [])
        }
        _ = try await f.store.write(.restore(ns: "default", records: records), by: Writer())
        let everything = try await f.store.sense(SenseQuery(ns: "default", limit: 1000)).map(\.note)
        #expect(everything.count == 600)
        let cases: [(all: [String], any: [String], limit: Int, budget: Int?)] = [
            (["all"], [], 10, nil), (["third"], [], 10, nil), (["rare"], [], 10, nil), (["rare", "third"], [], 10, nil),
            ([], ["rare", "pair"], 10, nil), ([], ["third", "rare"], 10, nil), (["third"], ["rare", "pair"], 10, nil),
            (["nothing"], [], 10, nil), ([], ["nothing", "rare"], 5, nil),
            // Pages of 256 rows with a cursor: 300 "half" notes read through note_tag.
            (["half"], [], 1000, 1_000_000), (["half", "all"], [], 1000, 4000), ([], ["half", "pair"], 1000, 1_000_000),
        ]
        for c in cases {
            let got = try await f.store.sense(SenseQuery(ns: "default", allTags: c.all, anyTags: c.any, limit: c.limit,
                                                         budgetBytes: c.budget)).map(\.note.id)
            var budget = c.budget ?? .max
            var expected: [NoteID] = []
            for note in everything where c.all.allSatisfy(note.tags.contains)
                && (c.any.isEmpty || c.any.contains(where: note.tags.contains)) {
                guard expected.count < c.limit, budget > 0 else { break }
                guard note.body.utf8.count <= budget else { continue }
                budget -= note.body.utf8.count
                expected.append(note.id)
            }
            #expect(got == expected, "tags \(c.all), any \(c.any), limit \(c.limit)")
        }
    }

    @Test("sense by weight reads the key index and never scans the table")
    func queryPlan() async throws {
        let f = try Fixture()
        let plan = try await f.store.pool.read { db in
            try Row.fetchAll(db, sql: """
                EXPLAIN QUERY PLAN SELECT n.id FROM note n INDEXED BY note_by_key
                WHERE n.ns = 'default' AND n.state = 0 AND n.key >= 0 ORDER BY n.key DESC, n.id ASC LIMIT 10
                """).map { $0["detail"] as String }.joined(separator: "\n")
        }
        #expect(plan.contains("USING INDEX note_by_key") || plan.contains("USING COVERING INDEX note_by_key"))
        #expect(!plan.contains("TEMP B-TREE"))
    }
}

@Suite("SQLite settings")
struct SQLiteSettingsTests {
    /// The writer is FULL too: GRDB turns it to NORMAL when it sets up WAL
    /// (commits without a sync), which the store undoes.
    @Test("every connection is durable, reads through its own bounded page cache (no memory map), the writer's larger")
    func pragmas() throws {
        let f = try Fixture()
        let pragmas = { (db: Database) throws -> [Int?] in
            [try Int.fetchOne(db, sql: "PRAGMA synchronous"), try Int.fetchOne(db, sql: "PRAGMA mmap_size"),
             try Int.fetchOne(db, sql: "PRAGMA cache_size"), try Int.fetchOne(db, sql: "PRAGMA secure_delete")]
        }
        let read = try f.store.pool.read(pragmas)
        let written = try f.store.pool.writeWithoutTransaction(pragmas)
        let inline = try f.store.inline.read(pragmas)
        #expect(read == [2, 0, -SQLiteMemory.readerCacheKiB, 0])
        #expect(written == [2, 0, -SQLiteMemory.writerCacheKiB, 0])
        #expect(inline == [2, 0, -SQLiteMemory.readerCacheKiB, 0])
        let journal = try f.store.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }

    @Test("a clean close leaves the store in its one file, also after reads opened the pool's readers")
    func closeLeavesOneFile() async throws {
        let f = try Fixture()
        for i in 0..<40 { try await f.deposit("note \(i) " + String(repeating: "w", count: 1500)) }
        // Readers of the pool, open at close (GRDB closes the writer first).
        async let a = f.store.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM note") ?? 0 }
        async let b = f.store.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM note") ?? 0 }
        #expect(try await a + b == 80)
        let path = f.dir.appendingPathComponent("trail.db").path
        #expect(FileManager.default.fileExists(atPath: path + "-wal"), "the writes are in the log before the close")
        await f.store.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        // trail.db alone (a copy, as a backup by cp takes it) holds every note.
        let copy = f.dir.appendingPathComponent("copy.db").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let notes = try await DatabaseQueue(path: copy).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM note") }
        #expect(notes == 40)
    }
}
