import Foundation
import Metrics
import TrailCore
import TrailStore

/// How the compactor works.
public struct CompactorSettings: Sendable {
    /// Notes per archive pack and per transaction: bounds how long one batch
    /// holds the write lock.
    public var batch = 2000
    /// Rebase a namespace's landmark once `(now - L) / h` passes this many
    /// half-lives. At 2^16 a key keeps ~11 significant decimals of log2(weight).
    public var rebaseBound = 65536.0
    /// Ranks written per transaction.
    public var rankBatch = 10_000
    /// When more notes have faded than `batch` times this, the evaporation
    /// is a bulk one: every faded note is set aside in one write, then
    /// evaporated `bulkBatch` at a time.
    public var bulkBatches = 8
    /// Notes per pack and transaction in a bulk evaporation.
    public var bulkBatch = 50_000

    public init() {}
}

/// Compaction: evaporates faded notes into archive packs, ranks the trail
/// graph of what is live, and rebases landmarks that have grown old. It only
/// talks to a `TrailStore`, through the same ordered writes as every client,
/// so it runs inside `traild` or beside it (`trail-compactor`) alike.
public struct Compactor: Sendable {
    public let store: any TrailStore
    public let settings: CompactorSettings
    /// Told about every batch of notes that evaporated (for watch events).
    public let onEvaporated: @Sendable ([Note]) -> Void

    /// Whether anyone watches a namespace: only then are the evaporated
    /// notes built for `onEvaporated`.
    public let watching: @Sendable (String) -> Bool

    public init(store: any TrailStore, settings: CompactorSettings = CompactorSettings(),
                watching: @escaping @Sendable (String) -> Bool = { _ in false },
                onEvaporated: @escaping @Sendable ([Note]) -> Void = { _ in }) {
        self.store = store
        self.settings = settings
        self.watching = watching
        self.onEvaporated = onEvaporated
    }

    /// Compacts `ns`, or every namespace when nil; one report per namespace
    /// compacted. A namespace that another daemon compacts at the same time
    /// is waited for, then compacted (finding little left), or skipped when
    /// `waitForOthers` is false (the background service), so that a
    /// namespace is compacted by one daemon at a time.
    public func compact(ns: String? = nil, waitForOthers: Bool = true) async throws(TrailError) -> [CompactionReport] {
        _ = try await store.write(.sweepPacks, by: Writer(agent: "trail-compactor"))
        let names: [String]
        if let ns { names = [ns] } else { names = try await store.namespaces().map(\.settings.name) }
        var reports: [CompactionReport] = []
        for name in names {
            let started = DispatchTime.now()
            if let report = try await store.compacting(ns: name, wait: waitForOthers, { () async throws(TrailError) in
                try await compactNamespace(name)
            }) {
                reports.append(report)
                // /metrics: runs and their durations, per namespace.
                Counter(label: "trail_compactions_total", dimensions: [("ns", name)]).increment()
                Timer(label: "trail_compaction_duration_seconds", dimensions: [("ns", name)]).recordInterval(since: started)
            }
        }
        return reports
    }

    private func compactNamespace(_ ns: String) async throws(TrailError) -> CompactionReport {
        let writer = Writer(agent: "trail-compactor")
        let started = Date()
        var report = CompactionReport(ns: ns, startedAtMillis: Timestamp.millis(started.timeIntervalSince1970))
        var planned = try await store.fadedNotes(ns: ns, batch: settings.batch)
        if planned.count > settings.bulkBatches {
            // Bulk: set every faded note aside in one write (out of the key
            // index at once), then evaporate in bigger batches of neighbours.
            let all = planned.flatMap(\.handles)
            _ = try await store.write(.markEvaporating(ns: ns, batch: EvaporationBatch(handles: all)), by: writer)
            // Their trails stay until all are archived, then go in one pass.
            planned = stride(from: 0, to: all.count, by: settings.bulkBatch).map {
                EvaporationBatch(handles: Array(all[$0..<min($0 + settings.bulkBatch, all.count)]), keepTrails: true)
            }
        }
        for var batch in planned {
            batch.reportNotes = watching(ns)
            guard case let .evaporated(batch) = try await store.write(.evaporate(ns: ns, batch: batch), by: writer) else {
                throw .internal("evaporate answered something else")
            }
            report.evaporated += batch.count
            report.archivedBytes += batch.packedBytes
            if !batch.notes.isEmpty { onEvaporated(batch.notes) }
        }
        // Also after a bulk evaporation that a crash cut short.
        _ = try await store.write(.dropDeadTrails(ns: ns), by: writer)
        if report.evaporated > 0 { _ = try await store.write(.maintainText, by: writer) }
        let graph = try await store.rankGraph(ns: ns)
        let ranks = TrailRank.compute(weights: graph.weights, from: graph.edgeFrom, to: graph.edgeTo,
                                      edgeWeight: graph.edgeWeight).ranks
        // In storage order, so each transaction writes neighbouring rows.
        let order = graph.handles.indices.sorted { graph.handles[$0] < graph.handles[$1] }
        var start = 0
        while start < order.count {
            let end = min(start + settings.rankBatch, order.count)
            let chunk = order[start..<end].map { (handle: graph.handles[$0], rank: ranks[$0]) }
            _ = try await store.write(.setRanks(ns: ns, ranks: chunk), by: writer)
            start = end
        }
        report.ranked = ranks.count
        if case let .rebased(did) = try await store.write(.rebase(ns: ns, bound: settings.rebaseBound), by: writer) {
            report.rebased = did
        }
        report.durationMillis = Int64(Date().timeIntervalSince(started) * 1000)
        _ = try await store.write(.recordCompaction(report), by: writer)
        return report
    }
}
