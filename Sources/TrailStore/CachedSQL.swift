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

    /// Runs the cached statement of `sql` (a SELECT) and calls `body` with
    /// the SQLite statement positioned on each result row, so the row's
    /// columns are read with `sqlite3_column_*` straight from SQLite's
    /// memory. GRDB's rows and cursors cost more than the small queries of
    /// the hot paths: each builds a dictionary of the lowercased column
    /// names, and each column goes through generic decoding (in profiles of
    /// `sense` and of deposits, a few microseconds a query).
    func forEachRow(sql: String, arguments: StatementArguments = [], _ body: (SQLiteStatement) throws -> Void) throws {
        let statement = try cachedStatement(sql: sql)
        try statement.setArguments(arguments)  // resets the statement, then binds
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_ROW: try body(handle)
            case SQLITE_DONE: return
            case let code:
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)),
                                    sql: sql)
            }
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
    static func optionalDouble(_ s: SQLiteStatement, _ i: Int32) -> Double? { isNull(s, i) ? nil : double(s, i) }
    static func optionalInt64(_ s: SQLiteStatement, _ i: Int32) -> Int64? { isNull(s, i) ? nil : int64(s, i) }
}
