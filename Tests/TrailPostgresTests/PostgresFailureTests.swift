import NIOCore
import XCTest

@testable import TrailPostgres

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sorting of errors that can be made without a server (server errors
/// are provoked for real in BlockingSessionTests and PostgresConnectorTests).
final class PostgresFailureTests: XCTestCase {
    private let tcp = PostgresLocation(endpoint: .tcp(host: "db", port: 5432), user: "trail", password: "hunter2-secret", database: "trail")
    private let socket = PostgresLocation(endpoint: .unixSocket(directory: "/run/pg", port: 5433), user: "trail", password: "hunter2-secret", database: "trail")

    private func sorted(_ state: String, _ location: PostgresLocation? = nil) -> PostgresFailure {
        let l = location ?? tcp
        return PostgresFailure.fromServer(state: state, message: "m", at: l.redacted, location: l)
    }

    func testSQLStates() {
        XCTAssertEqual(sorted("40001"), .conflict(sqlState: "40001"))
        XCTAssertEqual(sorted("40P01"), .conflict(sqlState: "40P01"))
        for state in ["28P01", "28000", "3D000"] {
            guard case .refused = sorted(state) else { return XCTFail(state) }
        }
        for state in ["57P01", "57P02", "57P03", "53300", "53100", "53200", "08006", "08001", "57014", "25006", "58030"] {
            guard case .unavailable = sorted(state) else { return XCTFail(state) }
        }
        for state in ["23505", "42601", "42P01", "22P02", "XX000", "40002"] {
            XCTAssertEqual(sorted(state), .sql(sqlState: state, message: "m"))
        }
    }

    func testTransportErrors() {
        func words(_ error: any Error, _ location: PostgresLocation? = nil) -> String {
            guard case let .unavailable(message) = PostgresFailure.from(error, location: location ?? tcp) else {
                XCTFail("\(error) should be unavailable")
                return ""
            }
            return message
        }
        XCTAssertTrue(words(ChannelError.connectTimeout(.seconds(5))).contains("no answer within 5 s"))
        XCTAssertTrue(words(ChannelError.connectTimeout(.milliseconds(1500))).contains("no answer within 1.5 s"))
        XCTAssertTrue(words(ChannelError.eof).contains("connection lost"))
        XCTAssertTrue(words(IOError(errnoCode: ECONNREFUSED, reason: "connect")).contains("connection refused"))
        XCTAssertTrue(words(IOError(errnoCode: ENOENT, reason: "connect"), socket).contains("no server socket at /run/pg/.s.PGSQL.5433"))
        XCTAssertTrue(words(IOError(errnoCode: EHOSTUNREACH, reason: "connect")).contains("host unreachable"))
        XCTAssertTrue(words(CancellationError()).contains("cancelled"))
        guard case .refused = PostgresFailure.from(IOError(errnoCode: EACCES, reason: "connect"), location: socket) else {
            return XCTFail("a socket we may not open will not fix itself")
        }
    }

    func testAFailureIsReturnedAsIs() {
        XCTAssertEqual(PostgresFailure.from(PostgresFailure.conflict(sqlState: "40001"), location: tcp), .conflict(sqlState: "40001"))
    }

    func testMessagesNameTheRedactedLocationAndNeverThePassword() {
        let failures = [sorted("28P01"), sorted("28000"), sorted("3D000"), sorted("57P01"), sorted("53300"),
                        PostgresFailure.from(ChannelError.connectTimeout(.seconds(5)), location: tcp),
                        PostgresFailure.from(IOError(errnoCode: ENOENT, reason: "connect"), location: socket)]
        for failure in failures {
            XCTAssertFalse(failure.description.contains("hunter2"), failure.description)
            XCTAssertFalse(String(reflecting: failure).contains("hunter2"))
            XCTAssertTrue(failure.description.contains("postgres://trail@"), failure.description)
            XCTAssertTrue(failure.description.contains(";"), "what was wrong; what to do: \(failure.description)")
        }
    }

    func testContractErrors() {
        XCTAssertEqual(sorted("57P01").trailError.reason, "storage_unavailable")
        XCTAssertEqual(sorted("28P01").trailError.reason, "storage_unavailable")
        XCTAssertEqual(sorted("40001").trailError.reason, "storage_unavailable")
        XCTAssertEqual(sorted("23505").trailError.code, -32603)
    }
}
