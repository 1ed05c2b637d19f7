import ArgumentParser
import Foundation
import TrailClient
import TrailProtocol
import TrailZstd

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every note of a namespace to a zstd-compressed NDJSON file.",
        discussion: """
        Every note in every state (live, faded, retracted, archived) with its tags, after-notes, \
        weight, deposits, agent, rank, retraction and outgoing trails, read in pages with \
        trail.export. The file is NDJSON compressed with zstd: a header line \
        {"trail_export": 1, "ns", "exported_at", "settings"}, one record per line, and an end \
        line {"end": true, "records": N, "crc32"} so a truncated or damaged file is always \
        detected. Read it with \
        `zstd -dc FILE`; restore it with `trailctl import`.

        Weights are taken at export time; a namespace keeps decaying while it is read. With -o \
        the file appears only once complete. A progress line is shown on a terminal.

        Examples:
          trailctl --ns colony-7 export -o colony-7.ndjson.zst
          trailctl export | ssh other-host trailctl import --into backup
        """)

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(
        "The file to write (default: stdout, which must not be a terminal).", valueName: "file"))
    var output: String?

    @Option(name: .customLong("page-size"), help: ArgumentHelp("Records per trail.export page (1 to 1000).", valueName: "n"))
    var pageSize: Int = 500

    @Option(help: ArgumentHelp("zstd compression level (1 to 19).", valueName: "n"))
    var level: Int32 = 3

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...1000).contains(pageSize) else { throw ValidationError("--page-size must be from 1 to 1000.") }
        guard (1...19).contains(level) else { throw ValidationError("--level must be from 1 to 19.") }
    }

    func run() async throws {
        if output == nil || output == "-", Terminal.stdoutIsTTY {
            throw CtlFailure.usage("refusing to write compressed data to a terminal; give -o FILE or redirect stdout.")
        }
        let ns = global.ns ?? "default"
        let file = try OutputFile(path: output)
        let progress = ProgressLine()
        var records = 0
        var exportedAt = ""
        do {
            let compressor = ZstdCompressor(level: level)
            var checksum = CRC32()
            try await global.withConnection { c in
                var wroteHeader = false
                for try await page in c.exportPages(ns: ns, pageSize: pageSize) {
                    var chunk: [UInt8] = []
                    if !wroteHeader {
                        exportedAt = page.exportedAt
                        chunk += ExportArchive.headerLine(.init(ns: page.ns, exportedAt: page.exportedAt, settings: page.settings))
                        wroteHeader = true
                    }
                    for r in page.records { chunk += ExportArchive.recordLine(r) }
                    records += page.records.count
                    checksum.update(chunk)
                    try file.write(try compressor.feed(chunk))
                    if page.cursor != nil { progress.show("exporting \(ns): \(records) notes, \(Format.bytes(file.written))") }
                }
            }
            try file.write(try compressor.feed(ExportArchive.endLine(records: records, checksum: checksum)))
            try file.write(try compressor.finish())
            try file.commit()
            progress.clear()
        } catch let error as ZstdError {
            progress.clear()
            file.abandon()
            throw CtlFailure.failed("compression failed: \(error)")
        } catch {
            progress.clear()
            file.abandon()
            throw error
        }
        report(ns: ns, records: records, exportedAt: exportedAt, file: file)
    }

    /// The summary goes to stdout when the data went to a file, else to stderr (on a terminal only).
    func report(ns: String, records: Int, exportedAt: String, file: OutputFile) {
        if global.json, !file.isStdout {
            global.printJSON(.object(["ns": .string(ns), "records": .int(records), "exported_at": .string(exportedAt),
                                      "file": .string(file.name), "bytes": .int(file.written)]))
            return
        }
        let text = "exported \(records) notes of \(ns) to \(file.name) (\(Format.bytes(file.written)) compressed)"
        if !file.isStdout {
            Terminal.printOut(text)
        } else if Terminal.stderrIsTTY {
            Terminal.write(text + "\n", to: STDERR_FILENO)
        }
    }
}
