import TrailClient
import TrailCore
import TrailProtocol
import TrailZstd

/// An export file through `ExportArchive.read`, as `trailctl import` reads it.
/// - Input starting with zstd's magic is decompressed first (as trailctl
///   does, in slices; reading stops past 8 MiB of output so a bomb does not
///   make the fuzzer run out of memory).
/// - Input starting with the byte 0x01 is plain NDJSON that the harness
///   repairs before reading: each record's `id` is set to the SHA-256 of its
///   body and the end line's `crc32` to the file's checksum, so that mutations
///   reach the checks behind those two.
/// - Anything else is read as plain NDJSON.
/// A file that reads is written out again line by line and must read back to
/// the same notes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExport(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) {
        guard let plain = decompress(bytes) else { return 0 }
        bytes = plain
    } else if bytes.first == 0x01 {
        bytes = repaired(Array(bytes.dropFirst()))
    }
    guard let contents = try? ExportArchive.read(bytes) else { return 0 }
    _ = try? ExportArchive.read(bytes, into: "fuzz-other")
    precondition(contents.records.count == contents.notes.count, "records and notes differ in count")
    for record in contents.notes {
        precondition(record.note.id == NoteID(body: record.note.body), "a note read whose id is not its body's")
    }
    // Write the notes out as `trailctl export` does and read them again.
    var file = ExportArchive.headerLine(contents.header)
    var checksum = CRC32()
    checksum.update(file)
    for note in contents.notes {
        let line = ExportArchive.recordLine(Wire.record(note))
        checksum.update(line)
        file += line
    }
    file += ExportArchive.endLine(records: contents.notes.count, checksum: checksum)
    let again: ExportArchive.Contents
    do {
        again = try ExportArchive.read(file)
    } catch {
        fatalError("an export written from notes read does not read back: \(error)")
    }
    precondition(again.notes == contents.notes, "export, read, export, read changed the notes")
    return 0
}

func decompress(_ bytes: [UInt8]) -> [UInt8]? {
    let stream = ZstdDecompressor()
    var out: [UInt8] = []
    var offset = 0
    do {
        while offset < bytes.count {
            let end = min(bytes.count, offset + 1024)
            out += try stream.feed(Array(bytes[offset..<end]))
            guard out.count <= 8 << 20 else { return nil }
            offset = end
        }
        out += try stream.finish()
    } catch {
        return nil
    }
    return out
}

/// Sets each record line's `id` to its body's and the end line's `crc32` to
/// the checksum of the lines before it; lines that are not JSON objects stay.
func repaired(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var checksum = CRC32()
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
        var text = Array(line)
        if case var .object(o)? = try? JSONReader.parse(line) {
            if o["end"] != nil {
                o["crc32"] = .string(checksum.hex)
            } else if case let .string(body)? = o["body"] {
                o["id"] = .string(NoteID(body: body).hex)
            }
            text = JSONWriter.bytes(.object(o))
        }
        text.append(UInt8(ascii: "\n"))
        checksum.update(text)
        out += text
    }
    if let last = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).last { out += last }
    return out
}
