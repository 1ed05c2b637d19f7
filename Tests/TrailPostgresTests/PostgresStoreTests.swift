import Foundation
import Synchronization
import PostgresNIO
import Testing
import TrailCore
@testable import TrailPostgres
import TrailCompactor
import TrailStore

/// A fresh database on the test cluster (`TRAIL_TEST_POSTGRES_URL`, which
/// `make test` sets through tests/pgcluster.py), dropped at the end.
final class ScratchDatabase: Sendable {
    let location: PostgresLocation
    private let admin: BlockingSession
    let name: String

    init() throws {
        guard let url = ProcessInfo.processInfo.environment["TRAIL_TEST_POSTGRES_URL"] else {
            throw TrailError.internal("TRAIL_TEST_POSTGRES_URL is not set: run these tests through `python3 tests/pgcluster.py run -- swift test` (make test does)")
        }
        let base = try PostgresLocation(parsing: url)
        admin = BlockingSession(connector: PostgresConnector(location: base))
        name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        _ = try admin.execute("CREATE DATABASE \(name)")
        location = PostgresLocation(endpoint: base.endpoint, user: base.user, password: base.password, database: name)
    }

    /// A store on this database, as one daemon would open it.
    func store(_ daemon: String = "test", catchUpLimit: Int = 10_000) throws -> PostgresStore {
        try PostgresStore(location: location, daemon: daemon, catchUpLimit: catchUpLimit)
    }

    /// Runs `sql` on the database (as the owner) and returns its rows.
    func rows(_ sql: String) throws -> [PostgresRandomAccessRow] {
        let session = BlockingSession(connector: PostgresConnector(location: location))
        defer { session.close() }
        return try session.execute(sql).rows.map { $0.makeRandomAccess() }
    }

    deinit {
        _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        admin.close()
    }
}

extension PostgresStore {
    @discardableResult
    func deposit(_ body: String, ns: String = "default", tags: [String] = [], after: [String] = [], strength: Double = 1,
                 force: Bool = false, agent: String? = nil) async throws -> (note: Note, created: Bool) {
        let d = Deposit(body: body, ns: ns, tags: tags, after: try after.map { try IDPrefix($0, field: "after") },
                        strength: strength, force: force)
        guard case let .deposited(note, created) = try await write(.deposit(d), by: Writer(agent: agent, uid: 1000, pid: 42)) else {
            throw TrailError.internal("not a deposit")
        }
        return (note, created)
    }
}

func prefix(_ s: String) throws -> IDPrefix { try IDPrefix(s, field: "id") }

/// Runs `body` on a thread that may block (a store opens and migrates
/// synchronously, as traild does at start).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread.detachNewThread { c.resume(with: Result { try body() }) }
    }
}

@Suite("PostgreSQL store", .serialized)
struct PostgresStoreTests {
    @Test("deposit, re-deposit adds to the weight, counts deposits, unions tags and after; get shows the history")
    func redeposit() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        // Taken before the deposit: the database stamps it somewhere between
        // the call and its answer, and a loaded machine can spend most of a
        // second in between.
        let started = ContinuousClock.now
        let a = try await store.deposit("first", tags: ["x"], agent: "ant-1")
        #expect(a.created)
        #expect(a.note.id == NoteID(body: "first"))
        #expect(abs(a.note.weight - 1) < 1e-6)
        let b = try await store.deposit("second")
        let again = try await store.deposit("first", tags: ["y"], after: [b.note.id.hex], strength: 2, agent: "ant-2")
        #expect(!again.created)
        // The first deposit decayed (the database's clock, default half-life)
        // for at most the time measured here, plus a second for the two
        // clocks' disagreement.
        let measured = ContinuousClock.now - started
        let elapsed = Double(measured.components.seconds) + Double(measured.components.attoseconds) / 1e18 + 1
        let decayedAtMost = 1 - pow(2, -elapsed / Limits.defaultHalfLife)
        #expect(again.note.weight <= 3 + 1e-9 && again.note.weight >= 3 - decayedAtMost - 1e-9, "\(again.note.weight)")
        #expect(again.note.deposits == 2)
        #expect(again.note.tags == ["x", "y"])
        #expect(again.note.after == [b.note.id])
        #expect(again.note.agent == "ant-1")
        let details = try await store.get(try prefix(String(a.note.id.hex.prefix(10))), ns: "default")
        #expect(details.note.body == "first")
        #expect(details.history.map(\.op) == ["deposit", "redeposit"])
        #expect(details.history.map(\.agent) == ["ant-1", "ant-2"])
        #expect(details.trails.map(\.other) == [b.note.id])
        await store.close()
    }

    @Test("a body with U+0000 and accents is kept byte for byte and found by its words without accents")
    func bodies() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let body = "caf\u{e9} au lait\u{0}tail"
        let d = try await store.deposit(body)
        #expect(d.note.id == NoteID(body: body))
        let got = try await store.get(try prefix(d.note.id.hex), ns: "default")
        #expect(got.note.body == body)
        let found = try await store.sense(SenseQuery(ns: "default", words: ["cafe"]))
        #expect(found.map(\.note.id) == [d.note.id])
        await store.close()
    }

    @Test("the trail weight SQL is ForwardDecay.reinforced, computed by the database")
    func reinforcedKeySQL() throws {
        let db = try ScratchDatabase()
        let decay = ForwardDecay(halfLife: 604_800, landmark: 1_800_000_000)
        let now = 1_800_000_000 + 1_000_000.0
        for (weight, delta) in [(1.0, 1.0), (0.0, 2.5), (3.0, -1.0), (1.0, -5.0), (1e-9, 1e6), (2.0, 0.0)] {
            let key = decay.key(weight: weight, at: now)
            let sql = PostgresWrites.reinforcedKeySQL(old: "\(key)::float8", delta: "\(delta)::float8",
                                                      offset: "\(decay.offset(at: now))::float8")
            let got = try db.rows("SELECT \(sql)")[0][0].decode(Double.self)
            let want = decay.reinforced(key: key, by: delta, at: now)
            #expect(abs(got - want) < 1e-9, "weight \(weight) + \(delta): \(got) vs \(want)")
        }
    }

    @Test("the sense floor SQL is SenseWalk.floorKey, computed by the database")
    func floorKeySQL() throws {
        let db = try ScratchDatabase()
        let now = 1_800_000_000 + 123_456.0
        for (evaporate, minWeight, includeFaded) in [(0.05, nil, false), (0.05, 0.5, false), (0.5, 0.01, false), (0.05, nil, true),
                                                      (0.05, 2.0, true), (1e-9, 0.0, false)] as [(Double, Double?, Bool)] {
            let settings = NamespaceSettings(name: "n", halfLife: 3600, evaporateBelow: evaporate, maxNoteBytes: 4096, landmark: 1_800_000_000)
            let query = SenseQuery(ns: "n", minWeight: minWeight, includeFaded: includeFaded)
            let sql = PostgresReads.floorKeySQL(includeFaded: includeFaded, minWeight: minWeight.map { "\($0)::float8" })
            let got = try db.rows("""
                SELECT \(sql) FROM (SELECT \(now)::float8 AS now, \(evaporate)::float8 AS evaporate_below,
                    1800000000::float8 AS landmark, 3600::float8 AS half_life_s) s
                """)[0][0].decode(Double.self)
            let want = SenseWalk.floorKey(query, settings: settings, at: now)
            #expect(abs(got - want) <= 1e-9 * max(1, abs(want)), "\(evaporate) \(String(describing: minWeight)) \(includeFaded): \(got) vs \(want)")
        }
    }

    @Test("two daemons deposit the same bodies at once: one note each, deposits and weights exact")
    func twoDaemonsDeposit() async throws {
        let db = try ScratchDatabase()
        let one = try await blocking { try db.store("one") }
        let two = try await blocking { try db.store("two") }
        let bodies = (0..<20).map { "shared body \($0)" }
        let rounds = 10
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in [one, two] {
                for _ in 0..<4 {
                    group.addTask {
                        for _ in 0..<rounds {
                            for body in bodies.shuffled() { try await store.deposit(body, strength: 0.5) }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for body in bodies {
            let note = try await one.get(try prefix(NoteID(body: body).hex), ns: "default").note
            #expect(note.deposits == 2 * 4 * rounds)
            #expect(abs(note.weight - Double(2 * 4 * rounds) * 0.5) < 1e-3)
        }
        let count = try db.rows("SELECT count(*) FROM note")[0][0].decode(Int64.self)
        #expect(count == Int64(bodies.count))
        await one.close()
        await two.close()
    }

    @Test("reinforcements and trails through two daemons at once are never lost")
    func twoDaemonsReinforce() async throws {
        let db = try ScratchDatabase()
        let one = try await blocking { try db.store("one") }
        let two = try await blocking { try db.store("two") }
        let a = try await one.deposit("a")
        let b = try await one.deposit("b")
        let n = 50
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in [one, two] {
                group.addTask {
                    for _ in 0..<n {
                        _ = try await store.write(.reinforce(id: try prefix(a.note.id.hex), ns: "default", delta: 1), by: Writer())
                        _ = try await store.write(.link(from: try prefix(a.note.id.hex), to: try prefix(b.note.id.hex), ns: "default", delta: 0.5),
                                                  by: Writer())
                    }
                }
            }
            try await group.waitForAll()
        }
        let details = try await two.get(try prefix(a.note.id.hex), ns: "default")
        #expect(abs(details.note.weight - Double(1 + 2 * n)) < 1e-3)
        #expect(details.trails.count == 1)
        #expect(abs((details.trails.first?.weight ?? 0) - Double(2 * n) * 0.5) < 1e-3)
        await one.close()
        await two.close()
    }

    @Test("a refused write submitted among others leaves them committed (one group for certain: PostgresGroupTests)")
    func refusedInGroup() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let bad = try prefix("00000000deadbeef")
        async let first = store.deposit("one")
        async let refused: Result<WriteOutcome, TrailError> = {
            do { return .success(try await store.write(.reinforce(id: bad, ns: "default", delta: 1), by: Writer())) }
            catch let error as TrailError { return .failure(error) } catch { return .failure(.internal("\(error)")) }
        }()
        async let second = store.deposit("two")
        let (x, r, y) = try await (first, refused, second)
        #expect(x.created && y.created)
        guard case let .failure(error) = r, case .unknownNote = error else {
            Issue.record("expected unknown_note, got \(r)")
            return
        }
        let stats = try await store.summary(ns: "default")
        #expect(stats.counts.live == 2)
        #expect(stats.counts.notes == 2)
        await store.close()
    }

    @Test("retract refuses re-deposit and reinforcement; revive brings it back; force revives")
    func retractRevive() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let n = try await store.deposit("harmful", agent: "a")
        let id = try prefix(n.note.id.hex)
        guard case let .retracted(note) = try await store.write(.retract(id: id, ns: "default", reason: "wrong"), by: Writer(agent: "judge")) else {
            Issue.record("not retracted")
            return
        }
        #expect(note.state == .retracted)
        #expect(note.retraction?.reason == "wrong")
        await #expect(throws: TrailError.self) { try await store.deposit("harmful") }
        await #expect(throws: TrailError.self) { try await store.write(.reinforce(id: id, ns: "default", delta: 1), by: Writer()) }
        let forced = try await store.deposit("harmful", force: true)
        #expect(forced.note.state == .live)
        #expect(forced.note.deposits == 2)
        await store.close()
    }

    @Test("sense by weight, tags, any tags, budget and words; follow both ways")
    func senseAndFollow() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let heavy = try await store.deposit("the build needs libzstd", tags: ["build"], strength: 5)
        let mid = try await store.deposit("tests need a postgres cluster", tags: ["test", "build"], after: [heavy.note.id.hex], strength: 3)
        let light = try await store.deposit("walls of text", tags: ["style"], strength: 1)
        let all = try await store.sense(SenseQuery(ns: "default"))
        #expect(all.map(\.note.id) == [heavy.note.id, mid.note.id, light.note.id])
        #expect(abs(all[0].score - 5) < 1e-6)
        let tagged = try await store.sense(SenseQuery(ns: "default", allTags: ["build", "test"]))
        #expect(tagged.map(\.note.id) == [mid.note.id])
        let any = try await store.sense(SenseQuery(ns: "default", anyTags: ["style", "test"]))
        #expect(any.map(\.note.id) == [mid.note.id, light.note.id])
        let budget = try await store.sense(SenseQuery(ns: "default", budgetBytes: 40))
        #expect(budget.map(\.note.id) == [heavy.note.id, light.note.id])
        let limited = try await store.sense(SenseQuery(ns: "default", limit: 2))
        #expect(limited.count == 2)
        let words = try await store.sense(SenseQuery(ns: "default", words: ["wall"]))
        #expect(words.map(\.note.id) == [light.note.id])
        #expect(words[0].score >= 1)
        let forward = try await store.follow(FollowQuery(from: try prefix(heavy.note.id.hex), ns: "default"))
        #expect(forward.steps.map(\.to) == [mid.note.id])
        let backward = try await store.follow(FollowQuery(from: try prefix(mid.note.id.hex), ns: "default", direction: .backward))
        #expect(backward.steps.map(\.to) == [heavy.note.id])
        await store.close()
    }

    @Test("a new half-life keeps every weight, while another daemon writes")
    func rebaseAcrossDaemons() async throws {
        let db = try ScratchDatabase()
        let one = try await blocking { try db.store("one") }
        let two = try await blocking { try db.store("two") }
        let a = try await one.deposit("steady", strength: 4)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for h in [3600.0, 7200.0, 86_400.0, 604_800.0] {
                    _ = try await one.write(.configure(NamespaceChange(ns: "default", halfLife: h)), by: Writer())
                }
            }
            group.addTask {
                for _ in 0..<40 { _ = try await two.write(.reinforce(id: try prefix(a.note.id.hex), ns: "default", delta: 0.25), by: Writer()) }
            }
            try await group.waitForAll()
        }
        let note = try await two.get(try prefix(a.note.id.hex), ns: "default").note
        // 4 + 40 x 0.25, decayed over well under a second at half-lives of an hour or more.
        #expect(abs(note.weight - 14) < 0.01, "weight \(note.weight)")
        await one.close()
        await two.close()
    }

    @Test("the index answers sense by weight without a scan")
    func sensePlan() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        _ = try db.rows("""
            INSERT INTO note (ns, id, body, tags, after, key, state, deposits, created_at, updated_at)
            SELECT 'default', md5(i::text) || md5((i + 1)::text), convert_to('n' || i, 'UTF8'), '', '', random() * 10, 0, 1, 0, 0
            FROM generate_series(1, 20000) i
            """)
        _ = try db.rows("ANALYZE note")
        let plan = try db.rows("""
            EXPLAIN SELECT n.seq FROM note n WHERE n.ns = 'default' AND n.state = 0 AND n.key >= 1.5
            ORDER BY n.key DESC, n.id ASC LIMIT 10
            """).map { try $0[0].decode(String.self) }.joined(separator: "\n")
        #expect(plan.contains("Index Scan using note_by_key"), "\(plan)")
        #expect(!plan.contains("Sort"), "\(plan)")
        #expect(!plan.contains("Seq Scan"), "\(plan)")
        await store.close()
    }

    @Test("the first page of a sense by weight is planned once per connection, min_weight or not, and cut to the count asked")
    func firstPagePlannedOnce() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        for i in 0..<40 { _ = try await store.deposit("planned once \(i)", strength: Double(1 + i % 7)) }
        await store.close()
        // Enough notes that a generic plan with a bound LIMIT (a tenth of the
        // table) would cost more than a custom one, as at 100k.
        _ = try db.rows("""
            INSERT INTO note (ns, id, body, tags, after, key, state, deposits, created_at, updated_at)
            SELECT 'default', md5(i::text) || md5((i + 1)::text), convert_to('n' || i, 'UTF8'), '', '', -20 + random() * 10, 0, 1, 0, 0
            FROM generate_series(1, 20000) i
            """)
        _ = try db.rows("ANALYZE note")
        let connector = PostgresConnector(location: db.location)
        let connection = try await connector.connect()
        for i in 0..<12 {
            let rows = try await connection.rows(FirstPageByWeight<FirstPageOf25>(ns: "default", minWeight: i % 2 == 0 ? nil : 3.5),
                                                 timeout: .seconds(10), logger: connector.logger)
            let weights = try rows.map { try $0[firstPageNoteColumn + 5].decode(Double.self) }
            #expect(rows.count == 25 || (i % 2 == 1 && rows.count < 25), "\(rows.count) rows")
            #expect(weights == weights.sorted(by: >))
        }
        let plans = try await connection.query("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'trail_first_page_by_weight_25'",
                                                logger: connector.logger).get().rows.map { try $0.decode((Int64, Int64).self) }
        // PostgreSQL plans the first five executions for their parameters, then
        // keeps the generic plan when it costs no more (a bound LIMIT never does).
        #expect(plans.count == 1 && plans[0].0 >= 6 && plans[0].1 <= 5, "generic, custom: \(plans)")
        try await connection.close()
        // Through the store: a sense asks for 10 and gets 10, min_weight applied.
        let again = try await blocking { try db.store() }
        let top = try await again.sense(SenseQuery(ns: "default", limit: 10))
        #expect(top.count == 10)
        let heavy = try await again.sense(SenseQuery(ns: "default", limit: 10, minWeight: 6.5))
        #expect(!heavy.isEmpty && heavy.allSatisfy { $0.note.weight >= 6.5 }, "\(heavy.map(\.note.weight))")
        await again.close()
    }
}

@Suite("PostgreSQL compaction and export", .serialized)
struct PostgresCompactionTests {
    @Test("two daemons compacting at once evaporate each faded note exactly once; every daemon gets and revives it")
    func twoCompactions() async throws {
        let db = try ScratchDatabase()
        let one = try await blocking { try db.store("one") }
        let two = try await blocking { try db.store("two") }
        var faded: [NoteID] = []
        for i in 0..<300 {
            faded.append(try await one.deposit("fading \(i)", tags: ["t\(i % 3)"], strength: 1).note.id)
        }
        let keep = try await one.deposit("kept", after: [faded[0].hex], strength: 10)
        _ = try await one.write(.configure(NamespaceChange(ns: "default", evaporateBelow: 2)), by: Writer())
        var settings = CompactorSettings()
        settings.batch = 50
        let compactors = [Compactor(store: one, settings: settings), Compactor(store: two, settings: settings)]
        let reports = try await withThrowingTaskGroup(of: [CompactionReport].self) { group in
            for c in compactors { group.addTask { try await c.compact(ns: "default") } }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(reports.map(\.evaporated).reduce(0, +) == 300, "\(reports)")
        let stats = try await two.summary(ns: "default")
        #expect(stats.counts.archived == 300)
        #expect(stats.counts.live == 1)
        #expect(stats.counts.notes == 301)
        let archived = try await two.get(try prefix(faded[7].hex), ns: "default")
        #expect(archived.note.state == .archived)
        #expect(archived.note.body == "fading 7")
        #expect(archived.note.tags == ["t1"])
        let first = try await one.get(try prefix(faded[0].hex), ns: "default")
        #expect(first.trails.map(\.other) == [keep.note.id])
        _ = try await one.write(.configure(NamespaceChange(ns: "default", evaporateBelow: 0.05)), by: Writer())
        guard case let .revived(note) = try await two.write(.revive(id: try prefix(faded[0].hex), ns: "default"), by: Writer()) else {
            Issue.record("not revived")
            return
        }
        #expect(note.state == .live)
        #expect(note.body == "fading 0")
        #expect(note.tags == ["t0"])
        let back = try await one.get(try prefix(faded[0].hex), ns: "default")
        #expect(back.trails.map(\.other) == [keep.note.id])
        #expect(try await one.sense(SenseQuery(ns: "default", allTags: ["t0"], includeFaded: true)).map(\.note.id) == [faded[0]])
        await one.close()
        await two.close()
    }

    @Test("a background compaction skips a namespace another daemon compacts")
    func skipWhenBusy() async throws {
        let db = try ScratchDatabase()
        let one = try await blocking { try db.store("one") }
        let two = try await blocking { try db.store("two") }
        let inside = try await one.compacting(ns: "default", wait: false) { () async throws(TrailError) -> Bool in
            let other = try await two.compacting(ns: "default", wait: false) { () async throws(TrailError) in true }
            return other == nil
        }
        #expect(inside == true)
        let after = try await two.compacting(ns: "default", wait: false) { () async throws(TrailError) in true }
        #expect(after == true)
        await one.close()
        await two.close()
    }

    @Test("export pages and restore give back every note, state and trail")
    func exportRestore() async throws {
        let db = try ScratchDatabase()
        let store = try await blocking { try db.store() }
        let a = try await store.deposit("alpha", tags: ["x"], strength: 3)
        let b = try await store.deposit("beta", after: [a.note.id.hex], strength: 2)
        _ = try await store.write(.retract(id: try prefix(b.note.id.hex), ns: "default", reason: "misleading"), by: Writer())
        var records: [NoteRecord] = []
        var cursor: Int64?
        repeat {
            let page = try await store.export(ns: "default", after: cursor, limit: 1)
            records += page.records
            cursor = page.cursor
        } while cursor != nil
        #expect(records.count == 2)
        let other = try ScratchDatabase()
        let copy = try await blocking { try other.store() }
        guard case let .restored(report) = try await copy.write(.restore(ns: "default", records: records), by: Writer()) else {
            Issue.record("not restored")
            return
        }
        #expect(report.created == 2 && report.trails == 1)
        let gotA = try await copy.get(try prefix(a.note.id.hex), ns: "default")
        #expect(gotA.note.tags == ["x"])
        #expect(abs(gotA.note.weight - 3) < 1e-3)
        #expect(gotA.trails.first?.other == b.note.id)
        let gotB = try await copy.get(try prefix(b.note.id.hex), ns: "default")
        #expect(gotB.note.state == .retracted)
        #expect(gotB.note.retraction?.reason == "misleading")
        await store.close()
        await copy.close()
    }
}

/// Events handed over by `forwardEvents`, for a test to wait on.
final class EventLog: Sendable {
    private let events = Mutex<[StoreEvent]>([])
    func add(_ e: StoreEvent) { events.withLock { $0.append(e) } }
    var all: [StoreEvent] { events.withLock { $0 } }

    /// Waits up to `seconds` for `count` events.
    func wait(for count: Int, seconds: Double = 10) async throws -> [StoreEvent] {
        let deadline = Date().addingTimeInterval(seconds)
        while all.count < count && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return all
    }
}

@Suite("PostgreSQL watch across daemons", .serialized)
struct PostgresEventTests {
    @Test("a daemon hears of every other daemon's writes to a watched namespace, not its own, nor unwatched ones")
    func forwarded() async throws {
        let db = try ScratchDatabase()
        let (one, two, log) = try await watchedPair(db)
        _ = try await one.deposit("said by one")
        _ = try await two.deposit("elsewhere", ns: "other")
        let a = try await two.deposit("said by two", tags: ["x"])
        let b = try await two.deposit("next")
        _ = try await two.write(.link(from: try prefix(a.note.id.hex), to: try prefix(b.note.id.hex), ns: "default", delta: 2), by: Writer())
        _ = try await two.write(.reinforce(id: try prefix(a.note.id.hex), ns: "default", delta: 1), by: Writer())
        _ = try await two.write(.retract(id: try prefix(b.note.id.hex), ns: "default", reason: "no"), by: Writer())
        let events = try await log.wait(for: 5)
        #expect(events.map(\.event) == ["deposited", "deposited", "linked", "reinforced", "retracted"])
        #expect(events.map(\.note.id) == [a.note.id, b.note.id, b.note.id, a.note.id, b.note.id])
        #expect(events[0].note.tags == ["x"])
        #expect(events[2].trailFrom == a.note.id)
        #expect(abs((events[2].trailWeight ?? 0) - 2) < 1e-3)
        #expect(events[4].note.state == .retracted)
        let seqs = events.compactMap(\.seq)
        #expect(seqs.count == 5 && seqs == seqs.sorted() && Set(seqs).count == 5)
        await one.close()
        await two.close()
    }

    @Test("evaporations reach other daemons' watchers; the listener comes back after its connection is cut")
    func evaporatedAndReconnect() async throws {
        let db = try ScratchDatabase()
        let (one, two, log) = try await watchedPair(db)
        _ = try db.rows("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'traild-listen' AND datname = current_database()")
        try await Task.sleep(for: .milliseconds(1500))  // the listener reconnects
        let listening = try db.rows("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'traild-listen' AND datname = current_database()")[0][0].decode(Int64.self)
        #expect(listening == 1)
        for i in 0..<5 { _ = try await two.deposit("fading \(i)") }
        _ = try await two.write(.configure(NamespaceChange(ns: "default", evaporateBelow: 2)), by: Writer())
        let released = Atomic<Int>(0)
        _ = try await Compactor(store: two, watching: { _ in true },
                                releaseMemory: { released.add(1, ordering: .relaxed) }).compact(ns: "default")
        // Archived in its own write here: freed memory is given back after
        // the one batch and at the end, as where batches are packed from reads.
        #expect(released.load(ordering: .relaxed) == 2)
        let events = try await log.wait(for: 10)
        #expect(events.filter { $0.event == "deposited" }.count == 5)
        let evaporated = events.filter { $0.event == "evaporated" }
        #expect(evaporated.count == 5)
        #expect(evaporated.allSatisfy { $0.note.state == .archived && $0.note.body.hasPrefix("fading") })
        await one.close()
        await two.close()
    }

    @Test("a deposit whose note evaporated before the listener read its row still reaches the watchers, from the archive")
    func evaporatedBeforeRead() async throws {
        let db = try ScratchDatabase()
        let (one, two, log) = try await watchedPair(db)
        let holder = ListenerHolder(db)  // the listener stays down while the notes are written and evaporate
        for i in 0..<5 { _ = try await two.deposit("gone before read \(i)") }
        _ = try await two.write(.configure(NamespaceChange(ns: "default", evaporateBelow: 2)), by: Writer())
        _ = try await Compactor(store: two, watching: { _ in true }).compact(ns: "default")
        await holder.release()
        let events = try await log.wait(for: 10, seconds: 20)
        let deposited = events.filter { $0.event == "deposited" }
        // Each once: read before the compaction (the listener may get in
        // between two cuts) live, after it from the archive.
        #expect(deposited.count == 5, "\(events.map(\.event))")
        #expect(Set(deposited.map(\.note.body)).count == 5 && deposited.allSatisfy { $0.note.body.hasPrefix("gone before read") })
        #expect(events.filter { $0.event == "evaporated" }.count == 5)
        let seqs = events.compactMap(\.seq)
        #expect(seqs == seqs.sorted(), "in the log's order")
        await one.close()
        await two.close()
    }
}

/// Cuts every listening connection of `db` as soon as it shows, until released.
private final class ListenerHolder: Sendable {
    private let holding = Atomic<Bool>(true)
    private let stopped = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
    private let cutCount = Atomic<Int>(0)
    /// Listening connections cut so far.
    var cuts: Int { cutCount.load(ordering: .sequentiallyConsistent) }

    init(_ db: ScratchDatabase) {
        let owner = BlockingSession(connector: PostgresConnector(location: db.location))
        Thread.detachNewThread { [self] in
            while holding.load(ordering: .sequentiallyConsistent) {
                let cut = (try? owner.execute("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'traild-listen' AND datname = current_database()
                    """).rows.count) ?? 0
                cutCount.add(cut, ordering: .sequentiallyConsistent)
                Thread.sleep(forTimeInterval: 0.005)
            }
            owner.close()
            stopped.withLock { $0.done = true; $0.waiter?.resume(); $0.waiter = nil }
        }
    }

    /// Stops cutting, once the thread has stopped.
    func release() async {
        holding.store(false, ordering: .sequentiallyConsistent)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = stopped.withLock { s -> Bool in
                if !s.done { s.waiter = c }
                return s.done
            }
            if done { c.resume() }
        }
    }
}

/// Two daemons' stores on `db`, "one" handing the other's writes to
/// `default` into `log` (a gap is a failure), once it listens.
func watchedPair(_ db: ScratchDatabase) async throws -> (one: PostgresStore, two: PostgresStore, log: EventLog) {
    let one = try await blocking { try db.store("one") }
    let two = try await blocking { try db.store("two") }
    let log = EventLog()
    one.forwardEvents(watching: { ["default"] }, to: log.add, missed: { _ in Issue.record("no gap expected") })
    try await listening(db)
    return (one, two, log)
}

/// Waits until a daemon listens on `db`: its listener has read the log's
/// end, which it does once LISTEN is answered (a LISTEN still in flight is
/// not yet listening). Writes before that are not its watchers' business.
func listening(_ db: ScratchDatabase) async throws {
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
        let n = try db.rows("""
            SELECT count(*) FROM pg_stat_activity WHERE application_name = 'traild-listen' AND datname = current_database()
              AND query LIKE 'SELECT coalesce(max(seq)%'
            """)[0][0].decode(Int64.self)
        if n > 0 { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("no daemon listens")
}

/// Ends the listening connections of `db`'s daemons, as a partition would.
private func cutListeners(_ db: ScratchDatabase) throws {
    _ = try db.rows("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'traild-listen' AND datname = current_database()")
}

@Suite("PostgreSQL watch without gaps", .serialized)
struct PostgresCatchUpTests {
    @Test("writes made while the listener was cut are caught up from the write log: each once, a note's in order")
    func caughtUp() async throws {
        let db = try ScratchDatabase()
        let one = try await blocking { try db.store("one") }
        let two = try await blocking { try db.store("two") }
        let log = EventLog()
        let gaps = Mutex<[EventGap]>([])
        one.forwardEvents(watching: { ["default"] }, to: log.add, missed: { gap in gaps.withLock { $0.append(gap) } })
        try await listening(db)
        // Two writers through `two` while `one`'s listener is cut again and again.
        let notes = (0..<4).map { "note \($0)" }
        for body in notes { _ = try await two.deposit(body) }
        let writes = Task {
            for round in 0..<40 {
                for body in notes {
                    _ = try await two.write(.reinforce(id: try prefix(NoteID(body: body).hex), ns: "default", delta: 1), by: Writer())
                }
                _ = try await two.deposit("fresh \(round)")
            }
        }
        for _ in 0..<6 {
            try await Task.sleep(for: .milliseconds(150))
            try cutListeners(db)
        }
        try await writes.value
        let expected = 4 + 40 * 5
        let events = try await log.wait(for: expected, seconds: 20)
        try await Task.sleep(for: .milliseconds(500))  // nothing more comes
        let all = log.all
        #expect(all.count == expected)
        let seqs = all.compactMap(\.seq)
        #expect(Set(seqs).count == seqs.count, "an event came twice")
        let logged = try db.rows("SELECT count(*) FROM write_log WHERE daemon = 'two' AND op IN ('deposit', 'reinforce')")[0][0].decode(Int64.self)
        #expect(Int(logged) == expected)
        for body in notes {
            let mine = all.filter { $0.note.id == NoteID(body: body) }.compactMap(\.seq)
            #expect(mine == mine.sorted(), "the events of \(body) out of order")
        }
        #expect(gaps.withLock { $0 }.isEmpty)
        #expect(events.count >= expected)
        await one.close()
        await two.close()
    }

    @Test("more missed writes than the listener replays: the watchers get a gap with its range, then events again")
    func gap() async throws {
        let db = try ScratchDatabase()
        let one = try await blocking { try db.store("one", catchUpLimit: 5) }
        let two = try await blocking { try db.store("two") }
        let log = EventLog()
        let gaps = Mutex<[EventGap]>([])
        one.forwardEvents(watching: { ["default"] }, to: log.add, missed: { gap in gaps.withLock { $0.append(gap) } })
        try await listening(db)
        // Keep the listener out while `two` writes a burst far above the limit:
        // no new connections to the database (those open stay), then cut it.
        let owner = BlockingSession(connector: PostgresConnector(location: db.location))
        defer { owner.close() }
        _ = try owner.execute("ALTER DATABASE \(db.name) CONNECTION LIMIT 0")
        _ = try owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'traild-listen' AND datname = current_database()")
        for i in 0..<20 { _ = try await two.deposit("burst \(i)", ns: "default") }
        _ = try await two.deposit("elsewhere", ns: "other")
        let top = try owner.execute("SELECT max(seq) FROM write_log WHERE ns = 'default'").rows.map { $0.makeRandomAccess() }[0][0].decode(Int64.self)
        _ = try owner.execute("ALTER DATABASE \(db.name) CONNECTION LIMIT -1")
        let deadline = Date().addingTimeInterval(15)
        while gaps.withLock({ $0.isEmpty }) && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let gap = try #require(gaps.withLock { $0.first })
        #expect(gap.namespaces == ["default"])
        #expect(gap.first <= top - 19 && gap.last >= top)
        #expect(log.all.isEmpty, "nothing of the gap is replayed")
        let after = try await two.deposit("after the gap")
        let events = try await log.wait(for: 1)
        #expect(events.map(\.note.id) == [after.note.id])
        await one.close()
        await two.close()
    }
}

/// Ends every listening connection of `db`'s daemons as soon as it shows,
/// on a thread of its own, while `cutting`: at a different moment of each
/// one's start (as it connects, while LISTEN is in flight, as it reads the
/// log's end, or once listening).
private final class ListenerCutter: Sendable {
    private let cutting = Atomic<Bool>(true)
    private let stats = Mutex<(cuts: Int, inListen: Int)>((0, 0))
    private let done = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let stopped = Atomic<Bool>(false)

    var cuts: Int { stats.withLock { $0.cuts } }
    /// Connections cut while their LISTEN was running.
    var cutInListen: Int { stats.withLock { $0.inListen } }

    init(_ db: ScratchDatabase) {
        let owner = BlockingSession(connector: PostgresConnector(location: db.location))
        Thread.detachNewThread { [self] in
            defer {
                owner.close()
                stopped.store(true, ordering: .sequentiallyConsistent)
                done.withLock { $0?.resume(); $0 = nil }
            }
            var rounds: [Int32: Int] = [:]  // each connection's number, in the order they showed
            var cut = Set<Int32>()
            while cutting.load(ordering: .sequentiallyConsistent) {
                guard let rows = try? owner.execute("""
                    SELECT pid, state, query FROM pg_stat_activity WHERE application_name = 'traild-listen' AND datname = current_database()
                    """).rows.map({ $0.makeRandomAccess() }) else { continue }
                for row in rows {
                    guard let pid = try? row[0].decode(Int32.self), !cut.contains(pid) else { continue }
                    let state = (try? row[1].decode(String?.self)) ?? nil
                    let query = (try? row[2].decode(String?.self)) ?? nil
                    let isNew = rounds[pid] == nil
                    let round = rounds[pid] ?? rounds.count
                    rounds[pid] = round
                    // 0 mod 4: at once; 1: once LISTEN shows; 2: once the
                    // log's end is read; 3: a quarter second after it showed.
                    switch round % 4 {
                    case 0: break
                    case 1: guard query?.hasPrefix("LISTEN") == true || query?.hasPrefix("SELECT coalesce") == true else { continue }
                    case 2: guard query?.hasPrefix("SELECT coalesce") == true else { continue }
                    default:
                        guard isNew else { continue }
                        Thread.sleep(forTimeInterval: 0.25)
                    }
                    _ = try? owner.execute("SELECT pg_terminate_backend(\(pid))")
                    cut.insert(pid)
                    stats.withLock { s in
                        s.cuts += 1
                        if state == "active" && query?.hasPrefix("LISTEN") == true { s.inListen += 1 }
                    }
                }
                Thread.sleep(forTimeInterval: 0.0005)
            }
        }
    }

    /// Stops cutting and waits for the thread to end.
    func stop() async {
        cutting.store(false, ordering: .sequentiallyConsistent)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = done.withLock { waiter -> Bool in
                if stopped.load(ordering: .sequentiallyConsistent) { return true }
                waiter = c
                return false
            }
            if resumeNow { c.resume() }
        }
    }
}

@Suite("PostgreSQL listener cut at any moment", .serialized)
struct PostgresListenerCutTests {
    @Test("a listener cut at any moment of its start (connecting, LISTEN in flight, reading the log's end) comes back and misses nothing")
    func cutAnywhere() async throws {
        let db = try ScratchDatabase()
        let (one, two, log) = try await watchedPair(db)
        let cutter = ListenerCutter(db)
        var bodies: [String] = []
        let started = Date()
        // Until two rounds of the four moments are cut: a listener that does
        // not come back leaves nothing to cut, and the count stops short.
        while cutter.cuts < 8, Date().timeIntervalSince(started) < 60 {
            let body = "written while the listener is cut \(bodies.count)"
            _ = try await two.deposit(body)
            bodies.append(body)
            try await Task.sleep(for: .milliseconds(25))
        }
        await cutter.stop()
        #expect(cutter.cuts >= 8, "cut \(cutter.cuts) times")
        // The listener is back within a reconnect pause (at most 5 s) and a
        // connect, and hears a write made now.
        let last = try await two.deposit("after the cuts")
        let events = try await log.wait(for: bodies.count + 1, seconds: 15)
        let ids = Set((bodies + ["after the cuts"]).map { NoteID(body: $0) })
        #expect(Set(events.map(\.note.id)) == ids, "\(events.count) events for \(ids.count) deposits; \(cutter.cuts) cuts, \(cutter.cutInListen) in LISTEN")
        #expect(events.count == ids.count, "an event came twice")
        #expect(events.last?.note.id == last.note.id)
        await one.close()
        await two.close()
    }

    @Test("a write committed after the daemon began to forward, while its first listening connections were cut before they listened, is delivered")
    func cutBeforeFirstListen() async throws {
        let db = try ScratchDatabase()
        // Cutting before the daemon starts: no listening connection gets to
        // read the log's end until the holder lets go.
        let holder = ListenerHolder(db)
        let one = try await blocking { try db.store("one") }
        let two = try await blocking { try db.store("two") }
        let log = EventLog()
        one.forwardEvents(watching: { ["default"] }, to: log.add, missed: { _ in Issue.record("no gap expected") })
        let started = Date()
        // A listening connection shows once the daemon has begun to forward.
        while holder.cuts < 2, Date().timeIntervalSince(started) < 20 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(holder.cuts >= 2, "cut \(holder.cuts) times")
        let before = try await two.deposit("committed before any listening connection listened")
        await holder.release()
        try await listening(db)
        let after = try await two.deposit("committed once one listens")
        let events = try await log.wait(for: 2, seconds: 15)
        #expect(events.map(\.note.id) == [before.note.id, after.note.id])
        await one.close()
        await two.close()
    }
}

@Suite("PostgreSQL group commit", .serialized)
struct PostgresGroupTests {
    func deposit(_ body: String, after: [String] = [], tags: [String] = [], strength: Double = 1) throws -> PendingWrite {
        PendingWrite(write: .deposit(Deposit(body: body, ns: "default", tags: tags, after: try after.map { try prefix($0) },
                                             strength: strength, force: false)), writer: Writer(agent: "ant"))
    }

    /// A group committed as one transaction, straight through the engine's applier.
    func commit(_ db: ScratchDatabase, _ group: [PendingWrite]) async throws -> [Result<WriteOutcome, TrailError>] {
        try await committed(db, group).map { $0.map(\.outcome) }
    }

    func committed(_ db: ScratchDatabase, _ group: [PendingWrite]) async throws -> [Result<Committed, TrailError>] {
        let store = try await blocking { try db.store() }
        await store.close()
        return try await blocking {
            let session = BlockingSession(connector: PostgresConnector(location: db.location))
            defer { session.close() }
            return PostgresCommit(session: session, daemon: "test").commit(group)
        }
    }

    @Test("each write watchers hear of is answered with its own log row's seq, with or without savepoints")
    func loggedSeqs() async throws {
        let db = try ScratchDatabase()
        for refused in [false, true] {
            var group = [try deposit("one \(refused)"), try deposit("two \(refused)")]
            if refused { group.insert(try deposit("three", after: ["deadbeefdeadbeef"]), at: 1) }
            group.append(PendingWrite(write: .reinforce(id: try prefix(NoteID(body: "one \(refused)").hex), ns: "default", delta: 1),
                                      writer: Writer()))
            let results = try await committed(db, group)
            let seqs = results.compactMap { try? $0.get().seq }
            #expect(seqs.count == 3)
            let logged = try db.rows("SELECT seq, op FROM write_log WHERE seq = ANY('{\(seqs.map(String.init).joined(separator: ","))}'::int8[]) ORDER BY seq")
                .map { (try $0[0].decode(Int64.self), try $0[1].decode(String.self)) }
            #expect(logged.map(\.0) == seqs)
            #expect(logged.map(\.1) == ["deposit", "deposit", "reinforce"])
        }
    }

    @Test("a group's new notes go in one insert and each deposit still sees the writes before it")
    func batchedDeposits() async throws {
        let db = try ScratchDatabase()
        let a = NoteID(body: "alpha"), b = NoteID(body: "beta")
        let results = try await commit(db, [
            try deposit("alpha", tags: ["x"]), try deposit("beta", strength: 2), try deposit("alpha", tags: ["y"], strength: 3),
            PendingWrite(write: .link(from: try prefix(a.hex), to: try prefix(b.hex), ns: "default", delta: 1), writer: Writer()),
            try deposit("gamma", after: [b.hex]),
        ])
        let outcomes = try results.map { try $0.get() }
        guard case let .deposited(first, true) = outcomes[0], case let .deposited(second, true) = outcomes[1],
              case let .deposited(again, false) = outcomes[2], case .linked = outcomes[3], case let .deposited(third, true) = outcomes[4] else {
            Issue.record("unexpected outcomes \(outcomes)")
            return
        }
        #expect(first.id == a && abs(first.weight - 1) < 1e-9 && first.agent == "ant")
        #expect(second.id == b && abs(second.weight - 2) < 1e-9)
        #expect(again.deposits == 2 && abs(again.weight - 4) < 1e-6 && again.tags == ["x", "y"])
        #expect(third.after == [b])
        let rows = try db.rows("SELECT id, deposits, tags FROM note ORDER BY seq").map {
            "\(try $0[0].decode(String.self).prefix(4)) \(try $0[1].decode(Int64.self)) \(try $0[2].decode(String.self))"
        }
        #expect(rows == ["\(a.hex.prefix(4)) 2 x y", "\(b.hex.prefix(4)) 1 ", "\(NoteID(body: "gamma").hex.prefix(4)) 1 "])
        let tags = try db.rows("SELECT count(*) FROM note_tag")[0][0].decode(Int64.self)
        #expect(tags == 2)
        let log = try db.rows("SELECT op FROM write_log ORDER BY seq").map { try $0[0].decode(String.self) }
        #expect(log == ["deposit", "deposit", "redeposit", "link", "deposit"])
    }

    @Test("a deposit named by an earlier write of its group is not inserted ahead of it")
    func earlierWriteNamesIt() async throws {
        let db = try ScratchDatabase()
        let x = NoteID(body: "later")
        let results = try await commit(db, [
            PendingWrite(write: .reinforce(id: try prefix(String(x.hex.prefix(12))), ns: "default", delta: 5), writer: Writer()),
            try deposit("later"),
        ])
        guard case .failure(.unknownNote) = results[0], case let .success(.deposited(note, true)) = results[1] else {
            Issue.record("unexpected results \(results)")
            return
        }
        #expect(abs(note.weight - 1) < 1e-9)
        #expect(try db.rows("SELECT deposits FROM note")[0][0].decode(Int64.self) == 1)
    }

    @Test("a body over the limit in a group is refused alone; the others commit")
    func tooLargeInGroup() async throws {
        let db = try ScratchDatabase()
        let results = try await commit(db, [try deposit("small"), try deposit(String(repeating: "x", count: 5000)), try deposit("also small")])
        #expect((try? results[0].get()) != nil && (try? results[2].get()) != nil)
        guard case .failure(.noteTooLarge) = results[1] else {
            Issue.record("expected note_too_large, got \(results[1])")
            return
        }
        #expect(try db.rows("SELECT count(*) FROM note")[0][0].decode(Int64.self) == 2)
    }
}

@Suite("PostgreSQL search text")
struct SearchTextTests {
    @Test("ASCII goes as it is; accents are folded and U+0000 becomes a space")
    func folding() {
        #expect(SearchText.of("plain ascii, with punctuation!") == "plain ascii, with punctuation!")
        #expect(SearchText.of("caf\u{e9} na\u{ef}ve") == "cafe naive")
        #expect(SearchText.of("a\u{0}b") == "a b")
        #expect(SearchText.of("\u{0}") == " ")
        #expect(SearchText.query(["Caf\u{e9}", "walls"]) == "'cafe' | 'walls'")
    }
}
