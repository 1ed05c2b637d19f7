import Foundation
import PostgresNIO
import XCTest

@testable import TrailPostgres

/// Opening connections against the real server, and every way that fails.
final class PostgresConnectorTests: XCTestCase {
    func testConnectAndSelectOne() async throws {
        let connector = TestServer.connector(try TestServer.location())
        let connection = try await connector.connect()
        let rows = try await connection.query("SELECT 1 AS one, current_database()", logger: connector.logger).get()
        let (one, db) = try XCTUnwrap(rows.first).decode((Int, String).self)
        XCTAssertEqual(one, 1)
        XCTAssertEqual(db, connector.location.database)
        try await connection.close()
    }

    func testApplicationNameAndStartupSettingsReachTheServer() async throws {
        let connector = TestServer.connector(try TestServer.location(), applicationName: "trail-connector-test")
        let connection = try await connector.connect(settings: [("statement_timeout", "1234ms")])
        let rows = try await connection.query("SELECT current_setting('application_name'), current_setting('statement_timeout')",
                                              logger: connector.logger).get()
        let (name, timeout) = try XCTUnwrap(rows.first).decode((String, String).self)
        XCTAssertEqual(name, "trail-connector-test")
        XCTAssertEqual(timeout, "1234ms")
        try await connection.close()
    }

    /// The Unix-socket form of the URL, when the cluster tells where its socket is.
    func testUnixSocket() async throws {
        let base = try TestServer.location()
        let env = ProcessInfo.processInfo.environment
        guard let dir = env["TRAIL_TEST_POSTGRES_SOCKET_DIR"], let port = env["TRAIL_TEST_POSTGRES_PORT"] else {
            throw XCTSkip("TRAIL_TEST_POSTGRES_SOCKET_DIR/PORT not set (tests/pgcluster.py sets them)")
        }
        let encodedPassword = base.password!.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let location = try PostgresLocation(parsing: "postgres://\(base.user):\(encodedPassword)@:\(port)/\(base.database)?host=\(dir)")
        XCTAssertEqual(location.endpoint.socketPath, "\(dir)/.s.PGSQL.\(port)")
        let connection = try await TestServer.connector(location).connect()
        let rows = try await connection.query("SELECT inet_client_addr() IS NULL", logger: .init(label: "t")).get()
        XCTAssertEqual(try rows.first?.decode(Bool.self), true, "a socket connection has no client address")
        try await connection.close()
    }

    func testWrongPasswordIsRefusedWithoutThePassword() async throws {
        let base = try TestServer.location()
        let wrong = "wrong-Pa55word-xyz"
        let connector = TestServer.connector(TestServer.variant(base, password: wrong))
        let error = await failure { try await connector.connect() }
        guard case let .refused(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("password"), message)
        XCTAssertTrue(message.contains(base.redacted), message)
        XCTAssertFalse(message.contains(wrong), message)
        XCTAssertFalse(message.contains(base.password!), message)
        XCTAssertFalse(String(reflecting: error).contains(wrong))
    }

    func testNoPasswordWhenTheServerWantsOneIsRefused() async throws {
        let connector = TestServer.connector(TestServer.variant(try TestServer.location(), password: .some(nil)))
        let error = await failure { try await connector.connect() }
        guard case let .refused(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("password"), message)
    }

    func testUnknownRoleIsRefused() async throws {
        let connector = TestServer.connector(TestServer.variant(try TestServer.location(), user: "no_such_role_here"))
        // With password authentication the server does not say the role is
        // missing (28P01, so as not to reveal which roles exist); with trust it says 28000.
        let error = await failure { try await connector.connect() }
        guard case let .refused(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("no_such_role_here"), message)
    }

    func testNonexistentDatabaseIsRefused() async throws {
        let connector = TestServer.connector(TestServer.variant(try TestServer.location(), database: "no_such_db_here"))
        let error = await failure { try await connector.connect() }
        guard case let .refused(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("no_such_db_here"), message)
        XCTAssertTrue(message.contains("does not exist"), message)
    }

    func testRefusedPortIsUnavailableAtOnce() async throws {
        let port = try SilentListener.closedPort()
        let location = PostgresLocation(endpoint: .tcp(host: "127.0.0.1", port: port), user: "trail", password: "pw", database: "trail")
        let start = ContinuousClock.now
        let error = await failure { try await TestServer.connector(location).connect() }
        let elapsed = ContinuousClock.now - start
        guard case let .unavailable(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("connection refused"), message)
        XCTAssertTrue(message.contains("postgres://trail@127.0.0.1:\(port)/trail"), message)
        XCTAssertLessThan(elapsed, .seconds(2))
    }

    /// Several hosts: a dead one is passed over, at each connect, for the next.
    func testADeadHostOfSeveralIsPassedOver() async throws {
        let base = try TestServer.location()
        let dead = PostgresLocation.Endpoint.tcp(host: "127.0.0.1", port: try SilentListener.closedPort())
        let location = PostgresLocation(endpoints: [dead, base.endpoint], user: base.user, password: base.password,
                                        database: base.database, targetSession: .readWrite)
        let connector = TestServer.connector(location)
        for _ in 0..<2 {
            let connection = try await connector.connect()
            let rows = try await connection.query("SELECT current_setting('transaction_read_only')", logger: connector.logger).get()
            XCTAssertEqual(try XCTUnwrap(rows.first).decode(String.self), "off")
            try await connection.close()
        }
        // The blocking form too (BlockingSession's), from a thread of its own.
        let connection = try await withCheckedThrowingContinuation { (done: CheckedContinuation<PostgresConnection, any Error>) in
            Thread.detachNewThread { done.resume(with: Result { try connector.connectFuture().wait() }) }
        }
        try await connection.close()
    }

    /// No usable host: the failure names each host's reason.
    func testNoHostOfSeveralNamesEachReason() async throws {
        let ports = [try SilentListener.closedPort(), try SilentListener.closedPort()]
        let location = PostgresLocation(endpoints: ports.map { .tcp(host: "127.0.0.1", port: $0) }, user: "trail",
                                        password: "pw-secret", database: "trail", targetSession: .readWrite)
        let error = await failure { try await TestServer.connector(location).connect() }
        guard case let .unavailable(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.hasPrefix("None of the 2 hosts of the store URL could be used (target_session_attrs=read-write)"), message)
        for port in ports { XCTAssertTrue(message.contains("127.0.0.1:\(port)"), message) }
        XCTAssertFalse(message.contains("pw-secret"), message)
    }

    func testMissingUnixSocketIsUnavailable() async throws {
        let location = try PostgresLocation(parsing: "postgres://trail:pw@/trail?host=/nonexistent-dir-\(UUID())")
        let error = await failure { try await TestServer.connector(location).connect() }
        guard case let .unavailable(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("no server socket at \(location.endpoint.socketPath!)"), message)
    }

    /// A server that accepts the TCP connection and never answers: the default
    /// 5 s timeout ends the attempt, measured, well before 7 s.
    func testSilentServerTimesOutWithinTheConnectTimeout() async throws {
        let listener = try SilentListener()
        let location = PostgresLocation(endpoint: .tcp(host: "127.0.0.1", port: listener.port), user: "trail", password: "secret-pw", database: "trail")
        let connector = PostgresConnector(location: location)
        XCTAssertEqual(connector.connectTimeout, .seconds(5))
        let start = ContinuousClock.now
        let error = await failure { try await connector.connect() }
        let elapsed = ContinuousClock.now - start
        print("silent server: connect failed after \(elapsed)")
        guard case let .unavailable(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("no answer within 5 s"), message)
        XCTAssertFalse(message.contains("secret-pw"), message)
        XCTAssertGreaterThanOrEqual(elapsed, .seconds(4.9))
        XCTAssertLessThan(elapsed, .seconds(7))
        withExtendedLifetime(listener) {}
    }

    func testShortConnectTimeoutIsHonoured() async throws {
        let listener = try SilentListener()
        let location = PostgresLocation(endpoint: .tcp(host: "127.0.0.1", port: listener.port), user: "trail", password: nil, database: "trail")
        let start = ContinuousClock.now
        let error = await failure { try await PostgresConnector(location: location, connectTimeout: .milliseconds(300)).connect() }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
        guard case .unavailable? = error else { return XCTFail("\(String(describing: error))") }
        withExtendedLifetime(listener) {}
    }

    func testConnectFutureFailsWithTheSameTypedError() throws {
        let connector = TestServer.connector(TestServer.variant(try TestServer.location(), database: "no_such_db_here"))
        XCTAssertThrowsError(try connector.connectFuture().wait()) { error in
            guard case .refused? = error as? PostgresFailure else { return XCTFail("\(error)") }
        }
    }
}
