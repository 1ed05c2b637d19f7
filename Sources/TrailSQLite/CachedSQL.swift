import TrailStore
import GRDB
import GRDBSQLite

/// Every query of the engine goes through the connection's statement cache:
/// compiled once per connection, then only bound and stepped. (Compiling a
/// statement costs far more than running these small ones, mostly in GRDB's
/// authorizer, so the hot paths must never recompile.)
extension Database {
    func run(sql: String, arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func row(sql: String, arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func rows(sql: String, arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }

    func int(sql: String, arguments: StatementArguments = []) throws -> Int? {
        try Int.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func double(sql: String, arguments: StatementArguments = []) throws -> Double? {
        try Double.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    /// Runs `body` in a savepoint, rolled back if it throws; the statements are cached.
    func inCachedSavepoint(_ body: () throws -> Void) throws {
        try run(sql: "SAVEPOINT job")
        do {
            try body()
        } catch {
            try run(sql: "ROLLBACK TO SAVEPOINT job")
            try run(sql: "RELEASE SAVEPOINT job")
            throw error
        }
        try run(sql: "RELEASE SAVEPOINT job")
    }

    /// Runs the cached statement of `sql` (a write) with `values` bound
    /// straight through `sqlite3_bind_*`. GRDB's `StatementArguments` cost
    /// more than the small statements of a deposit: an array of values, a
    /// second array of bindings, validation, then the binding (about a tenth
    /// of the commit thread's time in a W1 profile).
    func execute(sql: String, binding values: [SQLArgument]) throws {
        let handle = try cachedStatement(sql: sql).sqliteStatement
        try SQLArgument.bind(values, to: handle, in: self, sql: sql)
        try step(handle, sql: sql) { _ in }
    }

    /// Runs the cached statement of `sql` (a SELECT) with `values` bound
    /// straight through `sqlite3_bind_*`, and calls `body` with the SQLite
    /// statement positioned on each result row, so the row's columns are
    /// read with `sqlite3_column_*` (`RawColumn`) straight from SQLite's
    /// memory. GRDB's rows and cursors cost more than the small queries of
    /// the hot paths: each builds a dictionary of the lowercased column
    /// names, and each column goes through generic decoding (in profiles of
    /// `sense` and of deposits, a few microseconds a query).
    func forEachRow(sql: String, binding values: [SQLArgument], _ body: (SQLiteStatement) throws -> Void) throws {
        let handle = try cachedStatement(sql: sql).sqliteStatement
        try SQLArgument.bind(values, to: handle, in: self, sql: sql)
        try step(handle, sql: sql, body)
    }

    /// SQLite's error for `code` on this connection.
    func failure(_ code: Int32, sql: String) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)), sql: sql)
    }

    /// Steps `handle` to its end, calling `body` on each row; leaves it reset.
    private func step(_ handle: SQLiteStatement, sql: String, _ body: (SQLiteStatement) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_ROW: try body(handle)
            case SQLITE_DONE: return
            case let code: throw failure(code, sql: sql)
            }
        }
    }
}

/// A value for a statement parameter, bound with `sqlite3_bind_*` by
/// `Database.execute(sql:binding:)` and `forEachRow(sql:binding:_:)`.
enum SQLArgument {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    /// A string stored as a BLOB of its UTF-8 bytes (note bodies: TEXT would end at a U+0000).
    case utf8Blob(String)
    /// Bytes stored as a BLOB (vectors).
    case blob([UInt8])

    static func text(_ value: String?) -> SQLArgument { value.map { .text($0) } ?? .null }
    static func int(_ value: Int64?) -> SQLArgument { value.map { .int($0) } ?? .null }
    static func double(_ value: Double?) -> SQLArgument { value.map { .double($0) } ?? .null }

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Resets `handle`, then binds `values` to its parameters 1, 2, ...
    static func bind(_ values: [SQLArgument], to handle: SQLiteStatement, in db: Database, sql: String) throws {
        sqlite3_reset(handle)
        guard Int(sqlite3_bind_parameter_count(handle)) == values.count else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "\(values.count) values for \(sqlite3_bind_parameter_count(handle)) parameters", sql: sql)
        }
        for (i, value) in values.enumerated() {
            let at = Int32(i + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(handle, at)
            case let .int(n): code = sqlite3_bind_int64(handle, at, n)
            case let .double(d): code = sqlite3_bind_double(handle, at, d)
            case var .text(s):
                code = s.withUTF8 { bytes in
                    // An empty buffer may have no address, and a null pointer would bind NULL.
                    bytes.isEmpty ? sqlite3_bind_text(handle, at, "", 0, transient)
                        : sqlite3_bind_text(handle, at, bytes.baseAddress, Int32(bytes.count), transient)
                }
            case var .utf8Blob(s):
                code = s.withUTF8 { bytes in
                    bytes.isEmpty ? sqlite3_bind_zeroblob(handle, at, 0)
                        : sqlite3_bind_blob(handle, at, bytes.baseAddress, Int32(bytes.count), transient)
                }
            case let .blob(b):
                code = b.withUnsafeBytes { bytes in
                    bytes.isEmpty ? sqlite3_bind_zeroblob(handle, at, 0)
                        : sqlite3_bind_blob(handle, at, bytes.baseAddress, Int32(bytes.count), transient)
                }
            }
            guard code == SQLITE_OK else { throw db.failure(code, sql: sql) }
        }
    }
}

/// Column readers over a statement positioned on a row (see `Database.forEachRow`).
enum RawColumn {
    static func int64(_ s: SQLiteStatement, _ i: Int32) -> Int64 { sqlite3_column_int64(s, i) }
    static func double(_ s: SQLiteStatement, _ i: Int32) -> Double { sqlite3_column_double(s, i) }
    static func isNull(_ s: SQLiteStatement, _ i: Int32) -> Bool { sqlite3_column_type(s, i) == SQLITE_NULL }

    /// The column's bytes as UTF-8 text (TEXT or BLOB alike; a U+0000 stays).
    static func text(_ s: SQLiteStatement, _ i: Int32) -> String {
        // sqlite3_column_blob before sqlite3_column_bytes, as SQLite asks: no conversion of the value.
        guard let bytes = sqlite3_column_blob(s, i) else { return "" }
        let count = Int(sqlite3_column_bytes(s, i))
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    static func optionalText(_ s: SQLiteStatement, _ i: Int32) -> String? { isNull(s, i) ? nil : text(s, i) }

    /// A BLOB of little-endian `Float`s (a vector; see `VectorBytes`), or
    /// nil for NULL and for a length that is not whole floats (a damaged row:
    /// the caller leaves the note's vector out).
    static func floats(_ s: SQLiteStatement, _ i: Int32) -> [Float]? {
        guard let bytes = sqlite3_column_blob(s, i) else { return nil }
        return VectorBytes.decode(UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(s, i))))
    }
    static func optionalDouble(_ s: SQLiteStatement, _ i: Int32) -> Double? { isNull(s, i) ? nil : double(s, i) }
    static func optionalInt64(_ s: SQLiteStatement, _ i: Int32) -> Int64? { isNull(s, i) ? nil : int64(s, i) }
}
