import Synchronization

/// Lets identical reads that arrive while one is running share the next one.
///
/// A read of a key with none running runs at once, in its caller's task.
/// Reads of that key that arrive meanwhile wait, and when it ends one of
/// them runs once for all of them. So every read starts after each of the
/// calls it answers arrived, and sees every write acknowledged before any of
/// them was made (the contract's read-after-write holds); a key read by one
/// caller at a time costs a lock more, nothing else.
///
/// A caller's cancellation fails its own call only: when the read it ran
/// for others fails while it is cancelled, one of the others reads again.
///
/// What it buys is for a store whose reads cost a round trip and the
/// server's time (PostgreSQL): many agents sensing one namespace at once
/// cost one statement per round, not one each.
public final class ReadCoalescer<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private enum Turn: Sendable {
        case answered(Result<Value, any Error>)
        /// Run the read for yourself and for these (the key is yours).
        case run(for: [CheckedContinuation<Turn, Never>])
        /// The read ended before you queued: start again.
        case retry
    }

    private let waiting = Mutex<[Key: [CheckedContinuation<Turn, Never>]]>([:])

    public init() {}

    /// The calls of `key` waiting for the next read (for tests).
    func queued(_ key: Key) -> Int {
        waiting.withLock { $0[key]?.count ?? 0 }
    }

    /// Reads `key` with `body`, or waits for the read after the one running.
    public func read(_ key: Key, _ body: @Sendable () async throws -> Value) async throws -> Value {
        let runNow = waiting.withLock { w -> Bool in
            if w[key] != nil { return false }
            w[key] = []
            return true
        }
        var batch: [CheckedContinuation<Turn, Never>] = []
        if !runNow {
            let turn = await withCheckedContinuation { (c: CheckedContinuation<Turn, Never>) in
                let queued = waiting.withLock { w -> Bool in
                    guard w[key] != nil else { return false }
                    w[key]!.append(c)
                    return true
                }
                // The read ended between the two locks: start again.
                if !queued { c.resume(returning: .retry) }
            }
            switch turn {
            case let .answered(result): return try result.get()
            case let .run(others): batch = others
            case .retry: return try await read(key, body)
            }
        }
        let result: Result<Value, any Error>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        if case .failure = result, Task.isCancelled, let heir = batch.first {
            // This caller was cancelled and its read with it: that is no
            // answer for the others. One of them reads for the rest (the key
            // stays held, so later calls keep queueing behind it).
            heir.resume(returning: .run(for: Array(batch.dropFirst())))
            return try result.get()
        }
        let next = waiting.withLock { w -> [CheckedContinuation<Turn, Never>] in
            let queued = w[key] ?? []
            if queued.isEmpty {
                w[key] = nil
            } else {
                w[key] = []
            }
            return queued
        }
        for c in batch { c.resume(returning: .answered(result)) }
        if let runner = next.first { runner.resume(returning: .run(for: Array(next.dropFirst()))) }
        return try result.get()
    }
}
