import ArgumentParser
import TrailClient

struct Reinforce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add weight to a note (a negative --delta takes it away).",
        discussion: """
        The weight becomes max(0, decayed weight + delta). A retracted note is refused: revive \
        it first. To take weight away, `trailctl repel` reads better.

        Example:
          trailctl reinforce 3f2a9c1b --delta 2
        """)

    @Argument(help: ArgumentHelp("The note's id or prefix.", valueName: "id"))
    var id: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Weight to add (default 1.0; negative repels).", valueName: "d"))
    var delta: Double?

    @OptionGroup var writer: AgentOption
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.perform(ReinforceRequest(id: id, ns: global.ns, delta: delta, agent: writer.resolved)) { r, p in
            ["\(p.paint("reinforced", .green))  \(p.paint(Format.id(r.id), .cyan))  weight \(p.paint(Format.weight(r.weight), .bold))"]
        }
    }
}

struct Repel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take weight away from a note (reinforce with a negative delta).",
        discussion: """
        The weight becomes max(0, decayed weight - amount): a note that misled you fades \
        faster for everyone. Give the amount as a positive number.

        Example:
          trailctl repel 3f2a9c1b --by 0.5
        """)

    @Argument(help: ArgumentHelp("The note's id or prefix.", valueName: "id"))
    var id: String

    @Option(name: [.customLong("by"), .customLong("delta")], help: ArgumentHelp("Weight to take away (default 1.0).", valueName: "amount"))
    var amount: Double = 1.0

    @OptionGroup var writer: AgentOption
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard amount > 0, amount.isFinite else { throw ValidationError("--by takes the weight to take away, a number greater than 0.") }
    }

    func run() async throws {
        try await global.perform(ReinforceRequest(id: id, ns: global.ns, delta: -amount, agent: writer.resolved)) { r, p in
            ["\(p.paint("repelled", .yellow))  \(p.paint(Format.id(r.id), .cyan))  weight \(p.paint(Format.weight(r.weight), .bold))"]
        }
    }
}
