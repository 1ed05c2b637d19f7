import Dispatch
import Synchronization
import Testing
import TrailCore
@testable import TrailSQLite
import TrailStore

@Suite("Inline reads")
struct InlineReadsTests {
    /// The synchronous reads the daemon runs on its event loop answer what the async ones do.
    @Test("getNow, senseNow and followNow answer as get, sense and follow")
    func sameAnswers() async throws {
        let f = try Fixture()
        #expect(f.store.inlineReads != nil)
        let a = try await f.deposit("alpha", tags: ["x"], agent: "ant-1")
        let b = try await f.deposit("beta", after: [a.note.id.hex], strength: 3)
        _ = try await f.deposit("gamma", after: [a.note.id.hex, b.note.id.hex], strength: 2)
        f.clock.advance(3_600)  // the clock stands still between the two calls of each pair

        let sense = SenseQuery(ns: "default", limit: 10)
        let senseNow = try f.store.senseNow(sense)
        #expect(senseNow.count == 3)
        #expect(try await f.store.sense(sense) == senseNow)

        for direction in [TrailDirection.forward, .backward, .both] {
            let follow = FollowQuery(from: try f.id(a.note.id.hex), ns: "default", direction: direction)
            let now = try f.store.followNow(follow)
            let later = try await f.store.follow(follow)
            #expect(now.from == later.from)
            #expect(now.steps == later.steps)
        }

        let details = try f.store.getNow(try f.id(String(b.note.id.hex.prefix(8))), ns: "default")
        #expect(details.note.id == b.note.id)
        #expect(try await f.store.get(try f.id(b.note.id.hex), ns: "default") == details)

        // Failures are the same contract errors, and leave the reader usable.
        #expect(throws: TrailError.self) { try f.store.getNow(try f.id(String(repeating: "0", count: 64)), ns: "default") }
        #expect(try f.store.senseNow(SenseQuery(ns: "nowhere")).isEmpty)
        #expect(try f.store.senseNow(sense) == senseNow)
    }

    /// The inline connections live as long as the store: each read must see
    /// every write committed before it, and callers on several threads at
    /// once must each get a connection of their own.
    @Test("inline reads see each committed write, from many threads at once")
    func freshAndConcurrent() async throws {
        let f = try Fixture()
        for i in 0..<5 {
            _ = try f.store.senseNow(SenseQuery(ns: "default", limit: 100))  // a connection that read before the write
            try await f.deposit("note \(i)")
            #expect(try f.store.senseNow(SenseQuery(ns: "default", limit: 100)).count == i + 1)
            #expect(try f.store.getNow(try f.id(NoteID(body: "note \(i)").hex), ns: "default").note.body == "note \(i)")
        }
        let expected = try f.store.senseNow(SenseQuery(ns: "default", limit: 100))
        let answers = Mutex<[[ScoredNote]]>([])
        let store = f.store
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<50 {
                let got = (try? store.senseNow(SenseQuery(ns: "default", limit: 100))) ?? []
                answers.withLock { $0.append(got) }
            }
        }
        let all = answers.withLock { $0 }
        #expect(all.count == 400)
        #expect(all.allSatisfy { $0 == expected })
        try await f.deposit("after the crowd")
        #expect(try f.store.senseNow(SenseQuery(ns: "default", limit: 100)).count == 6)
    }
}
