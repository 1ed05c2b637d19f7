import Foundation
import Logging
import NIOCore
import PostgresNIO
import TrailPostgres

/// One connection of this program to a database (postgres-nio, async, on
/// NIO's shared event loops): loading, checking, reading what traild wrote,
/// and the raw peer's statements.
final class PostgresLink: @unchecked Sendable {
    let connection: PostgresConnection
    let location: PostgresLocation
    let logger: Logger

    private init(connection: PostgresConnection, location: PostgresLocation, logger: Logger) {
        self.connection = connection
        self.location = location
        self.logger = logger
    }

    /// Opens a connection (`application_name` `name`).
    static func connect(_ location: PostgresLocation, name: String = "trail-bench") async throws -> PostgresLink {
        var logger = Logger(label: "trail-bench.postgres")
        logger.logLevel = .critical
        let connector = PostgresConnector(location: location, applicationName: name, logger: logger)
        do {
            return PostgresLink(connection: try await connector.connect(), location: location, logger: logger)
        } catch {
            throw BenchFailure("cannot connect to PostgreSQL at \(location.redacted): \(error)")
        }
    }

    /// Runs `query` and returns every row. One round trip (postgres-nio
    /// sends one statement at a time on a connection: no pipelining).
    @discardableResult
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        do {
            return try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
        } catch {
            throw BenchFailure("PostgreSQL at \(location.redacted) refused \(query.sql.prefix(160)): \(String(reflecting: error).prefix(600))")
        }
    }

    /// Runs SQL with no parameters (DDL, BEGIN, COMMIT...).
    func run(_ sql: String) async throws {
        try await rows(PostgresQuery(unsafeSQL: sql))
    }

    /// The first column of the first row as an integer.
    func count(_ query: PostgresQuery) async throws -> Int {
        guard let row = try await rows(query).first else { return 0 }
        return Int(try row[0].decode(Int64.self))
    }

    func close() async {
        try? await connection.close()
    }
}
