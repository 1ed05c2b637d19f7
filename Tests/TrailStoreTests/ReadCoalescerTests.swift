import Synchronization
import Testing
@testable import TrailStore

/// A gate a read waits at until the test opens it.
private final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for c in waiters { c.resume() }
    }
}

private struct Boom: Error, Equatable {}

/// A counter that escaping closures may share.
private final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    var now: Int { value.load(ordering: .sequentiallyConsistent) }
    @discardableResult func add() -> Int { value.add(1, ordering: .sequentiallyConsistent).newValue }
    func set(_ v: Int) { value.store(v, ordering: .sequentiallyConsistent) }
}

/// The reads a body ran: how many calls had arrived when each started, and what it saw.
private final class Runs: Sendable {
    private let runs = Mutex<[(arrivedAtStart: Int, saw: Int)]>([])
    var all: [(arrivedAtStart: Int, saw: Int)] { runs.withLock { $0 } }
    /// Records a run; true for the first.
    func record(arrived: Int, saw: Int) -> Bool {
        runs.withLock { r in
            r.append((arrived, saw))
            return r.count == 1
        }
    }
}

/// Waits until `condition` holds (or 10 s have passed).
private func until(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
}

@Suite("Read coalescer: identical reads at once share the next read")
struct ReadCoalescerTests {
    @Test("reads one after another each run")
    func sequential() async throws {
        let coalescer = ReadCoalescer<String, Int>()
        let runs = Counter()
        for i in 1...5 {
            let v = try await coalescer.read("k") { runs.add() }
            #expect(v == i)
        }
        #expect(runs.now == 5)
    }

    @Test("reads that arrive while one runs share one read, which starts after they all arrived and sees a write made before")
    func shared() async throws {
        let coalescer = ReadCoalescer<String, Int>()
        let gate = Gate()
        let written = Counter()  // what a read sees
        let arrived = Counter()
        let runs = Runs()
        let body: @Sendable () async -> Int = {
            let saw = written.now
            if runs.record(arrived: arrived.now, saw: saw) { await gate.wait() }
            return saw
        }
        arrived.add()
        let first = Task { try await coalescer.read("k") { await body() } }
        try await until { runs.all.count == 1 }
        // A write acknowledged while the first read runs: the reads that
        // come after it must see it.
        written.set(1)
        let later = (0..<50).map { _ in
            Task {
                arrived.add()
                return try await coalescer.read("k") { await body() }
            }
        }
        try await until { coalescer.queued("k") == 50 }
        gate.open()
        #expect(try await first.value == 0)
        for t in later { #expect(try await t.value == 1) }
        let all = runs.all
        #expect(all.count == 2, "\(all.count) reads for 51 calls")
        #expect(all.last?.arrivedAtStart == 51 && all.last?.saw == 1)
    }

    @Test("other keys do not wait; an error reaches every call of its read")
    func keysAndErrors() async throws {
        let coalescer = ReadCoalescer<String, Int>()
        let gate = Gate()
        let started = Counter()
        let slow = Task {
            try await coalescer.read("a") {
                started.add()
                await gate.wait()
                return 1
            }
        }
        try await until { started.now == 1 }
        #expect(try await coalescer.read("b") { 2 } == 2)  // not held up by "a"
        let failing = (0..<3).map { _ in Task { try await coalescer.read("a") { () async throws -> Int in throw Boom() } } }
        try await until { coalescer.queued("a") == 3 }
        gate.open()
        #expect(try await slow.value == 1)
        for t in failing { await #expect(throws: Boom.self) { try await t.value } }
        #expect(try await coalescer.read("a") { 3 } == 3)  // the key is free again
    }

    @Test("a cancelled caller's read fails only that caller: another of those it read for reads for the rest")
    func cancelledRunner() async throws {
        let coalescer = ReadCoalescer<String, Int>()
        let first = Gate(), second = Gate()
        let runs = Counter()
        let started = Counter()
        let running = Task {
            try await coalescer.read("k") {
                runs.add()
                started.add()
                await first.wait()
                return 0
            }
        }
        try await until { started.now == 1 }
        // Queued first, so it runs the next read for those queued after it.
        let heir = Task {
            try await coalescer.read("k") {
                runs.add()
                started.add()
                await second.wait()
                try Task.checkCancellation()  // as a read that notices its caller went away
                return 1
            }
        }
        try await until { coalescer.queued("k") == 1 }
        let others = (0..<5).map { _ in Task { try await coalescer.read("k") { runs.add() + 100 } } }
        try await until { coalescer.queued("k") == 6 }
        first.open()
        #expect(try await running.value == 0)
        try await until { started.now == 2 }
        heir.cancel()
        second.open()
        await #expect(throws: CancellationError.self) { try await heir.value }
        for t in others { #expect(try await t.value == 103, "a caller got the cancelled read's error, or a read of its own") }
        #expect(runs.now == 3)
        #expect(try await coalescer.read("k") { 7 } == 7)  // the key is free again
    }
}
