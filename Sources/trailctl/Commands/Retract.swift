import ArgumentParser
import TrailClient

struct Retract: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Withdraw a note, saying why.",
        discussion: """
        A retracted note keeps its weight and trails but is no longer sensed or followed; \
        reinforce and link refuse it, and depositing its body again needs --force. Others see \
        the reason with `trailctl get`. `trailctl revive` brings it back.

        Example:
          trailctl retract 3f2a9c1b --reason "the sugar is gone"
        """)

    @Argument(help: ArgumentHelp("The note's id or prefix.", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("Why, in a sentence (required).", valueName: "text"))
    var reason: String

    @OptionGroup var writer: AgentOption
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.perform(RetractRequest(id: id, reason: reason, ns: global.ns, agent: writer.resolved)) { r, p in
            ["\(p.paint("retracted", .red))  \(p.paint(Format.id(r.id), .cyan))"]
        }
    }
}

struct Revive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a retracted or archived note live again.",
        discussion: """
        An archived note is brought back from its archive pack. Prints the note as it is now.

        Example:
          trailctl revive 3f2a9c1b
        """)

    @Argument(help: ArgumentHelp("The note's id or prefix.", valueName: "id"))
    var id: String

    @OptionGroup var writer: AgentOption
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.perform(ReviveRequest(id: id, ns: global.ns, agent: writer.resolved)) { n, p in
            ["\(p.paint("revived", .green))  \(p.paint(Format.id(n.id), .cyan))  weight \(p.paint(Format.weight(n.weight), .bold))  \(Format.excerpt(n.body, max: 60))"]
        }
    }
}
