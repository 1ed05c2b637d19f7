import Testing
import TrailCore
@testable import TrailStore

@Suite("Archive frames")
struct ArchiveFramesTests {
    /// Records whose bodies differ (so zstd cannot fold them into nothing),
    /// each with a trail, `count` of them.
    static func records(_ count: Int) -> [ArchivedNote] {
        (0..<count).map { i in
            let body = "note \(i): " + String(repeating: "\(i * 7919 % 1000) ", count: 40)
            return ArchivedNote(id: NoteID(body: body).hex, seq: Int64(i + 1), body: body, tags: ["t\(i % 5)"], after: [],
                                weight: 0.01, archivedAt: 1_700_000_000, deposits: 1, agent: i % 2 == 0 ? "a" : nil,
                                rank: nil, createdAt: 1, updatedAt: 2,
                                trailsOut: [.init(id: NoteID(body: "other \(i)").hex, weight: 0.5)], trailsIn: [])
        }
    }

    @Test("a pack of many times the blocks compressed at once gives back every record, in order, from its frame")
    func manyBlocks() throws {
        let notes = Self.records(20_000)
        let (frames, firstRecord, raw) = try ArchiveFrames.frames(notes)
        // More blocks than are compressed at once, so several rounds ran.
        #expect(frames.count > 3 * ArchiveFrames.blocksAtOnce)
        #expect(frames.count == raw.count && firstRecord.count == frames.count + 1)
        #expect(firstRecord.first == 0 && firstRecord.last == notes.count)
        for b in frames.indices {
            let records = try ArchiveFrames.records(in: frames[b], source: "frame \(b)")
            #expect(records == Array(notes[firstRecord[b]..<firstRecord[b + 1]]))
            #expect(raw[b] >= ArchiveFrames.blockBytes || b == frames.count - 1)
        }
    }

    @Test("no records make no frames; fewer than a block make one")
    func fewRecords() throws {
        let none = try ArchiveFrames.frames([])
        #expect(none.frames.isEmpty && none.firstRecord == [0] && none.raw.isEmpty)
        let three = Self.records(3)
        let some = try ArchiveFrames.frames(three)
        #expect(some.frames.count == 1 && some.firstRecord == [0, 3])
        #expect(try ArchiveFrames.records(in: some.frames[0], source: "frame") == three)
    }
}
