import ArgumentParser
import TrailClient

struct Link: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Strengthen the trail from one note to another.",
        discussion: """
        A trail says "an agent went from this note to that one"; its weight decays like a \
        note's. The two notes must differ and neither may be archived or retracted. A \
        negative --delta weakens the trail (never below 0).

        Example:
          trailctl link 3f2a9c1b 7e9e825f --delta 0.5
        """)

    @Argument(help: ArgumentHelp("Where the trail starts.", valueName: "from"))
    var from: String

    @Argument(help: ArgumentHelp("Where it leads.", valueName: "to"))
    var to: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Weight to add to the trail (default 1.0).", valueName: "d"))
    var delta: Double?

    @OptionGroup var writer: AgentOption
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.perform(LinkRequest(from: from, to: to, ns: global.ns, delta: delta, agent: writer.resolved)) { l, p in
            ["\(p.paint("linked", .green))  \(p.paint(Format.id(l.from), .cyan)) -> \(p.paint(Format.id(l.to), .cyan))  weight \(p.paint(Format.weight(l.weight), .bold))"]
        }
    }
}
