import Foundation
import PostgresNIO
import Testing
import TrailCompactor
import TrailCore
@testable import TrailPostgres
import TrailStore

/// Recall by meaning on PostgreSQL: the vectors table (migration 2), its
/// reads and `storeVectors`, and `merge` through the engine's write path.
@Suite("PostgreSQL vectors", .serialized)
struct PostgresVectorTests {
    static let model = "test-model"

    /// Floats whose bytes must come back exactly: signed zero, a subnormal,
    /// the extremes, infinities, a NaN with a payload, and plain values.
    static let awkward: [Float] = [0.5, -0.0, .leastNonzeroMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity,
                                   Float(bitPattern: 0x7FC0_1234), .pi, -1e-30, 1]

    /// A vector of `n` floats that differs per `seed`.
    static func vector(_ seed: Int, _ n: Int = 8) -> [Float] {
        (0..<n).map { Float(seed) + Float($0) / 8 - 0.3 }
    }

    func seq(_ db: ScratchDatabase, _ id: NoteID, ns: String = "default") throws -> Int64 {
        try db.rows("SELECT seq FROM note WHERE ns = '\(ns)' AND id = '\(id.hex)'")[0][0].decode(Int64.self)
    }

    @discardableResult
    func store(_ store: PostgresStore, _ vectors: [(Int64, [Float])], model: String = Self.model) async throws -> Int {
        let outcome = try await store.write(.storeVectors(model: model, vectors: vectors.map { VectorWrite(handle: $0.0, vector: $0.1) }),
                                            by: Writer())
        guard case let .vectorsStored(count) = outcome else { throw TrailError.internal("not vectorsStored: \(outcome)") }
        return count
    }

    func allVectors(_ store: PostgresStore, after stamp: Int64 = 0, limit: Int = 1000, model: String = Self.model) async throws -> [StoredVector] {
        try await store.vectors(model: model, after: stamp, limit: limit)
    }

    func bits(_ v: [Float]?) -> [UInt32]? { v?.map(\.bitPattern) }

    @Test("the migration adds note_vector; a note row's deletion takes its vector with it")
    func migration() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let versions = try db.rows("SELECT version FROM trail_migration ORDER BY version").map { try $0[0].decode(Int.self) }
        #expect(versions == PostgresSchema.migrations.map(\.version) && versions.prefix(2) == [1, 2])
        let a = try await store.deposit("alpha")
        #expect(try await self.store(store, [(try seq(db, a.note.id), [1, 2])]) == 1)
        _ = try db.rows("DELETE FROM note WHERE id = '\(a.note.id.hex)'")
        #expect(try db.rows("SELECT count(*) FROM note_vector")[0][0].decode(Int64.self) == 0)
        await store.close()
    }

    @Test("vectors come back in stamp order, bit for bit; storing one again moves it to the end; pages by stamp")
    func storeAndRead() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let a = try await store.deposit("alpha"), b = try await store.deposit("beta")
        let c = try await store.deposit("gamma", ns: "other")
        let (sa, sb, sc) = (try seq(db, a.note.id), try seq(db, b.note.id), try seq(db, c.note.id, ns: "other"))
        // One write: stamps follow the order given, not the handles'.
        #expect(try await self.store(store, [(sc, Self.awkward), (sa, Self.vector(1))]) == 2)
        #expect(try await self.store(store, [(sb, Self.vector(2))]) == 1)
        let first = try await allVectors(store)
        #expect(first.map(\.handle) == [sc, sa, sb])
        #expect(first.map(\.id) == [c.note.id, a.note.id, b.note.id])
        #expect(first.map(\.ns) == ["other", "default", "default"])
        #expect(zip(first, first.dropFirst()).allSatisfy { $0.stamp < $1.stamp })
        #expect(bits(first[0].vector) == bits(Self.awkward))
        #expect(bits(first[1].vector) == bits(Self.vector(1)))
        #expect(bits(first[2].vector) == bits(Self.vector(2)))

        let page = try await allVectors(store, after: first[0].stamp, limit: 1)
        #expect(page.map(\.handle) == [sa])
        #expect(try await allVectors(store, after: first[2].stamp).isEmpty)
        #expect(try await allVectors(store, model: "another").isEmpty)

        // Stored again (a new vector): the end of the order, after every stamp so far.
        #expect(try await self.store(store, [(sa, Self.vector(7, 384))]) == 1)
        let again = try await allVectors(store)
        #expect(again.map(\.handle) == [sc, sb, sa])
        #expect(again[2].stamp > first[2].stamp)
        #expect(bits(again[2].vector) == bits(Self.vector(7, 384)))
        let news = try await allVectors(store, after: first[2].stamp)
        #expect(news.map(\.handle) == [sa])
        await store.close()
    }

    @Test("storeVectors skips a handle with no note, keeps a handle's last vector when given twice, stores nothing for nothing")
    func skipsAndDuplicates() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let a = try await store.deposit("alpha")
        let sa = try seq(db, a.note.id)
        #expect(try await self.store(store, [(sa + 1000, Self.vector(1)), (sa, Self.vector(2)), (-5, Self.vector(3))]) == 1)
        #expect(try await allVectors(store).map(\.handle) == [sa])
        #expect(try await self.store(store, [(sa, Self.vector(4)), (sa, Self.vector(5))]) == 1)
        let got = try await allVectors(store)
        #expect(got.count == 1)
        #expect(bits(got.first?.vector) == bits(Self.vector(5)))
        #expect(try await self.store(store, []) == 0)
        #expect(try await self.store(store, [(sa + 1000, Self.vector(1))]) == 0)
        await store.close()
    }

    @Test("unembedded lists exactly the live notes without a vector of the model, in seq order, paged by handle, bodies as deposited")
    func unembedded() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let bodies = ["one", "caf\u{e9} au lait\u{0}tail", "three", "four", "five"]
        var notes: [Note] = []
        for (i, body) in bodies.enumerated() { notes.append(try await store.deposit(body, ns: i == 3 ? "other" : "default").note) }
        let seqs = try notes.map { try seq(db, $0.id, ns: $0.ns) }
        try await self.store(store, [(seqs[0], Self.vector(0)), (seqs[2], Self.vector(2))])
        let pending = try await store.unembedded(model: Self.model, after: 0, limit: 100)
        #expect(pending.map(\.handle) == [seqs[1], seqs[3], seqs[4]])
        #expect(pending.map(\.id) == [notes[1].id, notes[3].id, notes[4].id])
        #expect(pending.map(\.ns) == ["default", "other", "default"])
        #expect(pending.map(\.body) == [bodies[1], bodies[3], bodies[4]])

        let firstPage = try await store.unembedded(model: Self.model, after: 0, limit: 2)
        #expect(firstPage.map(\.handle) == [seqs[1], seqs[3]])
        let secondPage = try await store.unembedded(model: Self.model, after: firstPage[1].handle, limit: 2)
        #expect(secondPage.map(\.handle) == [seqs[4]])
        #expect(try await store.unembedded(model: Self.model, after: seqs[4], limit: 2).isEmpty)
        // Another model has embedded none of them.
        #expect(try await store.unembedded(model: "another", after: 0, limit: 100).count == 5)

        try await self.store(store, pending.map { ($0.handle, Self.vector(9)) })
        #expect(try await store.unembedded(model: Self.model, after: 0, limit: 100).isEmpty)
        await store.close()
    }

    @Test("meaningRows by handles and by ids: current notes of the namespace, with their vectors when stored")
    func meaningRows() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let a = try await store.deposit("alpha", tags: ["x"], strength: 3)
        let b = try await store.deposit("beta", after: [a.note.id.hex])
        let elsewhere = try await store.deposit("alpha", ns: "other")
        let (sa, sb, so) = (try seq(db, a.note.id), try seq(db, b.note.id), try seq(db, elsewhere.note.id, ns: "other"))
        try await self.store(store, [(sa, Self.awkward), (so, Self.vector(4))])
        _ = try await store.write(.reinforce(id: try prefix(a.note.id.hex), ns: "default", delta: 2), by: Writer())

        for keys in [NoteKeys.handles([sa, sb, so, sa + 1000]), .ids([a.note.id, b.note.id, NoteID(body: "never deposited")])] {
            let rows = try await store.meaningRows(ns: "default", keys, model: Self.model).sorted { $0.handle < $1.handle }
            #expect(rows.map(\.handle) == [sa, sb], "\(keys)")
            guard rows.count == 2 else { continue }
            let ra = rows[0], rb = rows[1]
            #expect(ra.note.id == a.note.id && ra.note.body == "alpha" && ra.note.tags == ["x"] && ra.note.ns == "default")
            #expect(abs(ra.note.weight - 5) < 1e-3, "the weight now, reinforcement included: \(ra.note.weight)")
            #expect(ra.note.state == .live)
            #expect(bits(ra.vector) == bits(Self.awkward))
            #expect(rb.note.id == b.note.id && rb.note.after == [a.note.id] && abs(rb.note.weight - 1) < 1e-3)
            #expect(rb.vector == nil)
            let shown = try await store.get(try prefix(a.note.id.hex), ns: "default").note
            #expect(ra.note.deposits == shown.deposits && ra.note.updatedAtMillis == shown.updatedAtMillis && ra.note.createdAtMillis == shown.createdAtMillis)
        }
        // The vector of another model is not this model's.
        let other = try await store.meaningRows(ns: "default", .handles([sa]), model: "another")
        #expect(other.count == 1 && other.first?.vector == nil)
        #expect(try await store.meaningRows(ns: "other", .ids([a.note.id]), model: Self.model).map(\.handle) == [so])
        #expect(try await store.meaningRows(ns: "nowhere", .handles([sa]), model: Self.model).isEmpty)
        #expect(try await store.meaningRows(ns: "default", .handles([]), model: Self.model).isEmpty)
        #expect(try await store.meaningRows(ns: "default", .ids([]), model: Self.model).isEmpty)
        await store.close()
    }

    @Test("a retracted note is in none of vectors, unembedded and meaningRows; revived, it is back with its vector")
    func retracted() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let a = try await store.deposit("with a vector"), b = try await store.deposit("without one")
        let (sa, sb) = (try seq(db, a.note.id), try seq(db, b.note.id))
        try await self.store(store, [(sa, Self.vector(1))])
        for note in [a.note, b.note] {
            _ = try await store.write(.retract(id: try prefix(note.id.hex), ns: "default", reason: "wrong"), by: Writer())
        }
        #expect(try await allVectors(store).isEmpty)
        #expect(try await store.unembedded(model: Self.model, after: 0, limit: 100).isEmpty)
        #expect(try await store.meaningRows(ns: "default", .handles([sa, sb]), model: Self.model).isEmpty)
        #expect(try await store.meaningRows(ns: "default", .ids([a.note.id, b.note.id]), model: Self.model).isEmpty)

        for note in [a.note, b.note] { _ = try await store.write(.revive(id: try prefix(note.id.hex), ns: "default"), by: Writer()) }
        #expect(try await allVectors(store).map(\.handle) == [sa])
        #expect(try await store.unembedded(model: Self.model, after: 0, limit: 100).map(\.handle) == [sb])
        let rows = try await store.meaningRows(ns: "default", .handles([sa, sb]), model: Self.model).sorted { $0.handle < $1.handle }
        #expect(rows.map(\.handle) == [sa, sb])
        #expect(bits(rows.first?.vector) == bits(Self.vector(1)))
        await store.close()
    }

    @Test("a note set aside for evaporation counts as live; evaporated, its vector stays and comes back with revive or a deposit")
    func evaporation() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let a = try await store.deposit("fading a"), b = try await store.deposit("fading b"), c = try await store.deposit("fading c")
        let kept = try await store.deposit("kept", strength: 10)
        let (sa, sb, sc, sk) = (try seq(db, a.note.id), try seq(db, b.note.id), try seq(db, c.note.id), try seq(db, kept.note.id))
        try await self.store(store, [(sa, Self.vector(1)), (sb, Self.vector(2)), (sk, Self.vector(3))])
        _ = try await store.write(.configure(NamespaceChange(ns: "default", evaporateBelow: 2)), by: Writer())

        // Set aside (state 3) by a bulk evaporation that has not run yet: faded, still live to these reads.
        let batches = try await store.fadedNotes(ns: "default", batch: 100)
        guard case let .marked(marked) = try await store.write(.markEvaporating(ns: "default", batch: batches[0]), by: Writer()) else {
            Issue.record("not marked")
            return
        }
        #expect(marked == 3)
        #expect(try db.rows("SELECT count(*) FROM note WHERE state = 3")[0][0].decode(Int64.self) == 3)
        #expect(try await allVectors(store).map(\.handle) == [sa, sb, sk])
        #expect(try await store.unembedded(model: Self.model, after: 0, limit: 100).map(\.handle) == [sc])
        let aside = try await store.meaningRows(ns: "default", .handles([sa, sc]), model: Self.model).sorted { $0.handle < $1.handle }
        #expect(aside.map(\.handle) == [sa, sc])
        #expect(aside.allSatisfy { $0.note.state == .faded })

        let reports = try await Compactor(store: store).compact(ns: "default")
        #expect(reports.map(\.evaporated).reduce(0, +) == 3)
        #expect(try db.rows("SELECT count(*) FROM note WHERE state = 2")[0][0].decode(Int64.self) == 3)
        #expect(try db.rows("SELECT count(*) FROM note_vector")[0][0].decode(Int64.self) == 3)
        #expect(try await allVectors(store).map(\.handle) == [sk])
        #expect(try await store.unembedded(model: Self.model, after: 0, limit: 100).isEmpty)
        #expect(try await store.meaningRows(ns: "default", .handles([sa, sb, sc]), model: Self.model).isEmpty)
        #expect(try await store.meaningRows(ns: "default", .ids([a.note.id, b.note.id]), model: Self.model).isEmpty)

        _ = try await store.write(.configure(NamespaceChange(ns: "default", evaporateBelow: 0.05)), by: Writer())
        _ = try await store.write(.revive(id: try prefix(a.note.id.hex), ns: "default"), by: Writer())
        let again = try await store.deposit("fading b")
        #expect(!again.created && again.note.state == .live)
        _ = try await store.write(.revive(id: try prefix(c.note.id.hex), ns: "default"), by: Writer())
        let back = try await allVectors(store)
        #expect(back.map(\.handle) == [sa, sb, sk], "the same notes, with their stamps")
        #expect(bits(back.first { $0.handle == sa }?.vector) == bits(Self.vector(1)))
        #expect(bits(back.first { $0.handle == sb }?.vector) == bits(Self.vector(2)))
        let rows = try await store.meaningRows(ns: "default", .ids([a.note.id, b.note.id, c.note.id]), model: Self.model)
            .sorted { $0.handle < $1.handle }
        #expect(rows.map(\.handle) == [sa, sb, sc])
        #expect(rows.map(\.note.body) == ["fading a", "fading b", "fading c"])
        #expect(bits(rows[0].vector) == bits(Self.vector(1)) && bits(rows[1].vector) == bits(Self.vector(2)) && rows[2].vector == nil)
        #expect(try await store.unembedded(model: Self.model, after: 0, limit: 100).map(\.handle) == [sc])
        await store.close()
    }

    @Test("a merge lands on its target as a re-deposit that keeps the body and logs the merged one; a retracted target takes an ordinary deposit")
    func merge() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let target = try await store.deposit("the build needs libzstd", tags: ["build"], agent: "ant-1").note
        let before = try await store.deposit("before")
        let body = "building requires the zstd library"
        let d = Deposit(body: body, ns: "default", tags: ["zstd"], after: [try prefix(before.note.id.hex)], strength: 2, force: false,
                        mergeSimilar: 0.8)
        guard case let .merged(note, similarity) = try await store.write(.merge(d, into: target.id, similarity: 0.91), by: Writer(agent: "ant-2")) else {
            Issue.record("not merged")
            return
        }
        #expect(similarity == 0.91)
        #expect(note.id == target.id && note.body == target.body)
        #expect(note.deposits == 2)
        #expect(abs(note.weight - 3) < 1e-3)
        #expect(note.tags == ["build", "zstd"])
        #expect(note.after == [before.note.id])
        let details = try await store.get(try prefix(target.id.hex), ns: "default")
        #expect(details.history.map(\.op) == ["deposit", "merge"])
        #expect(details.history.last?.detail == body)
        #expect(details.history.last?.agent == "ant-2")
        #expect(details.trails.contains { $0.other == before.note.id && $0.direction == .backward })
        await #expect(throws: TrailError.self) { try await store.get(try prefix(NoteID(body: body).hex), ns: "default") }
        #expect(try db.rows("SELECT count(*) FROM note")[0][0].decode(Int64.self) == 2)

        _ = try await store.write(.retract(id: try prefix(target.id.hex), ns: "default", reason: "stale"), by: Writer())
        guard case let .deposited(fresh, created) = try await store.write(.merge(d, into: target.id, similarity: 0.91), by: Writer()) else {
            Issue.record("not an ordinary deposit")
            return
        }
        #expect(created && fresh.id == NoteID(body: body) && fresh.body == body && fresh.deposits == 1)
        let still = try await store.get(try prefix(target.id.hex), ns: "default").note
        #expect(still.state == .retracted && still.deposits == 2)
        await store.close()
    }

    @Test("in one group a merge is not a batched new deposit: a later deposit of its body does not turn it into one")
    func mergeInGroup() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let target = try await store.deposit("target").note
        await store.close()
        let merging = Deposit(body: "near the target", ns: "default", tags: [], after: [], strength: 1, force: false, mergeSimilar: 0.5)
        let group = [
            PendingWrite(write: .merge(merging, into: target.id, similarity: 0.7), writer: Writer()),
            PendingWrite(write: .deposit(Deposit(body: "near the target", ns: "default", tags: [], after: [], strength: 1, force: false)),
                         writer: Writer()),
            PendingWrite(write: .deposit(Deposit(body: "unrelated", ns: "default", tags: [], after: [], strength: 1, force: false)),
                         writer: Writer()),
        ]
        let results = try await blocking {
            let session = BlockingSession(connector: PostgresConnector(location: db.location))
            defer { session.close() }
            return PostgresCommit(session: session, daemon: "test").commit(group)
        }
        let outcomes = try results.map { try $0.get().outcome }
        guard case let .merged(merged, _) = outcomes[0], case let .deposited(second, true) = outcomes[1],
              case let .deposited(third, true) = outcomes[2] else {
            Issue.record("unexpected outcomes \(outcomes)")
            return
        }
        #expect(merged.id == target.id && merged.deposits == 2)
        #expect(second.id == NoteID(body: "near the target") && second.deposits == 1)
        #expect(third.id == NoteID(body: "unrelated"))
        let log = try db.rows("SELECT op FROM write_log ORDER BY seq").map { try $0[0].decode(String.self) }
        #expect(log == ["deposit", "merge", "deposit", "deposit"])
    }

    @Test("a merge is heard of as a deposit; stored vectors write no log row and are not heard of")
    func signals() async throws {
        #expect(LoggedEvent.events["merge"] == "deposited")
        #expect(WriteSignal("one 12 40") == WriteSignal(daemon: "one", first: 12, last: 40))
        #expect(WriteSignal("one deposited default abc") == nil)
        #expect(WriteSignal("one 40 12") == nil)
    }

    @Test("stores of vectors take stamps one transaction at a time, so that stamps become visible in their order")
    func stampsInCommitOrder() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let a = try await store.deposit("alpha")
        let sa = try seq(db, a.note.id)
        // Another daemon's store of vectors, holding the lock (and so the next stamp) in an open transaction.
        let other = BlockingSession(connector: PostgresConnector(location: db.location))
        defer { other.close() }
        try await blocking {
            try other.begin()
            try other.execute(PostgresWrites.vectorLockSQL)
        }
        let done = Task { try await self.store(store, [(sa, Self.vector(1))]) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try db.rows("SELECT count(*) FROM note_vector")[0][0].decode(Int64.self) == 0, "waits for the other store")
        try await blocking { try other.commit() }
        #expect(try await done.value == 1)
        #expect(try await allVectors(store).map(\.handle) == [sa])
        await store.close()
    }
}
