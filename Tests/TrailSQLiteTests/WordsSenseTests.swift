import Foundation
import GRDB
import Testing
import TrailCore
@testable import TrailSQLite
import TrailStore

/// A words sense reads its candidates' scores from note_match_key and whole
/// rows only for the page: held here against the order the contract gives
/// (score, then id), by hand, on each of its plans.
@Suite("Sense by words")
struct WordsSenseTests {
    /// Notes matching `word`: one each clock step (distinct keys, older
    /// lighter), then `tied` more at one instant (equal keys, the heaviest:
    /// their order is by id alone).
    func store(word: String, notes: Int, tied: Int) async throws -> Fixture {
        let f = try Fixture()
        for i in 0..<notes {
            f.clock.advance(1)
            try await f.deposit("\(word) note number \(i)")
        }
        f.clock.advance(1)
        for i in 0..<tied { try await f.deposit("\(word) tied note \(i)") }
        return f
    }

    /// The contract's order, computed from every matching row: key (the
    /// weight, with no rank and equal relevance), then id.
    func expected(_ f: Fixture, word: String, limit: Int) throws -> [String] {
        let rows = try f.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, key FROM note WHERE seq IN (SELECT rowid FROM note_text WHERE note_text MATCH ?) AND state = 0",
                             arguments: [word])
        }
        let sorted = rows.map { (id: $0["id"] as String, key: $0["key"] as Double) }
            .sorted { $0.key != $1.key ? $0.key > $1.key : $0.id < $1.id }
        return sorted.prefix(limit).map(\.id)
    }

    @Test("more matches than candidates: the page by score, ties by id", arguments: [10, 25, 300])
    func manyMatches(limit: Int) async throws {
        let f = try await store(word: "alpha", notes: 2_100, tied: 40)
        let got = try f.store.senseNow(SenseQuery(ns: "default", words: ["alpha"], limit: limit)).map(\.note.id.hex)
        let want = try expected(f, word: "alpha", limit: limit)
        #expect(got == want)
    }

    @Test("fewer matches than candidates (relevance scored): the page by score, ties by id", arguments: [10, 60])
    func fewMatches(limit: Int) async throws {
        let f = try await store(word: "beta", notes: 150, tied: 30)
        let got = try f.store.senseNow(SenseQuery(ns: "default", words: ["beta"], limit: limit)).map(\.note.id.hex)
        #expect(got == (try expected(f, word: "beta", limit: limit)))
    }

    @Test("a budget walks page after page in the same order")
    func budgetPages() async throws {
        let f = try await store(word: "gamma", notes: 2_050, tied: 20)
        let got = try f.store.senseNow(SenseQuery(ns: "default", words: ["gamma"], limit: 200, budgetBytes: 1 << 20)).map(\.note.id.hex)
        #expect(got == (try expected(f, word: "gamma", limit: 200)))
    }

    @Test("the words plan reads its candidates through note_match_key")
    func plan() throws {
        let f = try Fixture()
        let plan = try f.store.pool.read { db in
            try Row.fetchAll(db, sql: """
                EXPLAIN QUERY PLAN SELECT n.seq FROM (SELECT rowid AS seq FROM note_text WHERE note_text MATCH 'x') t
                CROSS JOIN note n INDEXED BY note_match_key ON n.seq = t.seq WHERE n.ns = 'default' AND n.state = 0 AND n.key >= 0
                ORDER BY n.key DESC LIMIT 10
                """).map { $0["detail"] as String }.joined(separator: "\n")
        }
        #expect(plan.contains("COVERING INDEX note_match_key"), "\(plan)")
    }
}
