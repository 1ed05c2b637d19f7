import Foundation
import PostgresNIO
import XCTest

@testable import TrailPostgres

/// The writer's session against the real server. These tests are synchronous:
/// XCTest runs them on its main thread, which is not an event loop, the way
/// the writer's own thread is not.
final class BlockingSessionTests: XCTestCase {
    private func session(statementTimeout: Duration = BlockingSession.defaultStatementTimeout,
                         applicationName: String = "trail-tests") throws -> BlockingSession {
        BlockingSession(connector: TestServer.connector(try TestServer.location(), applicationName: applicationName),
                        statementTimeout: statementTimeout)
    }

    private func pid(_ session: BlockingSession) throws -> Int32 {
        // Not inside XCTUnwrap: it would record an expected throw as a failure.
        let rows = try session.execute("SELECT pg_backend_pid()")
        return try XCTUnwrap(rows.first).decode(Int32.self)
    }

    func testSelectOneAndRoundTrip() throws {
        let s = try session()
        defer { s.close() }
        XCTAssertFalse(s.isConnected, "connects lazily")
        XCTAssertEqual(try s.execute("SELECT 1").first?.decode(Int.self), 1)
        XCTAssertTrue(s.isConnected)

        // The cost of one trivial statement through the whole path (the
        // extended protocol's Parse/Bind/Execute/Sync, the event loop, wait()).
        for _ in 0..<200 { try s.execute("SELECT 1") }
        let n = 3000
        let start = ContinuousClock.now
        for _ in 0..<n { try s.execute("SELECT 1") }
        let each = (ContinuousClock.now - start) / n
        print("BlockingSession SELECT 1 round trip: \(each.components.attoseconds / 1_000_000_000_000) us over \(n)")
        XCTAssertLessThan(each, .milliseconds(5))
    }

    func testBindsAndRows() throws {
        let s = try session()
        defer { s.close() }
        var binds = PostgresBindings()
        binds.append(41)
        binds.append("it's; a \"test\"")
        binds.appendNull()
        let rows = try s.execute("SELECT $1::bigint + 1, $2::text, $3::text IS NULL FROM generate_series(1, 3)", binds)
        XCTAssertEqual(rows.count, 3)
        let (n, text, isNull) = try XCTUnwrap(rows.first).decode((Int, String, Bool).self)
        XCTAssertEqual(n, 42)
        XCTAssertEqual(text, "it's; a \"test\"")
        XCTAssertTrue(isNull)
        XCTAssertEqual(rows.metadata.rows, 3)
    }

    func testCommitAndRollback() throws {
        let s = try session()
        defer { s.close() }
        try s.execute("CREATE TEMP TABLE t (x int)")
        try s.begin()
        try s.execute("INSERT INTO t VALUES (1)")
        s.rollback()
        XCTAssertEqual(try s.execute("SELECT count(*) FROM t").first?.decode(Int.self), 0)
        try s.begin()
        try s.execute("INSERT INTO t VALUES (2)")
        try s.commit()
        XCTAssertEqual(try s.execute("SELECT count(*) FROM t").first?.decode(Int.self), 1)
        try s.begin("BEGIN ISOLATION LEVEL SERIALIZABLE")
        XCTAssertEqual(try s.execute("SHOW transaction_isolation").first?.decode(String.self), "serializable")
        try s.commit()
    }

    func testServerErrorsAreSortedBySQLState() throws {
        let s = try session()
        defer { s.close() }
        func raise(_ state: String) -> PostgresFailure? {
            do {
                try s.execute("DO $$ BEGIN RAISE EXCEPTION 'raised for a test' USING ERRCODE = '\(state)'; END $$")
                return nil
            } catch {
                return error
            }
        }
        XCTAssertEqual(raise("40001"), .conflict(sqlState: "40001"))
        XCTAssertEqual(raise("40P01"), .conflict(sqlState: "40P01"))
        XCTAssertEqual(raise("23505"), .sql(sqlState: "23505", message: "raised for a test"))
        for state in ["53300", "57P01", "57P03", "08006", "53100", "25006", "58030"] {
            guard case .unavailable? = raise(state) else { return XCTFail("\(state) should be unavailable") }
        }
        // A statement error leaves the connection usable.
        XCTAssertEqual(try s.execute("SELECT 2").first?.decode(Int.self), 2)

        let secret = "SELECT 'the statement text' FROM no_such_table_xyz"
        do {
            try s.execute(secret)
            XCTFail("selected from a missing table")
        } catch {
            XCTAssertEqual(error, .sql(sqlState: "42P01", message: #"relation "no_such_table_xyz" does not exist"#))
            XCTAssertFalse(error.description.contains("the statement text"), "no SQL text in messages: \(error)")
        }
    }

    func testReconnectsAfterTheServerTerminatedTheBackend() throws {
        let s = try session()
        let killer = try session()
        defer { s.close(); killer.close() }
        let first = try pid(s)
        var binds = PostgresBindings()
        binds.append(first)
        XCTAssertEqual(try killer.execute("SELECT pg_terminate_backend($1)", binds).first?.decode(Bool.self), true)

        // The next call either finds the connection already closed and
        // reconnects, or loses it and throws `.unavailable`; the one after works.
        var second: Int32?
        for attempt in 1...2 {
            do {
                second = try pid(s)
                break
            } catch let PostgresFailure.unavailable(message) {
                XCTAssertEqual(attempt, 1, message)
            }
        }
        XCTAssertNotNil(second)
        XCTAssertNotEqual(second, first)

        // Once the client has seen the close (it has, a moment later), the reconnect is transparent.
        let third = try pid(s)
        binds = PostgresBindings()
        binds.append(third)
        try killer.execute("SELECT pg_terminate_backend($1)", binds)
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertNotEqual(try pid(s), third)
    }

    func testATransactionNeverContinuesOnANewConnection() throws {
        let s = try session()
        let killer = try session()
        defer { s.close(); killer.close() }
        try s.execute("CREATE TEMP TABLE t (x int)")
        try s.begin()
        let victim = try pid(s)
        var binds = PostgresBindings()
        binds.append(victim)
        try killer.execute("SELECT pg_terminate_backend($1)", binds)
        Thread.sleep(forTimeInterval: 0.3)

        // Not a silent reconnect in autocommit: the transaction is gone.
        XCTAssertThrowsError(try s.execute("SELECT 1")) { error in
            guard case let .unavailable(message)? = error as? PostgresFailure else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("inside a transaction"), message)
        }
        XCTAssertThrowsError(try s.execute("SELECT 1"), "still refused until rollback")
        XCTAssertThrowsError(try s.commit()) { error in
            guard case let .unavailable(message)? = error as? PostgresFailure else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("rolled back"), message)
        }
        // After the transaction's end, the next call reconnects.
        XCTAssertNotEqual(try pid(s), victim)

        try s.begin()
        binds = PostgresBindings()
        binds.append(try pid(s))
        try killer.execute("SELECT pg_terminate_backend($1)", binds)
        Thread.sleep(forTimeInterval: 0.3)
        s.rollback()  // the server already rolled it back: no error
        XCTAssertEqual(try s.execute("SELECT 5").first?.decode(Int.self), 5)
    }

    func testStatementTimeoutClosesTheConnectionAndTheNextCallReconnects() throws {
        let s = try session(statementTimeout: .milliseconds(500))
        defer { s.close() }
        let before = try pid(s)
        let start = ContinuousClock.now
        XCTAssertThrowsError(try s.execute("SELECT pg_sleep(5)")) { error in
            guard case let .unavailable(message)? = error as? PostgresFailure else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("did not answer"), message)
        }
        let elapsed = ContinuousClock.now - start
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(490))
        XCTAssertLessThan(elapsed, .seconds(2))
        XCTAssertFalse(s.isConnected)
        XCTAssertNotEqual(try pid(s), before)
        // The server-side backstop is the client's timeout plus 2 s.
        XCTAssertEqual(try s.execute("SHOW statement_timeout").first?.decode(String.self), "2500ms")
    }

    func testConnectSurfacesRefusalEarly() throws {
        let base = try TestServer.location()
        let s = BlockingSession(connector: TestServer.connector(TestServer.variant(base, database: "no_such_db_here")))
        XCTAssertThrowsError(try s.connect()) { error in
            guard case .refused? = error as? PostgresFailure else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try s.execute("SELECT 1"))
    }

    func testUnreachableServerFailsEachCallWithinTheConnectTimeout() throws {
        let port = try SilentListener.closedPort()
        let location = PostgresLocation(endpoint: .tcp(host: "127.0.0.1", port: port), user: "trail", password: "pw", database: "trail")
        let s = BlockingSession(connector: PostgresConnector(location: location))
        for _ in 0..<2 {
            XCTAssertThrowsError(try s.execute("SELECT 1")) { error in
                guard case .unavailable? = error as? PostgresFailure else { return XCTFail("\(error)") }
            }
        }
    }
}
