import GRDB

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
}
