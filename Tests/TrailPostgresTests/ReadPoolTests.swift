import Foundation
import NIOCore
import NIOPosix
import PostgresNIO
import XCTest

@testable import TrailPostgres

/// The read pool against the real server.
final class ReadPoolTests: XCTestCase {
    private func pool(size: Int = 4, acquireTimeout: Duration = .seconds(5), applicationName: String = "trail-tests") throws -> ReadPool {
        ReadPool(connector: TestServer.connector(try TestServer.location(), applicationName: applicationName),
                 size: size, acquireTimeout: acquireTimeout)
    }

    func testSelectOne() async throws {
        let pool = try pool()
        let rows = try await pool.query("SELECT 1 + $1", { var b = PostgresBindings(); b.append(1); return b }())
        XCTAssertEqual(try rows.first?.decode(Int.self), 2)
        await pool.close()
    }

    func test32ConcurrentReadsShareFourConnections() async throws {
        let pool = try pool(size: 4)
        let start = ContinuousClock.now
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    try await pool.withConnection { connection in
                        let rows = try await connection.query("SELECT pg_backend_pid() FROM pg_sleep(0.05)", logger: pool.connector.logger).get()
                        return try rows.first!.decode(Int32.self)
                    }
                }
            }
            return try await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - start
        print("ReadPool: 32 reads of 50 ms on 4 connections in \(elapsed)")
        XCTAssertEqual(pids.count, 32)
        XCTAssertLessThanOrEqual(Set(pids).count, 4)
        let peak = await pool.peakLeased
        XCTAssertEqual(peak, 4, "all four connections were busy at once")
        let leased = await pool.leasedCount
        XCTAssertEqual(leased, 0)
        // 32 reads of 50 ms, 4 at a time: 8 rounds, about 0.4 s (not 1.6 s in series).
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(390))
        XCTAssertLessThan(elapsed, .seconds(1.5))
        await pool.close()
    }

    /// Runs its methods on one event loop, as a request's read runs on its
    /// client's loop in traild (`EventLoopTaskExecutor`).
    private actor OnLoop {
        let loop: any EventLoop
        nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

        init(_ loop: any EventLoop) {
            self.loop = loop
        }

        /// Whether a read from here ran on a connection of this loop, and the backend's pid.
        func read(_ pool: ReadPool) async throws -> (sameLoop: Bool, pid: Int32) {
            try await pool.withConnection { connection in
                let rows = try await connection.query("SELECT pg_backend_pid()", logger: pool.connector.logger).get()
                return (connection.eventLoop === loop, try rows.first!.decode(Int32.self))
            }
        }
    }

    func testAReadMadeOnAnEventLoopRunsOnAConnectionOfThatLoop() async throws {
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        let pool = try pool(size: 2 * loops.count)
        // From a task of no loop first: the slots it fills stay on their loops.
        for _ in 0..<3 { _ = try await pool.query("SELECT 1") }
        var pids: [ObjectIdentifier: Set<Int32>] = [:]
        for loop in loops + loops.reversed() + loops {
            let onLoop = OnLoop(loop)
            for _ in 0..<5 {
                let (sameLoop, pid) = try await onLoop.read(pool)
                XCTAssertTrue(sameLoop, "a read made on an event loop ran on another loop's connection")
                pids[ObjectIdentifier(loop), default: []].insert(pid)
            }
        }
        // Sequential reads of one loop reuse its connection; loops do not share one.
        XCTAssertTrue(pids.values.allSatisfy { $0.count == 1 }, "\(pids)")
        XCTAssertEqual(Set(pids.values.flatMap { $0 }).count, loops.count)
        await pool.close()
    }

    func testWaitForAFreeConnectionIsBounded() async throws {
        let pool = try pool(size: 1, acquireTimeout: .milliseconds(300))
        async let holder: Void = pool.withConnection { connection in
            _ = try await connection.query("SELECT pg_sleep(1.5)", logger: pool.connector.logger).get()
        }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        let error = await failure { try await pool.query("SELECT 1") }
        let elapsed = ContinuousClock.now - start
        guard case let .unavailable(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("stayed busy"), message)
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(290))
        XCTAssertLessThan(elapsed, .seconds(1))
        try await holder
        // Free again: the next read gets the connection.
        let rows = try await pool.query("SELECT 3")
        XCTAssertEqual(try rows.first?.decode(Int.self), 3)
        await pool.close()
    }

    func testAReadThatTakesTooLongIsCutAndTheConnectionReplaced() async throws {
        let pool = ReadPool(connector: TestServer.connector(try TestServer.location()), size: 1, statementTimeout: .milliseconds(300))
        let first = try await pool.query("SELECT pg_backend_pid()").first!.decode(Int32.self)
        let start = ContinuousClock.now
        let error = await failure { try await pool.query("SELECT pg_sleep(3)") }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1.5))
        guard case let .unavailable(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("did not answer"), message)
        let rows = try await pool.query("SELECT pg_backend_pid(), current_setting('statement_timeout')")
        let (second, backstop) = try rows.first!.decode((Int32, String).self)
        XCTAssertNotEqual(second, first)
        XCTAssertEqual(backstop, "2300ms")
        await pool.close()
    }

    func testLostConnectionsAreReplacedLazily() async throws {
        let name = "trail-pool-\(UUID().uuidString.prefix(8))"
        let pool = try pool(size: 4, applicationName: name)
        // Open all four.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { _ = try await pool.query("SELECT pg_sleep(0.1)") }
            }
            try await group.waitForAll()
        }
        let killer = TestServer.connector(try TestServer.location())
        let connection = try await killer.connect()
        var binds = PostgresBindings()
        binds.append(name)
        let killed = try await connection.firstInt(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            binds: binds, logger: killer.logger)
        XCTAssertEqual(killed, 4)
        try await connection.close()
        try await Task.sleep(for: .milliseconds(300))

        // Every slot finds its connection closed and opens a new one.
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<8 {
                group.addTask { try await pool.query("SELECT pg_backend_pid()").first!.decode(Int32.self) }
            }
            return try await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        XCTAssertEqual(pids.count, 8)
        await pool.close()
    }

    func testRefusalComesThroughTyped() async throws {
        let base = try TestServer.location()
        let pool = ReadPool(connector: TestServer.connector(TestServer.variant(base, password: "wrong-pw-123")))
        let error = await failure { try await pool.query("SELECT 1") }
        guard case let .refused(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertFalse(message.contains("wrong-pw-123"))
        // The slot went back: a second try fails the same way, not by timing out.
        guard case .refused? = await failure({ try await pool.query("SELECT 1") }) else { return XCTFail() }
        await pool.close()
    }

    func testErrorsFromTheBody() async throws {
        struct Mine: Error {}
        let pool = try pool(size: 1)
        do {
            try await pool.withConnection { _ in throw Mine() }
            XCTFail("no error")
        } catch {
            XCTAssertTrue(error is Mine, "the caller's own errors pass through: \(error)")
        }
        do {
            _ = try await pool.withConnection { connection in
                try await connection.query("SELECT * FROM no_such_table_xyz", logger: pool.connector.logger).get()
            }
            XCTFail("no error")
        } catch {
            XCTAssertEqual(error as? PostgresFailure, .sql(sqlState: "42P01", message: #"relation "no_such_table_xyz" does not exist"#))
        }
        // The single slot came back both times.
        let rows = try await pool.query("SELECT 4")
        XCTAssertEqual(try rows.first?.decode(Int.self), 4)
        await pool.close()
    }

    func testClosedPoolRefusesLeases() async throws {
        let pool = try pool()
        _ = try await pool.query("SELECT 1")
        await pool.close()
        let error = await failure { try await pool.query("SELECT 1") }
        guard case let .unavailable(message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(message.contains("closed"), message)
    }
}

extension PostgresConnection {
    /// The number in the first column of the first row.
    fileprivate func firstInt(_ sql: String, binds: PostgresBindings, logger: Logger) async throws -> Int {
        let rows = try await query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).get()
        return try rows.first!.decode(Int.self)
    }
}
