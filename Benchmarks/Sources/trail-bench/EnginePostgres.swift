import Foundation
import NIOPosix
import TrailCore
import TrailPostgres
import TrailServer

/// The PostgreSQL engine itself in this process: a `PostgresStore` as traild
/// opens one, asked as traild asks it (each read in a task that prefers an
/// event loop of the connector's group, `EventLoopTaskExecutor`), with no
/// socket, JSON-RPC or daemon around it. Between traild and the raw peer, it
/// says which part of a sense's time is the engine's (the pool, the shared
/// reads, the rows made notes) and which the daemon's.
final class EnginePostgres: Sendable {
    let store: PostgresStore
    let ns: String

    /// Opens the store (its migrations are done: a no-op) off the caller's thread.
    static func open(_ location: PostgresLocation, ns: String) async throws -> EnginePostgres {
        do {
            let store = try await Task.detached { try PostgresStore(location: location, daemon: "trail-bench-engine") }.value
            return EnginePostgres(store: store, ns: ns)
        } catch {
            throw BenchFailure("the PostgreSQL engine could not open \(location.redacted): \(error)")
        }
    }

    private init(store: PostgresStore, ns: String) {
        self.store = store
        self.ns = ns
    }

    func close() async { await store.close() }

    /// Top 10 by weight through `PostgresStore.sense`, one after another on
    /// one event loop, for `duration` seconds after `warmup`.
    func senseLatency(warmup: Double, duration: Double) async throws -> LatencyHistogram {
        let executor = EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next())
        let (store, ns) = (store, ns)
        return try await Task(executorPreference: executor) {
            var h = makeHistogram()
            let window = MeasuringWindow(warmup: warmup, duration: duration)
            let query = SenseQuery(ns: ns, limit: 10)
            while true {
                let t0 = monoNanos()
                if !window.isOpen(at: t0, counted: h.totalCount > 0) { break }
                let notes = try await store.sense(query)
                let t1 = monoNanos()
                guard notes.count == 10 else { throw BenchFailure("the engine in process: sense found \(notes.count) notes, not 10; the data set is not loaded") }
                if t0 >= window.countFrom { _ = h.record(t1 - t0) }
            }
            if h.totalCount == 0 { throw window.nothingMeasured("the engine's sense in process") }
            return h
        }.value
    }
}
