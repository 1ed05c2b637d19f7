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
