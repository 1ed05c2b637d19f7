import Metrics
import NIOCore
import Prometheus
import Synchronization
import TrailCore
import TrailProtocol
import TrailStore

/// What `/metrics` shows (Prometheus text format, through swift-metrics and
/// swift-prometheus): requests by method and outcome and their latency,
/// recorded as they are answered; the rest (connections, watchers, the write
/// queue, notes by state and namespace, store bytes, the embedding backlog)
/// read when scraped. Group-commit sizes and compactions are recorded where
/// they happen (GroupCommit, Compactor).
final class DaemonMetrics: Sendable {
    /// The registry `/metrics` writes out; nil when metrics are off (no HTTP listener).
    let registry: PrometheusCollectorRegistry?
    /// Errors by method and reason, made as they first happen.
    private let failures = Mutex<[String: Metrics.Counter]>([:])
    /// Successes and latency by method, made up front: no lock per request.
    private let successes: [String: Metrics.Counter]
    private let latency: [String: Metrics.Timer]

    /// Label for methods not in the contract: keeps the series few.
    static let otherMethod = "other"

    init(registry: PrometheusCollectorRegistry?) {
        self.registry = registry
        var latency: [String: Metrics.Timer] = [:], successes: [String: Metrics.Counter] = [:]
        for method in TrailMethod.allCases.map(\.rawValue) + [Self.otherMethod] {
            latency[method] = Metrics.Timer(label: "trail_request_duration_seconds", dimensions: [("method", method)])
            successes[method] = Metrics.Counter(label: "trail_requests_total", dimensions: [("method", method), ("outcome", "ok")])
        }
        self.latency = latency
        self.successes = successes
    }

    /// The bounded label for `method`.
    static func label(_ method: String) -> String { TrailMethod(rawValue: method)?.rawValue ?? otherMethod }

    /// Counts one answered request and its time since `started`.
    func answered(method: String, outcome: String, started: NIODeadline) {
        guard registry != nil else { return }
        let counter = outcome == "ok" ? successes[method] : failures.withLock { counters in
            let key = method + " " + outcome
            if let c = counters[key] { return c }
            let c = Metrics.Counter(label: "trail_requests_total", dimensions: [("method", method), ("outcome", outcome)])
            counters[key] = c
            return c
        }
        counter?.increment()
        latency[method]?.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
    }

    /// Reads the daemon's figures into gauges, then writes every metric out.
    func scrape(dispatcher: Dispatcher) async -> [UInt8] {
        guard let registry else { return [] }
        let store = dispatcher.store
        Metrics.Gauge(label: "trail_connections").record(dispatcher.connections.load(ordering: .relaxed))
        Metrics.Gauge(label: "trail_watchers").record(dispatcher.hub.count)
        Metrics.Gauge(label: "trail_write_queue_depth").record(store.pendingWrites)
        Metrics.Gauge(label: "trail_store_bytes").record(Int(store.storeBytes()))
        let recall = try? dispatcher.recall.get()
        if let recall {
            let counts = recall.recent.counts
            Metrics.Gauge(label: "trail_embedding_cache_lookups", dimensions: [("outcome", "hit")]).record(counts.hits)
            Metrics.Gauge(label: "trail_embedding_cache_lookups", dimensions: [("outcome", "miss")]).record(counts.misses)
            let notes = recall.recentNotes.counts
            Metrics.Gauge(label: "trail_embedding_note_cache_lookups", dimensions: [("outcome", "hit")]).record(notes.hits)
            Metrics.Gauge(label: "trail_embedding_note_cache_lookups", dimensions: [("outcome", "miss")]).record(notes.misses)
            let passes = recall.queue.passes
            Metrics.Gauge(label: "trail_embedding_request_passes").record(passes.passes)
            Metrics.Gauge(label: "trail_embedding_request_texts").record(passes.texts)
        }
        if let namespaces = try? await store.namespaces() {
            for n in namespaces {
                let ns = n.settings.name
                for (state, count) in [("live", n.counts.live), ("faded", n.counts.faded), ("archived", n.counts.archived),
                                       ("retracted", n.counts.retracted)] {
                    Metrics.Gauge(label: "trail_notes", dimensions: [("ns", ns), ("state", state)]).record(count)
                }
                if let recall {
                    let pending = max(0, n.counts.live + n.counts.faded - recall.index.count(ns: ns))
                    Metrics.Gauge(label: "trail_embedding_backlog", dimensions: [("ns", ns)]).record(pending)
                }
            }
        }
        return registry.emitToBuffer()
    }
}
