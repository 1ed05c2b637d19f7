import ArgumentParser
import Foundation
import TrailClient

struct Namespace: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ns",
        abstract: "List namespaces, or create and configure one.",
        discussion: """
        A namespace is a colony: its notes, trails and settings are its own. Each has a \
        half-life (how fast weights halve), an evaporation threshold (below it a note is \
        faded, and the compactor archives it) and a largest note size.
        """,
        subcommands: [List.self, Configure.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every namespace with its settings and counts.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.perform(ListNamespacesRequest()) { list, p in
                var t = Table([.init(title: "NS"), .init(title: "HALF-LIFE", alignment: .right),
                               .init(title: "EVAPORATE", alignment: .right), .init(title: "MAX BYTES", alignment: .right),
                               .init(title: "NOTES", alignment: .right), .init(title: "LIVE", alignment: .right),
                               .init(title: "FADED", alignment: .right), .init(title: "ARCHIVED", alignment: .right),
                               .init(title: "RETRACTED", alignment: .right), .init(title: "TRAILS", alignment: .right)])
                for n in list {
                    t.add([.init(n.name, .bold), .init(Format.duration(n.config.halfLife)), .init(Format.weight(n.config.evaporateBelow)),
                           .init(String(n.config.maxNoteBytes)), .init(String(n.counts.notes)), .init(String(n.counts.live)),
                           .init(String(n.counts.faded)), .init(String(n.counts.archived)), .init(String(n.counts.retracted)),
                           .init(String(n.counts.edges))])
                }
                return t.render(p, width: nil)
            }
        }
    }

    struct Configure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a namespace or change its settings.",
            discussion: """
            Settings left out keep their value (a new namespace starts from the defaults: \
            half-life 7d, evaporate-below 0.05, max-note-bytes 4096). Changing the half-life \
            keeps every current weight and lets them decay at the new rate from now on.

            Durations are seconds, or a number with a unit: 90s, 15m, 12h, 7d, 2w.

            Examples:
              trailctl ns configure colony-7 --half-life 1h
              trailctl --ns colony-7 ns configure --evaporate-below 0.1 --max-note-bytes 8192
            """)

        @Argument(help: ArgumentHelp("The namespace (default: --ns, else default).", valueName: "name"))
        var name: String?

        @Option(name: .customLong("half-life"), help: ArgumentHelp("How long a weight takes to halve (1s to 100 years).", valueName: "duration"))
        var halfLife: Seconds?

        @Option(name: .customLong("evaporate-below"), help: ArgumentHelp("Weight under which a note is faded (0 to 1e6).", valueName: "w"))
        var evaporateBelow: Double?

        @Option(name: .customLong("max-note-bytes"), help: ArgumentHelp("Largest body accepted, in UTF-8 bytes (1 to 65536).", valueName: "n"))
        var maxNoteBytes: Int?

        @Option(name: .customLong("contest-similarity"),
                help: ArgumentHelp("How close (cosine, 0 to 1) two notes that disagree on a decisive token must be to contest each other.", valueName: "x"))
        var contestSimilarity: Double?

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let ns = name ?? global.ns ?? "default"
            let request = ConfigureRequest(ns: ns, halfLife: halfLife?.value, evaporateBelow: evaporateBelow, maxNoteBytes: maxNoteBytes,
                                           contestSimilarity: contestSimilarity)
            try await global.perform(request) { c, p in
                var d = Details()
                d.add("namespace", c.name ?? ns, .bold)
                d.add("half-life", "\(Format.duration(c.halfLife)) (\(Int(c.halfLife))s)")
                d.add("evaporate below", Format.weight(c.evaporateBelow))
                d.add("max note bytes", String(c.maxNoteBytes))
                if let x = c.contestSimilarity { d.add("contest similarity", Format.weight(x)) }
                return d.render(p)
            }
        }
    }
}

/// A duration argument: seconds, or a number with a unit (s, m, h, d, w).
struct Seconds: ExpressibleByArgument {
    var value: Double

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        var number = Substring(text)
        var scale = 1.0
        if let last = text.last, let unit = units[last] {
            number = text.dropLast()
            scale = unit
        }
        guard let n = Double(number), n.isFinite, n > 0 else { return nil }
        value = n * scale
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
