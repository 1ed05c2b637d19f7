import ArgumentParser
import Foundation
import TrailClient
import TrailCore
import TrailProtocol
import TrailZstd

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore notes, states and trails from a `trailctl export` file.",
        discussion: """
        Reads the whole file first and checks it: the zstd frame, the header, every record (its \
        id must be the SHA-256 of its body), and the end line's count and checksum. A corrupt \
        or truncated file is refused before anything is sent, and nothing changes.

        The records then go to trail.import in chunks held by the daemon (staged) and applied \
        together, in one transaction, with the last one: an import is all or nothing. It is a \
        restore, not a deposit: each note takes the file's weight, deposits, tags, state and \
        retraction, so importing the same file twice changes nothing.

        The target is --into, else --ns, else the namespace the file came from. A namespace \
        that does not exist yet is created with the exported settings (half-life, \
        evaporate-below, max-note-bytes); an existing one keeps its own.

        With --json, prints the daemon's answer to the final trail.import: {"ns", "notes", \
        "created", "trails"}.

        Examples:
          trailctl import colony-7.ndjson.zst
          trailctl import colony-7.ndjson.zst --into colony-7-copy
          ssh old-host trailctl export --ns colony-7 | trailctl import --into colony-7
        """)

    @Argument(help: ArgumentHelp("The export file; - or nothing reads stdin.", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("The namespace to restore into.", valueName: "name"))
    var into: String?

    @Option(name: .customLong("chunk-records"), help: ArgumentHelp("Most records per trail.import call (1 to 1000).", valueName: "n"))
    var chunkRecords: Int = 1000

    @OptionGroup var writer: AgentOption
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...1000).contains(chunkRecords) else { throw ValidationError("--chunk-records must be from 1 to 1000.") }
    }

    func run() async throws {
        let source = file ?? "-"
        if source == "-", Terminal.stdinIsTTY {
            throw CtlFailure.usage("give the export file to import, or pipe it on stdin.")
        }
        let name = source == "-" ? "stdin" : source
        let text = try Self.decompress(try Self.readAll(source), name: name)
        let contents: ExportArchive.Contents
        do {
            contents = try ExportArchive.read(text, into: into ?? global.ns)
        } catch {
            throw CtlFailure.failed("\(name) is not a sound trail export: \(error); nothing was imported.")
        }
        let target = into ?? global.ns ?? contents.header.ns
        let result = try await global.withConnection { c in try await restore(contents, into: target, over: c) }
        if global.json {
            global.printJSON(result.raw)
            return
        }
        let p = Painter.forStdout
        var line = "\(p.paint("imported", .green)) \(result.notes) notes into \(p.paint(target, .bold)): \(result.created) new, \(result.trails) trails"
        if result.createdNamespace { line += ", namespace created with the exported settings" }
        Terminal.printOut(line)
    }

    struct Outcome {
        var raw: JSONValue
        var notes: Int
        var created: Int
        var trails: Int
        var createdNamespace: Bool
    }

    /// Sends the records in staged chunks and commits them with the last.
    func restore(_ contents: ExportArchive.Contents, into target: String, over c: TrailConnection) async throws -> Outcome {
        let hello = try await c.send(HelloRequest(client: "trailctl import"))
        let existing = try await c.send(ListNamespacesRequest())
        let isNew = !existing.contains { $0.name == target }
        if isNew {
            // Nothing in the namespace yet, so every trail must lead to a note of the file.
            let ids = Set(contents.notes.map(\.note.id))
            for (n, r) in contents.notes.enumerated() {
                if let t = r.trails.first(where: { !ids.contains($0.to) }) {
                    throw CtlFailure.failed("line \(n + 2): a trail leads to note \(t.to.hex.prefix(12)), which is not in the file; nothing was imported.")
                }
            }
        }
        let chunks = try chunk(contents.records, frameLimit: hello.maxFrameBytes, ns: target)
        let stage = "trailctl-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let progress = ProgressLine()
        var sent = 0
        for chunk in chunks.dropLast() {
            let request = ImportRequest(ns: target, records: chunk, stage: stage, commit: false, agent: writer.resolved)
            // A staged chunk is checked on its own: its records count from 0.
            _ = try await refusedLines(offset: sent) { try await c.send(request) }
            sent += chunk.count
            progress.show("importing into \(target): \(sent) of \(contents.records.count) notes checked")
        }
        progress.clear()
        if isNew {
            let s = contents.header.settings
            _ = try await c.send(ConfigureRequest(ns: target, halfLife: s.halfLife, evaporateBelow: s.evaporateBelow, maxNoteBytes: s.maxNoteBytes,
                                                  contestSimilarity: s.contestSimilarity))
        }
        guard let last = chunks.last else {
            let raw: JSONValue = .object(["ns": .string(target), "notes": 0, "created": 0, "trails": 0])
            return Outcome(raw: raw, notes: 0, created: 0, trails: 0, createdNamespace: isNew)
        }
        let request = ImportRequest(ns: target, records: last, stage: stage, commit: true, agent: writer.resolved)
        // The commit applies everything held: its records count from the first of the file.
        let raw = try await refusedLines(offset: 0) { try await c.call(request) }
        let imported: Imported
        do { imported = try request.decode(raw) } catch { throw TrailClientError.protocolViolation(error.description) }
        return Outcome(raw: raw, notes: imported.notes, created: imported.created, trails: imported.trails, createdNamespace: isNew)
    }

    /// Runs one trail.import call; when the daemon refuses a record
    /// (`data.field` is `records[N]...`), says which line of the file it is.
    func refusedLines<T>(offset: Int, _ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let TrailClientError.rpc(code, message, data) {
            guard let field = data["field"]?.string, field.hasPrefix("records["),
                  let close = field.firstIndex(of: "]"),
                  let n = Int(field[field.index(field.startIndex, offsetBy: 8)..<close]) else {
                throw TrailClientError.rpc(code: code, message: message, data: data)
            }
            throw CtlFailure.failed("line \(offset + n + 2) of the file was refused: \(message) Nothing was imported.")
        }
    }

    /// Splits the records so that each call holds at most `chunkRecords` of
    /// them and its line stays under the daemon's frame limit.
    func chunk(_ records: [JSONValue], frameLimit: Int, ns: String) throws -> [[JSONValue]] {
        // The request around the records: method, ns, stage, commit, agent, id.
        let budget = frameLimit - 1024 - ns.utf8.count - (writer.resolved?.utf8.count ?? 0)
        var chunks: [[JSONValue]] = []
        var current: [JSONValue] = []
        var size = 0
        for (n, r) in records.enumerated() {
            let bytes = JSONWriter.bytes(r).count + 1
            guard bytes <= budget else {
                throw CtlFailure.failed("line \(n + 2): the record is \(bytes) bytes, more than one request to this daemon may carry (its frame limit is \(frameLimit)); raise max_frame_bytes in traild's config. Nothing was imported.")
            }
            if current.count == chunkRecords || size + bytes > budget {
                chunks.append(current)
                current = []
                size = 0
            }
            current.append(r)
            size += bytes
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }

    static func readAll(_ source: String) throws -> [UInt8] {
        if source == "-" { return [UInt8](FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: source) else {
            let why = FileManager.default.fileExists(atPath: source) ? "it cannot be read" : "there is no such file"
            throw CtlFailure.failed("cannot read \(source): \(why).")
        }
        return [UInt8](data)
    }

    /// The whole uncompressed text; a corrupt or truncated frame is refused.
    static func decompress(_ bytes: [UInt8], name: String) throws -> [UInt8] {
        guard !bytes.isEmpty else { throw CtlFailure.failed("\(name) is empty; nothing was imported.") }
        let stream = ZstdDecompressor()
        var out: [UInt8] = []
        do {
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + (1 << 20))
                out += try stream.feed(Array(bytes[offset..<end]))
                offset = end
            }
            out += try stream.finish()
        } catch {
            throw CtlFailure.failed("\(name) is not a sound trail export: zstd says \(error) (a corrupt or truncated file); nothing was imported.")
        }
        return out
    }
}
