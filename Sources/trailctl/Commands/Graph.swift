import ArgumentParser
import Foundation
import TrailClient
import TrailCore
import TrailProtocol

enum GraphFormat: String, ExpressibleByArgument, CaseIterable {
    case dot, json, svg
}

struct Graph: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a namespace's trail graph as Graphviz DOT, SVG or JSON.",
        discussion: """
        Notes are nodes and trails are weighted directed edges, read with trail.export. A \
        node's pen width and font size, and an edge's pen width, grow with weight; faded notes \
        are dashed. --format dot (the default) prints DOT for Graphviz; --format svg runs \
        Graphviz's `dot -Tsvg` for you (install Graphviz first); --format json (or --json) \
        prints {"ns", "exported_at", "nodes": [{id, body, weight, rank, state, tags}], \
        "edges": [{from, to, weight}]}.

        Big graphs stay readable with --limit (the heaviest notes only, 200 by default; 0 for \
        all) and --min-weight (leave out lighter notes and trails). Live notes only (faded \
        ones included), unless --all-states adds retracted and archived notes.

        Examples:
          trailctl graph | dot -Tpng > trail.png
          trailctl --ns colony-7 graph --format svg --min-weight 0.2 -o colony-7.svg
          trailctl graph --json | jq '.edges | length'
        """)

    @Option(help: ArgumentHelp("dot, svg or json.", valueName: "format"))
    var format: GraphFormat = .dot

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The file to write (default: stdout).", valueName: "file"))
    var output: String?

    @Option(name: .customLong("min-weight"), help: ArgumentHelp("Leave out notes and trails lighter than this.", valueName: "w"))
    var minWeight: Double = 0

    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Keep the heaviest notes only (0: all).", valueName: "n"))
    var limit: Int = 200

    @Flag(name: .customLong("all-states"), help: "Also draw retracted and archived notes.")
    var allStates = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or more.") }
        guard minWeight >= 0, minWeight.isFinite else { throw ValidationError("--min-weight must be a weight of 0 or more.") }
    }

    func run() async throws {
        let format = global.json ? .json : self.format
        var dotPath: String?
        if format == .svg {
            guard let found = Self.findExecutable("dot") else {
                throw CtlFailure.failed("--format svg runs Graphviz's dot, which is not installed (no dot in PATH); install Graphviz (apt-get install graphviz, brew install graphviz) or use --format dot.")
            }
            dotPath = found
        }
        let ns = global.ns ?? "default"
        let graph = try await global.withConnection { c in
            var records: [NoteRecord] = []
            var exportedAt: String?
            var evaporateBelow = 0.0
            for try await page in c.exportPages(ns: ns, pageSize: 1000) {
                if exportedAt == nil {
                    exportedAt = page.exportedAt
                    evaporateBelow = page.settings.evaporateBelow
                }
                for value in page.records {
                    do throws(TrailError) {
                        records.append(try RecordReader.read(value, index: records.count, ns: ns))
                    } catch {
                        throw TrailClientError.protocolViolation("trail.export sent a bad record: \(error.message)")
                    }
                }
            }
            let states: Set<NoteState> = allStates ? [.live, .retracted, .archived] : [.live]
            return TrailGraph(ns: ns, exportedAt: exportedAt, records: records, evaporateBelow: evaporateBelow,
                              selection: .init(states: states, minWeight: minWeight, limit: limit == 0 ? nil : limit))
        }
        let bytes: [UInt8]
        switch format {
        case .dot: bytes = Array(graph.dot.utf8)
        case .json: bytes = JSONWriter.bytes(graph.json) + [UInt8(ascii: "\n")]
        case .svg: bytes = try Self.render(graph.dot, with: dotPath!)
        }
        let file = try OutputFile(path: output)
        try file.write(bytes)
        try file.commit()
    }

    /// The first executable `name` in PATH.
    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `dot -Tsvg` over temporary files (no pipe can fill up and stall it).
    static func render(_ dot: String, with executable: String) throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trailctl-graph-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw CtlFailure.failed("cannot make a temporary folder for dot (\(error.localizedDescription)).")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("graph.dot")
        let svg = dir.appendingPathComponent("graph.svg")
        let errors = dir.appendingPathComponent("dot.err")
        do {
            try Data(dot.utf8).write(to: input)
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["-Tsvg", "-o", svg.path, input.path]
            process.standardError = try FileHandle(forWritingTo: errors)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                let why = (try? String(contentsOf: errors, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                throw CtlFailure.failed("dot failed (exit \(process.terminationStatus))\(why.isEmpty ? "" : ": \(why)").")
            }
            return [UInt8](try Data(contentsOf: svg))
        } catch let failure as CtlFailure {
            throw failure
        } catch {
            throw CtlFailure.failed("cannot run dot (\(error.localizedDescription)).")
        }
    }
}
