import GRDB
import GRDBSQLite
import Testing
@testable import TrailSQLite
import TrailStore

/// The store's own binding and stepping (`Database.execute(sql:binding:)`,
/// `forEachRow`, `RawColumn`), which bypass GRDB's arguments and rows on the
/// hot paths: every kind of value must go in and come out unchanged.
@Suite("Raw statement binding and columns")
struct RawSQLTests {
    @Test("every kind of value round-trips, empty, NULL and U+0000 included")
    func roundTrip() throws {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(sql: "CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)")
            let texts = ["", "plain", "é 🐜 日本", "nul \u{0} inside", String(repeating: "long ", count: 5000)]
            for (k, text) in texts.enumerated() {
                try db.execute(sql: "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                               binding: [.int(Int64(k) - 2), .double(Double(k) / 3), .text(text), .utf8Blob(text), .text(nil)])
            }
            var rows: [(Int64, Double, String, String, Bool, Bool)] = []
            try db.forEachRow(sql: "SELECT i, d, s, b, n, typeof(b) = 'blob' FROM t WHERE i >= ? ORDER BY i", binding: [.int(-2)]) { s in
                rows.append((RawColumn.int64(s, 0), RawColumn.double(s, 1), RawColumn.text(s, 2), RawColumn.text(s, 3),
                             RawColumn.optionalText(s, 4) == nil, RawColumn.int64(s, 5) == 1))
            }
            #expect(rows.count == texts.count)
            for (k, row) in rows.enumerated() {
                #expect(row.0 == Int64(k) - 2)
                #expect(row.1 == Double(k) / 3)
                #expect(row.2 == texts[k])
                #expect(row.3 == texts[k])
                #expect(row.4)
                #expect(row.5)
            }
            // An empty text is not NULL.
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM t WHERE s = ''") == 1)
        }
    }

    @Test("a wrong value count or a failing statement throws SQLite's error, and the statement is usable again")
    func errors() throws {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY)")
            #expect(throws: DatabaseError.self) { try db.execute(sql: "INSERT INTO t VALUES (?)", binding: []) }
            try db.execute(sql: "INSERT INTO t VALUES (?)", binding: [.text("a")])
            let duplicate = #expect(throws: DatabaseError.self) { try db.execute(sql: "INSERT INTO t VALUES (?)", binding: [.text("a")]) }
            #expect(duplicate?.resultCode == .SQLITE_CONSTRAINT)
            try db.execute(sql: "INSERT INTO t VALUES (?)", binding: [.text("b")])
            var keys: [String] = []
            try db.forEachRow(sql: "SELECT k FROM t ORDER BY k", binding: []) { keys.append(RawColumn.text($0, 0)) }
            #expect(keys == ["a", "b"])
        }
    }
}
