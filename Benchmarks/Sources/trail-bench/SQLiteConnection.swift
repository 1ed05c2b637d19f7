import Foundation
import GRDBSQLite

/// A bare SQLite connection on the C API (the system libsqlite3 that traild
/// links through GRDB), with prepared statements kept per SQL text: what an
/// embedded program costs when nothing stands between it and SQLite.
final class SQLiteConnection {
    private let db: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]

    init(path: String) throws {
        var handle: OpaquePointer?
        let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let handle else {
            if let handle { sqlite3_close_v2(handle) }
            throw BenchFailure("cannot open \(path) with SQLite: status \(status)")
        }
        db = handle
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement.handle) }
        sqlite3_close_v2(db)
    }

    /// Runs SQL that returns no rows (PRAGMA, BEGIN, COMMIT).
    func exec(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(db, sql, nil, nil, &error) != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "?"
            sqlite3_free(error)
            throw BenchFailure("SQLite: \(message) (in \(sql.prefix(80)))")
        }
    }

    /// The first column of the first row of `sql`, as text.
    func text(_ sql: String) throws -> String? {
        let s = try statement(sql)
        defer { s.reset() }
        return try s.step() ? s.text(0) : nil
    }

    /// The prepared statement for `sql`, reset and unbound, ready to bind.
    func statement(_ sql: String) throws -> SQLiteStatement {
        if let s = statements[sql] { return s }
        var handle: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil) == SQLITE_OK, let handle else {
            throw BenchFailure("SQLite cannot prepare \(sql.prefix(120)): \(message)")
        }
        let s = SQLiteStatement(handle: handle, connection: self)
        statements[sql] = s
        return s
    }

    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(db) }
    /// Rows the last statement inserted, changed or deleted.
    var changes: Int32 { sqlite3_changes(db) }

    var message: String { String(cString: sqlite3_errmsg(db)) }

    /// Runs `body` in a transaction (BEGIN IMMEDIATE for writes, BEGIN for reads), committed if it returns.
    func transaction<T>(write: Bool, _ body: () throws -> T) throws -> T {
        try exec(write ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let value = try body()
            try exec("COMMIT")
            return value
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }
}

/// A prepared statement: bind by position (from 1), step, read columns (from 0).
struct SQLiteStatement {
    let handle: OpaquePointer
    unowned let connection: SQLiteConnection

    /// SQLITE_TRANSIENT: SQLite copies the value.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ values: [SQLiteValue]) {
        sqlite3_reset(handle)
        for (i, v) in values.enumerated() {
            let at = Int32(i + 1)
            switch v {
            case .null: sqlite3_bind_null(handle, at)
            case let .int(n): sqlite3_bind_int64(handle, at, n)
            case let .double(d): sqlite3_bind_double(handle, at, d)
            case let .text(s): sqlite3_bind_text(handle, at, s, -1, Self.transient)
            case let .blob(s):
                var copy = s
                copy.withUTF8 { bytes in
                    _ = sqlite3_bind_blob(handle, at, bytes.baseAddress, Int32(bytes.count), Self.transient)
                }
            case let .floats(f):
                f.withUnsafeBytes { bytes in
                    _ = sqlite3_bind_blob(handle, at, bytes.baseAddress, Int32(bytes.count), Self.transient)
                }
            }
        }
    }

    /// Advances to the next row; false when done.
    func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw BenchFailure("SQLite: \(connection.message)")
        }
    }

    /// Runs a statement that returns no rows.
    func run(_ values: [SQLiteValue]) throws {
        bind(values)
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    func reset() { sqlite3_reset(handle) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(handle, column) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// A BLOB of UTF-8 bytes (how traild stores bodies) as a String.
    func blobText(_ column: Int32) -> String {
        let n = Int(sqlite3_column_bytes(handle, column))
        guard n > 0, let p = sqlite3_column_blob(handle, column) else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self)
    }
}

enum SQLiteValue {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    /// A String stored as a BLOB of its UTF-8 bytes.
    case blob(String)
    /// Float32s stored as a BLOB of their bytes in this machine's order
    /// (little-endian on every machine traild builds for: x86-64, arm64).
    case floats([Float])
}
