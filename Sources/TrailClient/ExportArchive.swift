import TrailCore
import TrailProtocol

/// A refused export file: what is wrong and, when it is about one line, which.
public struct ExportArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line of the uncompressed text, nil for the file as a whole.
    public var line: Int?
    public var message: String

    public init(line: Int?, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// The export file format: NDJSON (one JSON text per line), which trailctl
/// compresses with zstd.
///
/// ```
/// {"trail_export": 1, "ns": "colony", "exported_at": "...", "settings": {"half_life_s": ..., ...}}
/// {"id": "...", "body": "...", ...}          one line per record, as trail.export sent it
/// {"end": true, "records": 9, "crc32": "1c291ca3"}
/// ```
///
/// The end line makes truncation visible even when the cut falls on a line
/// boundary inside a valid zstd frame: a file without it, or whose count
/// disagrees, is refused. Its `crc32` covers every byte before it, so damage
/// that still parses (a digit changed in a weight) is refused too.
public enum ExportArchive {
    /// The version this client writes and reads.
    public static let formatVersion = 1

    /// The first line of a file.
    public struct Header: Sendable {
        public var ns: String
        public var exportedAt: String
        public var settings: NamespaceConfig

        public init(ns: String, exportedAt: String, settings: NamespaceConfig) {
            self.ns = ns
            self.exportedAt = exportedAt
            self.settings = settings
        }

        public var json: JSONValue {
            .object(["trail_export": .int(formatVersion), "ns": .string(ns), "exported_at": .string(exportedAt),
                     "settings": .object(settings.params)])
        }
    }

    /// A file read and checked in full.
    public struct Contents: Sendable {
        public var header: Header
        /// The records as written, ready to send to `trail.import`.
        public var records: [JSONValue]
        /// The same records, read and checked the way the daemon checks them.
        public var notes: [NoteRecord]
    }

    public static func headerLine(_ header: Header) -> [UInt8] { line(header.json) }

    public static func recordLine(_ record: JSONValue) -> [UInt8] { line(record) }

    /// The last line; `checksum` has seen every byte written before it.
    public static func endLine(records: Int, checksum: CRC32) -> [UInt8] {
        line(.object(["end": true, "records": .int(records), "crc32": .string(checksum.hex)]))
    }

    static func line(_ value: JSONValue) -> [UInt8] {
        var bytes = JSONWriter.bytes(value)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Reads and checks a whole uncompressed file: the header, every record
    /// (its id is the SHA-256 of its body, its fields are valid, no id
    /// twice), and the end line with the right count, nothing after it.
    /// `ns` is the namespace the records are meant for (nil: the one the
    /// header names). Costs one pass and one SHA-256 per record. Throws
    /// `ExportArchiveError` naming the line.
    public static func read(_ bytes: [UInt8], into ns: String? = nil) throws(ExportArchiveError) -> Contents {
        guard !bytes.isEmpty else { throw ExportArchiveError(line: nil, message: "the file is empty") }
        guard bytes.last == UInt8(ascii: "\n") else {
            throw ExportArchiveError(line: nil, message: "the file ends in the middle of a line: it is truncated")
        }
        var header: Header?
        var records: [JSONValue] = []
        var notes: [NoteRecord] = []
        var seen: [NoteID: Int] = [:]
        var ended = false
        var lineNumber = 0
        var start = 0
        var checksum = CRC32()
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") {
            lineNumber += 1
            let slice = bytes[start..<i]
            let lineStart = start
            start = i + 1
            guard !ended else {
                throw ExportArchiveError(line: lineNumber, message: "there is text after the end line")
            }
            let value: JSONValue
            do {
                value = try JSONReader.parse(slice)
            } catch {
                throw ExportArchiveError(line: lineNumber, message: "not JSON (\(error)): the file is corrupt")
            }
            if header == nil {
                header = try readHeader(value)
                checksum.update(bytes[lineStart...i])
                continue
            }
            if value["end"] != nil {
                guard value["end"] == .bool(true), let count = value["records"]?.number else {
                    throw ExportArchiveError(line: lineNumber, message: "the end line should be {\"end\": true, \"records\": N}")
                }
                // Compared as numbers: a count like 1e300 must be refused, not trap on its way to an Int.
                guard count == Double(records.count) else {
                    let written = String(decoding: JSONWriter.bytes(value["records"] ?? .null), as: UTF8.self)
                    throw ExportArchiveError(line: lineNumber, message: "the end line counts \(written) records but the file holds \(records.count): it is damaged")
                }
                guard value["crc32"]?.string == checksum.hex else {
                    throw ExportArchiveError(line: lineNumber, message: "the checksum does not match the contents: the file is damaged")
                }
                ended = true
                continue
            }
            let record: NoteRecord
            do {
                record = try RecordReader.read(value, index: records.count, ns: ns ?? header?.ns ?? "default")
            } catch {
                throw ExportArchiveError(line: lineNumber, message: error.message)
            }
            if let first = seen[record.note.id] {
                throw ExportArchiveError(line: lineNumber, message: "note \(record.note.id.hex.prefix(12)) is already on line \(first)")
            }
            seen[record.note.id] = lineNumber
            checksum.update(bytes[lineStart...i])
            records.append(value)
            notes.append(record)
        }
        guard let header else { throw ExportArchiveError(line: nil, message: "the file has no header line") }
        guard ended else {
            throw ExportArchiveError(line: nil, message: "the end line is missing after \(records.count) records: the file is truncated")
        }
        return Contents(header: header, records: records, notes: notes)
    }

    static func readHeader(_ value: JSONValue) throws(ExportArchiveError) -> Header {
        guard let version = value["trail_export"]?.number else {
            throw ExportArchiveError(line: 1, message: "this is not a trail export (no trail_export header)")
        }
        guard version == Double(formatVersion) else {
            throw ExportArchiveError(line: 1, message: "export format \(version) is not one this trailctl reads (it reads \(formatVersion)); use a newer trailctl")
        }
        do {
            let o = try WireObject(value, path: "header")
            let ns = try o.string("ns")
            return Header(ns: ns, exportedAt: try o.string("exported_at"), settings: try NamespaceConfig(o.object("settings"), name: ns))
        } catch {
            throw ExportArchiveError(line: 1, message: "the header is damaged: \(error)")
        }
    }
}
