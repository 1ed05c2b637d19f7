import ArgumentParser
import TrailClient
import TrailCore

extension TrailDirection: ExpressibleByArgument {}

struct Follow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Walk the trails out of (or into) a note.",
        discussion: """
        Lists the notes at the other end of the note's trails, strongest first. With \
        --explore above 0, trails are drawn at random in proportion to weight^(1/explore) \
        (1: in proportion to weight; near 0: almost always the strongest first); the seed \
        used is printed, and --seed replays a draw exactly.

        Examples:
          trailctl follow 3f2a9c1b
          trailctl follow 3f2a9c1b --direction both --explore 0.7 --seed 42
        """)

    @Argument(help: ArgumentHelp("The note to start from.", valueName: "id"))
    var from: String

    @Option(help: ArgumentHelp("forward (trails out), backward (trails in) or both.", valueName: "dir"))
    var direction: TrailDirection?

    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Most trails to return (default 10).", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Temperature from 0 (strongest first) to 1 (in proportion to weight).", valueName: "t"))
    var explore: Double?

    @Option(help: ArgumentHelp("Seed of an exploring draw (0 to 2^53), to replay it.", valueName: "n"))
    var seed: UInt64?

    @Flag(name: .customLong("include-faded"), help: "Also follow trails to faded notes.")
    var includeFaded = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let request = FollowRequest(from: from, ns: global.ns, direction: direction, limit: limit, explore: explore,
                                    seed: seed, includeFaded: includeFaded)
        try await global.perform(request) { f, p in
            var head = "from \(p.paint(Format.id(f.from), .cyan))"
            if let seed = f.seed { head += p.paint("  seed \(seed)", .dim) }
            guard !f.steps.isEmpty else { return [head, p.paint("no trails", .dim)] }
            var t = Table([.init(title: "DIR"), .init(title: "TO"), .init(title: "WEIGHT", alignment: .right),
                           .init(title: "STATE"), .init(title: "BODY")])
            for s in f.steps {
                t.add([.init(s.direction == .forward ? "->" : "<-"), .init(Format.id(s.to), .cyan),
                       .init(Format.weight(s.weight), .bold), .init(s.note.state.rawValue, NoteView.stateStyle(s.note.state)),
                       .init(Format.excerpt(s.note.body, max: 200))])
            }
            return [head] + t.render(p, width: Terminal.width)
        }
    }
}
