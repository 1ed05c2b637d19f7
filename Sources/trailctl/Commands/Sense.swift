import ArgumentParser
import TrailClient

struct Sense: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank the notes of a namespace by weight, or by weight and text relevance.",
        discussion: """
        Without --query, notes come heaviest first. With --query, only notes containing at least \
        one of its words (stemmed, case and accents folded) are listed, scored by \
        weight × (1 + relevance) × (1 + rank). Live notes only, unless --include-faded.

        --budget walks the ranking and takes each note whose body still fits in what is left of \
        the byte budget: a way to fill a prompt with the best notes that fit.

        Examples:
          trailctl sense --query "sugar wall" --limit 5
          trailctl sense --tag food --any-tag north --any-tag east --budget 2000 --json | jq -r '.notes[].body'
        """)

    @Option(name: [.customShort("q"), .long], help: ArgumentHelp("Full-text query.", valueName: "text"))
    var query: String?

    @Option(name: .customLong("tag"), help: ArgumentHelp("Keep notes carrying this tag (repeatable: all of them).", valueName: "tag"))
    var tags: [String] = []

    @Option(name: .customLong("any-tag"), help: ArgumentHelp("Keep notes carrying at least one of these tags (repeatable).", valueName: "tag"))
    var anyTags: [String] = []

    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Most notes to return (default 10, at most 1000).", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Byte budget for the bodies returned.", valueName: "bytes"))
    var budget: Int?

    @Option(name: .customLong("min-weight"), help: ArgumentHelp("Drop notes lighter than this.", valueName: "w"))
    var minWeight: Double?

    @Flag(name: .customLong("include-faded"), help: "Also list faded notes (below the namespace's evaporate_below).")
    var includeFaded = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let request = SenseRequest(ns: global.ns, query: query, tags: tags, anyTags: anyTags, limit: limit,
                                   budgetBytes: budget, minWeight: minWeight, includeFaded: includeFaded)
        try await global.perform(request) { notes, p in NoteView.table(notes, p, width: Terminal.width) }
    }
}
