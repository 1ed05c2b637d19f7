import Foundation
import Testing
import TrailCompactor
import TrailCore
@testable import TrailStore

@Suite("Archive packs and compaction")
struct ArchiveTests {
    @Test("a pack gives every record back byte for byte")
    func packRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trail-pack-\(UUID().uuidString)").path
        let packs = ArchivePacks(directory: dir)
        let other = NoteID(body: "x").hex
        var notes: [ArchivedNote] = []
        for i in 0..<500 {
            let body: String = "note \(i) \u{0} é 🐜 " + String(repeating: "x", count: i % 300)
            let agent: String? = i % 2 == 0 ? nil : "ant"
            notes.append(ArchivedNote(
                id: NoteID(body: body).hex, seq: Int64(i), body: body, tags: ["t\(i % 5)"], after: [],
                weight: Double(i) / 1000, archivedAt: 1e9, deposits: 1, agent: agent, rank: nil, createdAt: 1,
                updatedAt: 2, trailsOut: [ArchivedNote.Trail(id: other, weight: 0.5)], trailsIn: []))
        }
        let written = try packs.write(notes, name: "p.zst")
        #expect(written.entries.count == 500)
        #expect(written.packed < written.raw)
        #expect(Set(written.entries.map { $0.offset }).count > 1)  // several frames
        for (note, entry) in zip(notes, written.entries) where note.seq % 37 == 0 {
            #expect(try packs.read(id: note.id, pack: "p.zst", offset: entry.offset, length: entry.length) == note)
        }
        #expect(packs.files() == ["p.zst"])
    }

    @Test("compaction evaporates faded notes, keeps them readable, and revives them")
    func compaction() async throws {
        let f = try Fixture()
        _ = try await f.store.write(.configure(NamespaceChange(ns: "fast", halfLife: 1)), by: Writer())
        let strong = try await f.deposit("strong", ns: "fast", strength: 100).note.id
        var faint: [NoteID] = []
        for i in 0..<25 {
            faint.append(try await f.deposit("faint \(i)", ns: "fast", after: [strong.hex], strength: 0.1).note.id)
        }
        f.clock.advance(2)
        var settings = CompactorSettings()
        settings.batch = 10
        let reports = try await Compactor(store: f.store, settings: settings).compact(ns: "fast")
        #expect(reports.first?.evaporated == 25)
        let summary = try await f.store.summary(ns: "fast")
        #expect(summary.counts.archived == 25 && summary.counts.live == 1 && summary.counts.edges == 0)
        let packFiles = f.store.packs.files()
        #expect(packFiles.count == 3)
        let archived = try await f.store.get(IDPrefix(faint[4].hex, field: "id"), ns: "fast")
        #expect(archived.note.state == .archived && archived.note.body == "faint 4")
        #expect(archived.trails == [TrailLink(other: strong, weight: archived.trails[0].weight, direction: .backward)])
        _ = try await f.store.write(.revive(id: IDPrefix(faint[4].hex, field: "id"), ns: "fast"), by: Writer())
        let back = try await f.store.follow(FollowQuery(from: IDPrefix(strong.hex, field: "id"), ns: "fast"))
        #expect(back.steps.map(\.to) == [faint[4]])
        #expect(try await f.store.lastCompaction(ns: "fast")?.evaporated == 25)
    }

    @Test("a pack file no index names is swept; a used one stays")
    func sweep() async throws {
        let f = try Fixture()
        let orphan = f.store.packs.path("orphan.zst")
        try FileManager.default.createDirectory(atPath: f.store.packs.directory, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: orphan, contents: Data([1, 2, 3])))
        #expect(FileManager.default.createFile(atPath: orphan + ".tmp", contents: Data([1])))
        guard case let .swept(removed) = try await f.store.write(.sweepPacks, by: Writer()) else {
            Issue.record("not a sweep")
            return
        }
        #expect(removed == 1)
        #expect(!FileManager.default.fileExists(atPath: orphan))
        #expect(!FileManager.default.fileExists(atPath: orphan + ".tmp"))
    }
}

@Suite("Full-text index and evaporation")
struct TextIndexTests {
    func record(_ body: String, weight: Double) -> NoteRecord {
        NoteRecord(note: Note(id: NoteID(body: body), ns: "t", body: body, tags: [], after: [], weight: weight, rank: nil,
                              deposits: 1, agent: nil, state: .live, createdAtMillis: 0, updatedAtMillis: 0, retraction: nil),
                   trails: [])
    }

    @Test("entries left behind are never found, are rebuilt away, and revival indexes the note once")
    func leftBehind() async throws {
        let f = try Fixture()
        var records = (0..<10_400).map { record("faded pebble \($0)", weight: 0.01) }
        records += (0..<20).map { record("bright pebble \($0)", weight: 5) }
        for start in stride(from: 0, to: records.count, by: 1000) {
            _ = try await f.store.write(.restore(ns: "t", records: Array(records[start..<min(start + 1000, records.count)])), by: Writer())
        }
        let reports = try await Compactor(store: f.store).compact(ns: "t")
        #expect(reports[0].evaporated == 10_400)
        let left = try await f.store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM text_left_behind") }
        #expect(left == 0)  // 10,400 >= 10,000 and > 4 x 20: rebuilt
        #expect(try await f.store.sense(SenseQuery(ns: "t", words: ["pebble"], limit: 100)).count == 20)
        let id = NoteID(body: "faded pebble 7")
        _ = try await f.store.write(.revive(id: IDPrefix(id.hex, field: "id"), ns: "t"), by: Writer())
        let found = try await f.store.sense(SenseQuery(ns: "t", words: ["faded"], limit: 100))
        #expect(found.map(\.note.id) == [id])
    }

    @Test("below the rebuild threshold a revived note's old entry is replaced, not doubled")
    func replaced() async throws {
        let f = try Fixture()
        let records = (0..<50).map { record("dim stone \($0)", weight: 0.01) } + [record("lit stone", weight: 5)]
        _ = try await f.store.write(.restore(ns: "t", records: records), by: Writer())
        _ = try await Compactor(store: f.store).compact(ns: "t")
        let left = try await f.store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM text_left_behind") }
        #expect(left == 50)
        #expect(try await f.store.sense(SenseQuery(ns: "t", words: ["dim"], limit: 100)).isEmpty)
        let id = NoteID(body: "dim stone 3")
        _ = try await f.store.write(.revive(id: IDPrefix(id.hex, field: "id"), ns: "t"), by: Writer())
        #expect(try await f.store.sense(SenseQuery(ns: "t", words: ["dim"], limit: 100)).map(\.note.id) == [id])
        // Evaporate it again and bring it back: still exactly one entry.
        _ = try await f.store.write(.reinforce(id: IDPrefix(id.hex, field: "id"), ns: "t", delta: -1), by: Writer())
        _ = try await Compactor(store: f.store).compact(ns: "t")
        _ = try await f.store.write(.revive(id: IDPrefix(id.hex, field: "id"), ns: "t"), by: Writer())
        #expect(try await f.store.sense(SenseQuery(ns: "t", words: ["dim"], limit: 100)).map(\.note.id) == [id])
    }
}
