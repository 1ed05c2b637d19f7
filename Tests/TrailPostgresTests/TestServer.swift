import Foundation
import PostgresNIO
import XCTest

@testable import TrailPostgres

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real PostgreSQL server the tests run against: `tests/pgcluster.py run`
/// starts a throwaway cluster and passes its URL in `TRAIL_TEST_POSTGRES_URL`.
enum TestServer {
    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "TRAIL_TEST_POSTGRES_URL is not set: these tests need a PostgreSQL server; run them through "
                + "`python3 tests/pgcluster.py run -- swift test --filter TrailPostgresTests`, which starts one and sets it."
        }
    }

    /// The test role's location (`trail`, password auth over TCP); fails the test when there is no server.
    static func location(file: StaticString = #filePath, line: UInt = #line) throws -> PostgresLocation {
        guard let url = ProcessInfo.processInfo.environment["TRAIL_TEST_POSTGRES_URL"], !url.isEmpty else {
            XCTFail(Missing().description, file: file, line: line)
            throw Missing()
        }
        return try PostgresLocation(parsing: url)
    }

    static func connector(_ location: PostgresLocation, connectTimeout: Duration = .seconds(5),
                          applicationName: String = "trail-tests") -> PostgresConnector {
        PostgresConnector(location: location, connectTimeout: connectTimeout, applicationName: applicationName)
    }

    /// The same server and role with another database or password.
    static func variant(_ base: PostgresLocation, database: String? = nil, user: String? = nil,
                        password: String?? = nil) -> PostgresLocation {
        PostgresLocation(endpoint: base.endpoint, user: user ?? base.user,
                         password: password ?? base.password, database: database ?? base.database)
    }

    /// A fresh, empty database owned by the test role (the role has CREATEDB),
    /// so that migrations start from nothing; dropped with `dropDatabase`.
    static func createDatabase(file: StaticString = #filePath, line: UInt = #line) throws -> PostgresLocation {
        let base = try location(file: file, line: line)
        let name = "trail_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = BlockingSession(connector: connector(base))
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name)")
        return variant(base, database: String(name))
    }

    static func dropDatabase(_ location: PostgresLocation) {
        guard let base = try? self.location() else { return }
        let admin = BlockingSession(connector: connector(base))
        defer { admin.close() }
        _ = try? admin.execute("DROP DATABASE IF EXISTS \(location.database) WITH (FORCE)")
    }

    /// Runs `body` on a thread of its own (BlockingSession is for such threads) and waits for it.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}

/// A TCP listener on 127.0.0.1 that accepts connections (the kernel completes
/// the handshake) but never says a word: a server that hangs at startup.
final class SilentListener {
    let port: Int
    private let fd: Int32

    init() throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        let fd = self.fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else { close(fd); throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { close(fd) }

    /// A port nobody listens on (bound, then released).
    static func closedPort() throws -> Int {
        let listener = try SilentListener()
        return listener.port
    }
}

/// The `PostgresFailure` that `body` throws; nil (and a test failure) when it
/// returns or throws something else. A connection it opened is closed.
func failure<T>(file: StaticString = #filePath, line: UInt = #line,
                _ body: () async throws -> T) async -> PostgresFailure? {
    do {
        let value = try await body()
        (value as? PostgresConnection)?.closeDetached()
        XCTFail("expected a PostgresFailure, got \(value)", file: file, line: line)
        return nil
    } catch let failure as PostgresFailure {
        return failure
    } catch {
        XCTFail("expected a PostgresFailure, got \(String(reflecting: error))", file: file, line: line)
        return nil
    }
}

/// The same for synchronous code (BlockingSession).
func failure<T>(file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) -> PostgresFailure? {
    do {
        let value = try body()
        XCTFail("expected a PostgresFailure, got \(value)", file: file, line: line)
        return nil
    } catch let failure as PostgresFailure {
        return failure
    } catch {
        XCTFail("expected a PostgresFailure, got \(String(reflecting: error))", file: file, line: line)
        return nil
    }
}
