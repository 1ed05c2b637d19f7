import Foundation
import Logging
import Synchronization
import TrailCore
import TrailEmbedding
import TrailStore

/// What the indexer is asked to do: wake for new notes, adopt notes that
/// are live again, stop. A condition variable, so the indexer's thread
/// sleeps while there is nothing to do.
final class IndexerWork: @unchecked Sendable {
    private let condition = NSCondition()
    private var woken = false
    private var stopped = false
    private var adoptions: [(ns: String, id: NoteID)] = []

    func wake() {
        condition.lock()
        woken = true
        condition.signal()
        condition.unlock()
    }

    func adopt(ns: String, id: NoteID) {
        condition.lock()
        adoptions.append((ns, id))
        woken = true
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    /// Waits until woken or `timeout` seconds pass; then hands over the
    /// adoptions asked so far. Nil once stopped.
    func wait(timeout: Double) -> [(ns: String, id: NoteID)]? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !woken && !stopped {
            if !condition.wait(until: deadline) { break }
        }
        if stopped { return nil }
        woken = false
        let taken = adoptions
        adoptions.removeAll()
        return taken
    }
}

/// Keeps the index in step with the store, on a thread of its own (not an
/// event loop, not the commit thread): loads the stored vectors at start,
/// then embeds live notes that have none in batches, stores each vector
/// durably and adds it to memory; with other daemons on the store, it also
/// picks up the vectors they store.
final class Indexer: Sendable {
    let recall: Recall
    let threads: Int
    /// Notes embedded in one batch (their tokens packed into shared matrix products).
    static let batch = 32
    /// Vectors read per page when loading.
    static let page = 10_000

    init(recall: Recall, threads: Int) {
        self.recall = recall
        self.threads = max(1, threads)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "trail-indexer"
        thread.start()
    }

    func stop() { recall.work.stop() }

    private var store: any TrailStore { recall.store }
    private var model: String { recall.model }

    /// Runs an async store call from this thread, waiting for it.
    private func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws(TrailError) -> T) throws(TrailError) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, TrailError>?>(nil)
        Task {
            let r: Result<T, TrailError>
            do throws(TrailError) { r = .success(try await body()) } catch { r = .failure(error) }
            result.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    // MARK: the store, from this thread

    /// The next page of stored vectors after `stamp`, put into memory; moves
    /// `stamp` past them. Returns how many there were.
    private func loadVectors(after stamp: inout Int64) throws(TrailError) -> [StoredVector] {
        let (model, after) = (self.model, stamp)
        let page = try blocking { [store] () async throws(TrailError) -> [StoredVector] in
            try await store.vectors(model: model, after: after, limit: Self.page)
        }
        for (ns, group) in Dictionary(grouping: page, by: \.ns) {
            recall.insert(ns: ns, group.map { (handle: $0.handle, id: $0.id, vector: $0.vector) })
        }
        stamp = page.last?.stamp ?? stamp
        return page
    }

    private func unembedded(after cursor: Int64) throws(TrailError) -> [UnembeddedNote] {
        let (model, limit) = (self.model, Self.batch * threads)
        return try blocking { [store] () async throws(TrailError) -> [UnembeddedNote] in
            try await store.unembedded(model: model, after: cursor, limit: limit)
        }
    }

    /// Stores `vectors` durably, records the contests of their notes, then
    /// puts them into memory.
    private func keep(_ vectors: [(ns: String, handle: Int64, id: NoteID, vector: [Float])]) throws(TrailError) {
        let (model, writes) = (self.model, vectors.map { VectorWrite(handle: $0.handle, vector: $0.vector) })
        _ = try blocking { [store] () async throws(TrailError) -> WriteOutcome in
            try await store.write(.storeVectors(model: model, vectors: writes), by: Writer(agent: "traild-indexer"))
        }
        for (ns, group) in Dictionary(grouping: vectors, by: \.ns) {
            let entries = group.map { (handle: $0.handle, id: $0.id, vector: $0.vector) }
            // Contests first: a note counted as embedded has its contests recorded.
            recordContests(ns: ns, of: entries)
            recall.insert(ns: ns, entries)
        }
    }

    /// `Recall.recordContests` from this thread. A failure is logged, not
    /// thrown: the vectors are stored, and embedding them again would not
    /// bring the contests back (see docs/decisions.md).
    private func recordContests(ns: String, of entries: [(handle: Int64, id: NoteID, vector: [Float])], inIndex: Bool = false) {
        do {
            try blocking { [recall] () async throws(TrailError) in try await recall.recordContests(ns: ns, of: entries, inIndex: inIndex) }
        } catch {
            recall.logger.warning("could not record the contests of notes just embedded", metadata: [
                "ns": "\(ns)", "notes": "\(entries.count)", "error": "\(error)",
            ])
        }
    }

    // MARK: the loop

    private func run() {
        var stamp: Int64 = 0
        var cursor: Int64 = 0
        var highestLoaded: Int64 = 0
        do {
            let started = Date()
            var loaded = 0
            // Room for every live note of each namespace at once: the load grows each index once.
            let namespaces = try blocking { [store] () async throws(TrailError) -> [NamespaceSummary] in try await store.namespaces() }
            for n in namespaces { recall.index.reserve(ns: n.settings.name, capacity: n.counts.live + n.counts.faded) }
            while !recall.work.isStopped {
                let page = try loadVectors(after: &stamp)
                loaded += page.count
                highestLoaded = max(highestLoaded, page.map(\.handle).max() ?? 0)
                if page.count < Self.page { break }
            }
            recall.logger.info("loaded the stored vectors", metadata: [
                "vectors": "\(loaded)", "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            ])
        } catch {
            recall.logger.error("could not load the stored vectors; notes are embedded again", metadata: ["error": "\(error)"])
        }
        var scannedAll = false
        var adoptions: [(ns: String, id: NoteID)] = []
        var lastLook = Date()
        while !recall.work.isStopped {
            do {
                if !adoptions.isEmpty {
                    try adopt(adoptions)
                    adoptions.removeAll()
                }
                let notes = try unembedded(after: cursor)
                if !notes.isEmpty {
                    try embed(notes)
                    cursor = notes.last!.handle
                    continue
                }
                if !scannedAll {
                    // Every note up to the highest loaded was embedded before: later scans start there.
                    scannedAll = true
                    cursor = max(cursor, highestLoaded)
                }
                // Other daemons' vectors. Stamps become visible in the order given (the engine's
                // contract for `vectors`): nothing before `stamp` can still appear.
                if store.hasOtherWriters, Date().timeIntervalSince(lastLook) >= 1 {
                    lastLook = Date()
                    let page = try loadVectors(after: &stamp)
                    // Their notes may contest ours (or each other): the pair is found here too.
                    for (ns, group) in Dictionary(grouping: page, by: \.ns) {
                        recordContests(ns: ns, of: group.map { (handle: $0.handle, id: $0.id, vector: $0.vector) }, inIndex: true)
                    }
                    if page.count == Self.page { continue }
                }
            } catch {
                recall.logger.warning("the indexer could not read or write the store; it tries again", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
            }
            guard let taken = recall.work.wait(timeout: store.hasOtherWriters ? 1 : 30) else { break }
            adoptions += taken
        }
    }

    /// Embeds `notes` (split over the indexer's threads), stores their
    /// vectors, then adds them to memory.
    private func embed(_ notes: [UnembeddedNote]) throws(TrailError) {
        let encoder = recall.encoder
        let parts = stride(from: 0, to: notes.count, by: Self.batch).map { Array(notes[$0..<min($0 + Self.batch, notes.count)]) }
        let vectors = Mutex<[[[Float]]]>(Array(repeating: [], count: parts.count))
        DispatchQueue.concurrentPerform(iterations: parts.count) { i in
            let v = encoder.embed(parts[i].map(\.body))
            vectors.withLock { $0[i] = v }
        }
        let flat = vectors.withLock { $0.flatMap { $0 } }
        try keep(zip(notes, flat).map { (ns: $0.ns, handle: $0.handle, id: $0.id, vector: $1) })
    }

    /// Notes live again: their stored vectors come back (stored again, so
    /// that other daemons pick them up too); those without one are embedded.
    private func adopt(_ notes: [(ns: String, id: NoteID)]) throws(TrailError) {
        for (ns, group) in Dictionary(grouping: notes, by: \.ns) {
            let ids = group.map(\.id)
            let model = self.model
            let rows = try blocking { [store] () async throws(TrailError) -> [MeaningRow] in
                try await store.meaningRows(ns: ns, .ids(ids), model: model)
            }
            // A vector of another length is a damaged row: embedded again, like a missing one.
            let whole = { (row: MeaningRow) in row.vector?.count == self.recall.encoder.dimensions }
            let stored = rows.filter(whole).map { (ns: ns, handle: $0.handle, id: $0.note.id, vector: $0.vector!) }
            if !stored.isEmpty { try keep(stored) }
            let missing = rows.filter { !whole($0) }
            if !missing.isEmpty {
                try embed(missing.map { UnembeddedNote(ns: ns, handle: $0.handle, id: $0.note.id, body: $0.note.body) })
            }
        }
    }
}
