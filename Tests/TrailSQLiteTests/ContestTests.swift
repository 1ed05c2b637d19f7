import Foundation
import Testing
import TrailCore
@testable import TrailSQLite
import TrailStore

/// Contested notes as the SQLite store keeps and shows them (contract §8).
@Suite("SQLite contests")
struct ContestTests {
    func handle(_ f: Fixture, _ id: NoteID, ns: String = "default") async throws -> Int64 {
        let rows = try await f.store.meaningRows(ns: ns, .ids([id]), model: "none")
        return try #require(rows.first).handle
    }

    @Test("a pair is stored once whichever way round; get and sense show contested_by, strongest first")
    func recordAndShow() async throws {
        let f = try Fixture()
        let a = try await f.deposit("fix-3 resolved it").note.id
        let b = try await f.deposit("fix-5 resolved it", strength: 3).note.id
        let c = try await f.deposit("fix-7 resolved it", strength: 2).note.id
        let (ha, hb, hc) = (try await handle(f, a), try await handle(f, b), try await handle(f, c))
        let first = try await f.store.write(.recordContests(ns: "default", pairs: [ContestPair(hb, ha, similarity: 0.97),
                                                                                     ContestPair(ha, hc, similarity: 0.95)]), by: Writer())
        guard case .contestsRecorded(2) = first else { Issue.record("\(first)"); return }
        // The same pairs again, the other way round, and one naming a note that is not there: nothing new.
        let again = try await f.store.write(.recordContests(ns: "default", pairs: [ContestPair(ha, hb, similarity: 0.97),
                                                                                     ContestPair(ha, 999_999, similarity: 0.9)]), by: Writer())
        guard case .contestsRecorded(0) = again else { Issue.record("\(again)"); return }
        #expect(try await f.store.get(f.id(a.hex), ns: "default").note.contestedBy == [b, c])
        #expect(try await f.store.get(f.id(b.hex), ns: "default").note.contestedBy == [a])
        let sensed = try await f.store.sense(SenseQuery(ns: "default", limit: 10))
        #expect(Dictionary(uniqueKeysWithValues: sensed.map { ($0.note.id, $0.note.contestedBy) }) == [a: [b, c], b: [a], c: [a]])
        // Another namespace's notes are not asked about.
        #expect(try await f.store.contestRows(ns: "other", ids: [a]).isEmpty)
    }

    @Test("a contest is over while a side is repelled to zero or retracted, and back when it is reinforced")
    func endsAndReturns() async throws {
        let f = try Fixture()
        let a = try await f.deposit("the cache works on NFS").note.id
        let b = try await f.deposit("the cache does not work on NFS").note.id
        let pair = ContestPair(try await handle(f, a), try await handle(f, b), similarity: 0.99)
        _ = try await f.store.write(.recordContests(ns: "default", pairs: [pair]), by: Writer())
        #expect(try await f.store.get(f.id(a.hex), ns: "default").note.contestedBy == [b])
        _ = try await f.store.write(.reinforce(id: f.id(b.hex), ns: "default", delta: -5), by: Writer())
        #expect(try await f.store.get(f.id(a.hex), ns: "default").note.contestedBy.isEmpty)
        #expect(try await f.store.get(f.id(b.hex), ns: "default").note.contestedBy.isEmpty)
        _ = try await f.store.write(.reinforce(id: f.id(b.hex), ns: "default", delta: 1), by: Writer())
        #expect(try await f.store.get(f.id(a.hex), ns: "default").note.contestedBy == [b])
        _ = try await f.store.write(.retract(id: f.id(a.hex), ns: "default", reason: "it never worked on NFS"), by: Writer())
        #expect(try await f.store.get(f.id(b.hex), ns: "default").note.contestedBy.isEmpty)
        #expect(try await f.store.get(f.id(a.hex), ns: "default").note.contestedBy.isEmpty)
    }

    @Test("contest_similarity: 0.9 by default, kept by configure, and read back with the settings")
    func setting() async throws {
        let f = try Fixture()
        #expect(try await f.store.settings(ns: "default")?.contestSimilarity == 0.9)
        _ = try await f.store.write(.configure(NamespaceChange(ns: "strict", contestSimilarity: 0.97)), by: Writer())
        _ = try await f.store.write(.configure(NamespaceChange(ns: "strict", halfLife: 60)), by: Writer())
        let s = try #require(try await f.store.settings(ns: "strict"))
        #expect(s.contestSimilarity == 0.97 && s.halfLife == 60)
        #expect(try await f.store.settings(ns: "nothing") == nil)
    }
}
