import TrailCore
import TrailProtocol
import TrailStore
import TrailZstd

/// An archive pack (or one frame of one) through `ArchiveFrames`, the reader
/// every engine uses for an archived note (SQLite's pack files, PostgreSQL's
/// rows). The first byte chooses: even, the rest is the pack's bytes as
/// stored (zstd frames); odd, the rest is a frame's content, compressed here
/// first, so that mutations reach the record decoding behind zstd's checksum.
/// Records read must each be found by id and be shown as `get` shows an
/// archived note, and written again as a pack they must read back the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPack(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let pack: [UInt8]
    if data[0] & 1 == 0 {
        pack = payload
    } else {
        guard let frame = try? Zstd.compress(payload, level: 1) else { fatalError("zstd could not compress \(payload.count) bytes") }
        pack = frame
    }
    guard let notes = try? ArchiveFrames.records(in: pack, source: "fuzz") else { return 0 }
    for note in notes.prefix(8) {
        let found: ArchivedNote
        do {
            found = try ArchiveFrames.record(id: note.id, in: pack, source: "fuzz")
        } catch {
            fatalError("a record read from the pack is not found by its id: \(error)")
        }
        precondition(found == notes.first(where: { $0.id == note.id }), "record(id:) found another record")
        let settings = NamespaceSettings(name: "fuzz", landmark: 0)
        // As `get` answers for an archived note.
        let note = found.note(settings: settings, weight: found.decayed(found.weight, at: found.archivedAt + 60, halfLife: 604800))
        _ = JSONWriter.bytes(Wire.note(note))
    }
    // Written again (the writer turns a non-finite number into 0), the records read back the same.
    let written: [[UInt8]]
    do {
        written = try ArchiveFrames.frames(notes).frames
    } catch {
        fatalError("records read could not be written: \(error)")
    }
    let again: [ArchivedNote]
    do {
        again = try written.flatMap { frame in try ArchiveFrames.records(in: frame, source: "fuzz again") }
    } catch {
        fatalError("records written again do not read: \(error)")
    }
    precondition(again == notes.map(finite), "a pack written from records read reads back otherwise")
    return 0
}

func finite(_ note: ArchivedNote) -> ArchivedNote {
    func f(_ x: Double) -> Double { x.isFinite ? x : 0 }
    var n = note
    n.weight = f(n.weight)
    n.archivedAt = f(n.archivedAt)
    n.rank = n.rank.map(f)
    n.trailsOut = n.trailsOut.map { .init(id: $0.id, weight: f($0.weight)) }
    n.trailsIn = n.trailsIn.map { .init(id: $0.id, weight: f($0.weight)) }
    return n
}
