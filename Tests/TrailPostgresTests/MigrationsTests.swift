import Foundation
import PostgresNIO
import XCTest

@testable import TrailPostgres

/// Migrations against a fresh database each (the engine's real schema is not used here).
final class MigrationsTests: XCTestCase {
    /// Two test migrations: several statements with comments and a dollar-quoted
    /// function; the first counts how often it ran and sleeps, so that two
    /// runners started together overlap.
    private static let migrations = Migrations([
        (version: 1, name: "counter and notes", sql: """
            -- how many times migration 1 ran: must end at 1
            CREATE TABLE applied_count (n int NOT NULL);
            INSERT INTO applied_count VALUES (1);
            CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL); -- not idempotent: a second run fails
            SELECT pg_sleep(0.3);
            """),
        (version: 2, name: "a function; with a semicolon in its name text", sql: """
            CREATE FUNCTION note_len(b text) RETURNS int LANGUAGE plpgsql AS $fn$
            BEGIN
                RETURN length(b); -- a ; inside the body
            END
            $fn$;
            ALTER TABLE note ADD COLUMN len int;
            """),
    ])

    private var databases: [PostgresLocation] = []

    override func tearDown() {
        for db in databases { TestServer.dropDatabase(db) }
        databases = []
    }

    private func freshDatabase() throws -> PostgresLocation {
        let db = try TestServer.createDatabase()
        databases.append(db)
        return db
    }

    private func session(_ location: PostgresLocation) -> BlockingSession {
        BlockingSession(connector: TestServer.connector(location))
    }

    func testAppliesEachMigrationOnceAndRecordsIt() throws {
        let s = session(try freshDatabase())
        defer { s.close() }
        XCTAssertEqual(try Self.migrations.apply(using: s), [1, 2])
        XCTAssertEqual(try Self.migrations.apply(using: s), [], "a second run applies nothing")
        XCTAssertEqual(try s.execute("SELECT n FROM applied_count").first?.decode(Int.self), 1)
        XCTAssertEqual(try s.execute("SELECT note_len('abc')").first?.decode(Int.self), 3)

        let rows = try s.execute("SELECT version, name, applied_at <= now() FROM trail_migration ORDER BY version")
        let recorded = try rows.map { try $0.decode((Int, String, Bool).self) }
        XCTAssertEqual(recorded.map(\.0), [1, 2])
        XCTAssertEqual(recorded.map(\.1), ["counter and notes", "a function; with a semicolon in its name text"])
        XCTAssertTrue(recorded.allSatisfy(\.2))
    }

    func testTwoDaemonsStartingAtOnceApplyEachMigrationOnce() async throws {
        let db = try freshDatabase()
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    // Each runner on a thread and a connection of its own, like two daemons.
                    try await TestServer.onThread {
                        let s = BlockingSession(connector: TestServer.connector(db))
                        defer { s.close() }
                        try s.connect()
                        return try Self.migrations.apply(using: s)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results.flatMap { $0 }.sorted(), [1, 2], "each version applied by exactly one runner: \(results)")
        try await TestServer.onThread {
            let s = BlockingSession(connector: TestServer.connector(db))
            defer { s.close() }
            XCTAssertEqual(try s.execute("SELECT n FROM applied_count").first?.decode(Int.self), 1)
            XCTAssertEqual(try s.execute("SELECT count(*) FROM trail_migration").first?.decode(Int.self), 2)
        }
    }

    func testAFailingMigrationIsRolledBackAndNamed() throws {
        let s = session(try freshDatabase())
        defer { s.close() }
        let broken = Migrations(Self.migrations.all + [
            Migration(version: 3, name: "broken", sql: "CREATE TABLE half_done (x int); SELECT no_such_column FROM note"),
        ])
        XCTAssertThrowsError(try broken.apply(using: s)) { error in
            guard case let .sql(state, message)? = error as? PostgresFailure else { return XCTFail("\(error)") }
            XCTAssertEqual(state, "42703")
            XCTAssertTrue(message.hasPrefix("schema migration 3 (broken): "), message)
            XCTAssertFalse(message.contains("SELECT"), "no SQL text: \(message)")
        }
        // 1 and 2 stay applied; nothing of 3 is left; the session is usable.
        XCTAssertEqual(try s.execute("SELECT array_agg(version ORDER BY version) FROM trail_migration").first?.decode([Int].self), [1, 2])
        XCTAssertEqual(try s.execute("SELECT to_regclass('half_done') IS NULL").first?.decode(Bool.self), true)
        // Fixed (as a new migration would be), it applies.
        let fixed = Migrations(Self.migrations.all + [Migration(version: 3, name: "broken", sql: "CREATE TABLE half_done (x int)")])
        XCTAssertEqual(try fixed.apply(using: s), [3])
    }

    func testRefusesADatabaseMigratedByANewerDaemon() throws {
        let s = session(try freshDatabase())
        defer { s.close() }
        try Self.migrations.apply(using: s)
        let older = Migrations(Array(Self.migrations.all.prefix(1)))
        XCTAssertThrowsError(try older.apply(using: s)) { error in
            guard case let .refused(message)? = error as? PostgresFailure else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("migration 2"), message)
            XCTAssertTrue(message.contains("does not know"), message)
        }
    }

    func testRefusesAChangedShippedMigration() throws {
        let s = session(try freshDatabase())
        defer { s.close() }
        try Self.migrations.apply(using: s)
        var changed = Self.migrations.all
        changed[1] = Migration(version: 2, name: "something else", sql: changed[1].sql)
        XCTAssertThrowsError(try Migrations(changed).apply(using: s)) { error in
            guard case let .refused(message)? = error as? PostgresFailure else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("was changed"), message)
        }
    }

    func testAnEmptyListCreatesOnlyTheRecord() throws {
        let s = session(try freshDatabase())
        defer { s.close() }
        XCTAssertEqual(try Migrations([Migration]()).apply(using: s), [])
        XCTAssertEqual(try s.execute("SELECT count(*) FROM trail_migration").first?.decode(Int.self), 0)
    }

    func testTheLockKeyIsFixed() {
        // Daemons of every version must agree on it: never change this number.
        XCTAssertEqual(Migrations.lockKey, 8_390_876_161_163_225_447)
        XCTAssertEqual(String(decoding: withUnsafeBytes(of: Migrations.lockKey.bigEndian, Array.init), as: UTF8.self), "trailmig")
    }
}
