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
    /// Notes embedded, in the order read, with their vectors.
    typealias EmbeddedBatch = [(ns: String, handle: Int64, id: NoteID, vector: [Float])]

    let recall: Recall
    let threads: Int
    /// Notes embedded in one batch (their tokens packed into shared matrix products).
    static let batch = 32
    /// Vectors read per page when loading: 2,000 (3 MB of floats). A page's
    /// floats and their copies are freed when it is indexed, but glibc keeps
    /// what was freed in its arenas until the trim after the load; pages of
    /// 10,000 left about 60 MB there at the end of a load of 1M (the load's
    /// peak), pages of 2,000 about 18 MB, for the same load time.
    static let page = 2_000

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

    /// The next page of stored vectors after `stamp`; moves `stamp` past them.
    private func readVectors(after stamp: inout Int64) throws(TrailError) -> [StoredVector] {
        let (model, after) = (self.model, stamp)
        let page = try blocking { [store] () async throws(TrailError) -> [StoredVector] in
            try await store.vectors(model: model, after: after, limit: Self.page)
        }
        stamp = page.last?.stamp ?? stamp
        return page
    }

    /// Puts a page of stored vectors into memory.
    private func insert(_ page: [StoredVector]) {
        for (ns, group) in Dictionary(grouping: page, by: \.ns) {
            recall.insert(ns: ns, group.map { (handle: $0.handle, id: $0.id, vector: $0.vector) })
        }
    }

    private func unembedded(after cursor: Int64) throws(TrailError) -> [UnembeddedNote] {
        let (model, limit) = (self.model, Self.batch * threads)
        return try blocking { [store] () async throws(TrailError) -> [UnembeddedNote] in
            try await store.unembedded(model: model, after: cursor, limit: limit)
        }
    }

    /// Finds the contests of the notes of `vectors`, stores the vectors and
    /// records the contests in one transaction, then puts the vectors into
    /// memory. A failure throws before anything is stored: the notes are
    /// embedded again on the next pass.
    private func keep(_ vectors: EmbeddedBatch) throws(TrailError) {
        let groups = Dictionary(grouping: vectors, by: \.ns).mapValues { $0.map { (handle: $0.handle, id: $0.id, vector: $0.vector) } }
        let contests = try blocking { [recall] () async throws(TrailError) -> [NamespaceContests] in
            var found: [NamespaceContests] = []
            for (ns, entries) in groups { found.append(try await recall.contests(ns: ns, of: entries)) }
            return found
        }
        let (model, writes) = (self.model, vectors.map { VectorWrite(handle: $0.handle, vector: $0.vector) })
        _ = try blocking { [store] () async throws(TrailError) -> WriteOutcome in
            try await store.write(.storeVectors(model: model, vectors: writes, contests: contests), by: Writer(agent: "traild-indexer"))
        }
        for (ns, entries) in groups { recall.insert(ns: ns, entries) }
    }

    /// Records the contests of vectors other daemons stored, already in
    /// memory. A failure is logged, not thrown: the vectors are stored, and
    /// the daemon that stored them compared them with the notes it held.
    private func recordContests(of vectors: [StoredVector]) {
        for (ns, group) in Dictionary(grouping: vectors, by: \.ns) {
            let entries = group.map { (handle: $0.handle, id: $0.id, vector: $0.vector) }
            do {
                try blocking { [recall, store] () async throws(TrailError) in
                    let found = try await recall.contests(ns: ns, of: entries, inIndex: true)
                    if !found.pairs.isEmpty {
                        _ = try await store.write(.recordContests(ns: ns, pairs: found.pairs), by: Writer(agent: "traild-indexer"))
                    }
                }
            } catch {
                recall.logger.warning("could not record the contests of vectors other daemons stored", metadata: [
                    "ns": "\(ns)", "notes": "\(entries.count)", "error": "\(error)",
                ])
            }
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
                let page = try readVectors(after: &stamp)
                insert(page)
                loaded += page.count
                highestLoaded = max(highestLoaded, page.map(\.handle).max() ?? 0)
                if page.count < Self.page { break }
            }
            ProcessMemory.releaseFreed()
            recall.logger.info("loaded the stored vectors", metadata: [
                "vectors": "\(loaded)", "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            ])
        } catch {
            recall.logger.error("could not load the stored vectors; notes are embedded again", metadata: ["error": "\(error)"])
        }
        var scannedAll = false
        var adoptions: [(ns: String, id: NoteID)] = []
        var lastLook = Date()
        // Embedded, not yet stored: kept while the next batch is embedded (or when none is
        // left). Lost at stop: those notes have no vector and are embedded at the next start.
        var unkept: EmbeddedBatch?
        while !recall.work.isStopped {
            do {
                if !adoptions.isEmpty {
                    try adopt(adoptions)
                    adoptions.removeAll()
                }
                let notes = try unembedded(after: cursor)
                if !notes.isEmpty {
                    unkept = try embed(notes, keeping: unkept)
                    cursor = notes.last!.handle
                    continue
                }
                if let batch = unkept {
                    try keep(batch)
                    unkept = nil
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
                    let page = try readVectors(after: &stamp)
                    // Their notes may contest ours (or each other): the pair is found here too.
                    // This daemon's own vectors come back by stamp too; they were compared when kept.
                    let new = page.filter { !recall.isIndexed(ns: $0.ns, id: $0.id) }
                    insert(page)
                    recordContests(of: new)
                    if page.count == Self.page { continue }
                }
            } catch {
                // A batch that could not be stored is read and embedded again (its bodies
                // come from `recentNotes`), and what came after it too.
                if let first = unkept?.first { cursor = min(cursor, first.handle - 1) }
                unkept = nil
                recall.logger.warning("the indexer could not read or write the store; it tries again", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
            }
            guard let taken = recall.work.wait(timeout: store.hasOtherWriters ? 1 : 30) else { break }
            adoptions += taken
        }
    }

    /// Embeds `notes` (split over the indexer's threads; a body embedded
    /// lately is taken from `recentNotes`) while `previous`, the batch
    /// embedded before, is stored and put into memory on this thread: storing
    /// waits on the disk and finding contests is one thread's work, and the
    /// embedding threads no longer wait for either. Returns the vectors of
    /// `notes`, not yet stored; throws when `previous` could not be stored.
    private func embed(_ notes: [UnembeddedNote], keeping previous: EmbeddedBatch?) throws(TrailError) -> EmbeddedBatch {
        let (encoder, recent) = (recall.encoder, recall.recentNotes)
        var vectors = notes.map { recent.lookup($0.body) }
        let missing = vectors.indices.filter { vectors[$0] == nil }
        let parts = stride(from: 0, to: missing.count, by: Self.batch).map { Array(missing[$0..<min($0 + Self.batch, missing.count)]) }
        let embedded = Mutex<[[[Float]]]>(Array(repeating: [], count: parts.count))
        let done = DispatchGroup()
        DispatchQueue.global().async(group: done) {
            DispatchQueue.concurrentPerform(iterations: parts.count) { i in
                let v = encoder.embed(parts[i].map { notes[$0].body })
                embedded.withLock { $0[i] = v }
            }
        }
        let failure: TrailError?
        do throws(TrailError) {
            if let previous { try keep(previous) }
            failure = nil
        } catch {
            failure = error
        }
        done.wait()
        if let failure { throw failure }
        for (part, found) in zip(parts, embedded.withLock { $0 }) {
            for (i, v) in zip(part, found) {
                vectors[i] = v
                recent.keep(notes[i].body, v)
            }
        }
        return zip(notes, vectors).map { (ns: $0.ns, handle: $0.handle, id: $0.id, vector: $1!) }
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
                try keep(try embed(missing.map { UnembeddedNote(ns: ns, handle: $0.handle, id: $0.note.id, body: $0.note.body) }, keeping: nil))
            }
        }
    }
}
