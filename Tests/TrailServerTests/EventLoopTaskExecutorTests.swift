import NIOCore
import NIOPosix
import Testing
@testable import TrailServer

@Suite("Event-loop task executor: a read started on a loop stays there")
struct EventLoopTaskExecutorTests {
    @Test("a task that prefers the loop runs on it, and comes back to it after awaiting work on another loop")
    func staysOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let (mine, other) = (loops[0], loops[1])
        let seen = try await Task(executorPreference: EventLoopTaskExecutor(mine)) { () async throws -> [Bool] in
            var onMine = [mine.inEventLoop]
            for _ in 0..<3 {
                // Work completed on the other loop, as a database connection's answer is.
                let answer = try await other.submit { other.inEventLoop }.get()
                onMine.append(answer && mine.inEventLoop)
                await Task.yield()
                onMine.append(mine.inEventLoop)
            }
            return onMine
        }.value
        #expect(seen == Array(repeating: true, count: 7))
        // Without the preference the task runs on Swift's thread pool.
        #expect(await Task { mine.inEventLoop }.value == false)
        try await group.shutdownGracefully()
    }
}
