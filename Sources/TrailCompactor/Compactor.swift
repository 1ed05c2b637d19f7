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
    /// Notes per pack in a bulk evaporation. A batch's rows, records and
    /// frames are in memory while it is packed (and the next batch is packed
    /// while one is archived): at 1M notes with 3M trails, batches of 50,000
    /// peaked at 351 MB, of 25,000 at 262 MB, in the same time.
    public var bulkBatch = 25_000
    /// Where a store packs from reads (outside the write lock): notes
    /// archived per write, so that a deposit waits for at most one short
    /// step. The pack of a batch is named by the first step.
    public var archiveStep = 2_000

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

    /// Called after each batch is archived (on both paths: packed from
    /// reads, or archived in its own write) and at the end of a namespace's
    /// run: a batch's records are tens of megabytes of small pieces, and the
    /// allocator may keep their pages when they are freed (traild gives
    /// `ProcessMemory.releaseFreed`).
    public let releaseMemory: @Sendable () -> Void

    public init(store: any TrailStore, settings: CompactorSettings = CompactorSettings(),
                watching: @escaping @Sendable (String) -> Bool = { _ in false },
                releaseMemory: @escaping @Sendable () -> Void = {},
                onEvaporated: @escaping @Sendable ([Note]) -> Void = { _ in }) {
        self.store = store
        self.settings = settings
        self.watching = watching
        self.releaseMemory = releaseMemory
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

    /// Evaporates `batches` where the engine packs from reads: each batch is
    /// set aside (unless `setAside`: a bulk evaporation did it for all) and
    /// packed outside the write lock while the batch before it is archived,
    /// then archived in writes of at most `settings.archiveStep` notes, of
    /// those still set aside. A write waits for at most one such step.
    private func evaporateFromReads(_ batches: [EvaporationBatch], ns: String, setAside: Bool, writer: Writer,
                                    into report: inout CompactionReport) async throws(TrailError) {
        let store = self.store
        let reportNotes = watching(ns)
        /// Sets batch `i` aside (one write, awaited, so that the order of the
        /// run's writes, and what a crash leaves, is always the same), then
        /// packs it from a read in a task of its own; nil past the last.
        func setAsideAndPack(_ i: Int) async throws(TrailError) -> Task<Result<(EvaporationBatch, PackedEvaporation?), TrailError>, Never>? {
            guard i < batches.count else { return nil }
            var batch = batches[i]
            batch.reportNotes = reportNotes
            if !setAside { _ = try await store.write(.markEvaporating(ns: ns, batch: batch), by: writer) }
            return Task { [batch] in
                do throws(TrailError) {
                    return .success((batch, try await store.packEvaporation(ns: ns, batch: batch)))
                } catch {
                    return .failure(error)
                }
            }
        }
        var next = try await setAsideAndPack(0)
        var i = 0
        var unnamed = false
        while let current = next {
            let (batch, packed) = try await current.value.get()
            i += 1
            // The next batch is set aside before this one is archived, and
            // packed while it is.
            next = try await setAsideAndPack(i)
            guard let packed else { continue }
            var archived = 0
            let step = max(1, settings.archiveStep)
            do throws(TrailError) {
                for start in stride(from: 0, to: packed.entries.count, by: step) {
                    let end = min(start + step, packed.entries.count)
                    var slice = batch
                    slice.packed = packed
                    slice.packed!.entries = Array(packed.entries[start..<end])
                    slice.packed!.notes = packed.notes.isEmpty ? [] : Array(packed.notes[start..<end])
                    guard case let .evaporated(done) = try await store.write(.evaporate(ns: ns, batch: slice), by: writer) else {
                        throw .internal("evaporate answered something else")
                    }
                    archived += done.count
                    if !done.notes.isEmpty { onEvaporated(done.notes) }
                }
            } catch {
                // The next batch's packing ends inside this run (and this
                // namespace's compaction lock); what it set aside waits for the next.
                _ = await next?.value
                throw error
            }
            report.evaporated += archived
            if archived > 0 { report.archivedBytes += packed.packedBytes } else { unnamed = true }
            releaseMemory()
        }
        // A pack none of whose notes was left is no one's once its claim went.
        if unnamed { _ = try await store.write(.sweepPacks, by: writer) }
    }

    private func compactNamespace(_ ns: String) async throws(TrailError) -> CompactionReport {
        let writer = Writer(agent: "trail-compactor")
        let started = Date()
        var report = CompactionReport(ns: ns, startedAtMillis: Timestamp.millis(started.timeIntervalSince1970))
        var planned = try await store.fadedNotes(ns: ns, batch: settings.batch)
        let bulk = planned.count > settings.bulkBatches
        if bulk {
            // Bulk: set every faded note aside in one write (out of the key
            // index at once), then evaporate in bigger batches of neighbours.
            let all = planned.flatMap(\.handles)
            _ = try await store.write(.markEvaporating(ns: ns, batch: EvaporationBatch(handles: all)), by: writer)
            // Their trails stay until all are archived, then go in one pass.
            planned = stride(from: 0, to: all.count, by: settings.bulkBatch).map {
                EvaporationBatch(handles: Array(all[$0..<min($0 + settings.bulkBatch, all.count)]), keepTrails: true)
            }
        }
        if store.packsEvaporationFromReads {
            try await evaporateFromReads(planned, ns: ns, setAside: bulk, writer: writer, into: &report)
        } else {
            for var batch in planned {
                batch.reportNotes = watching(ns)
                guard case let .evaporated(batch) = try await store.write(.evaporate(ns: ns, batch: batch), by: writer) else {
                    throw .internal("evaporate answered something else")
                }
                report.evaporated += batch.count
                report.archivedBytes += batch.packedBytes
                if !batch.notes.isEmpty { onEvaporated(batch.notes) }
                releaseMemory()
            }
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
        releaseMemory()
        report.durationMillis = Int64(Date().timeIntervalSince(started) * 1000)
        _ = try await store.write(.recordCompaction(report), by: writer)
        return report
    }
}
