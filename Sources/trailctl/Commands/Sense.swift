import ArgumentParser
import TrailClient

struct Sense: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank the notes of a namespace by weight, by text relevance, or by meaning.",
        discussion: """
        Without --query, notes come heaviest first. With --query, only notes containing at least \
        one of its words (stemmed, case and accents folded) are listed, scored by \
        weight × (1 + relevance) × (1 + rank). Live notes only, unless --include-faded.

        --similar finds notes by meaning rather than words: each note's embedding is compared with \
        the text's (cosine similarity, shown in a SIMILARITY column), and notes are ranked by \
        similarity plus a small bonus for weight and rank; with --query as well, the order by \
        meaning and the order by words are fused. --min-similarity drops notes less similar than X \
        (with all-MiniLM-L6-v2: above about 0.8 a near-paraphrase, 0.5 to 0.8 related, below about \
        0.3 unrelated). It needs a daemon with its embedding model (trailctl status says which).

        --budget walks the ranking and takes each note whose body still fits in what is left of \
        the byte budget: a way to fill a prompt with the best notes that fit.

        Examples:
          trailctl sense --query "sugar wall" --limit 5
          trailctl sense --similar "where can the colony find food" --min-similarity 0.4
          trailctl sense --tag food --any-tag north --any-tag east --budget 2000 --json | jq -r '.notes[].body'
        """)

    @Option(name: [.customShort("q"), .long], help: ArgumentHelp("Full-text query.", valueName: "text"))
    var query: String?

    @Option(name: [.customShort("t"), .customLong("tag")], help: ArgumentHelp("Keep notes carrying this tag (repeatable: all of them).", valueName: "tag"))
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

    @Option(help: ArgumentHelp("Find notes by meaning: text saying what you look for, in your own words.", valueName: "text"))
    var similar: String?

    @Option(name: .customLong("min-similarity"), parsing: .unconditional,
            help: ArgumentHelp("With --similar: drop notes less similar than this (-1 to 1).", valueName: "x"))
    var minSimilarity: Double?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if minSimilarity != nil && similar == nil {
            throw ValidationError("--min-similarity needs --similar: it bounds the similarity to that text.")
        }
        // JSON has no NaN: it would be sent as null, a bound that silently does not apply.
        if let minSimilarity, !minSimilarity.isFinite {
            throw ValidationError("--min-similarity takes a number from -1 to 1, such as 0.3.")
        }
    }

    func run() async throws {
        let request = SenseRequest(ns: global.ns, query: query, tags: tags, anyTags: anyTags, limit: limit,
                                   budgetBytes: budget, minWeight: minWeight, includeFaded: includeFaded,
                                   similar: similar, minSimilarity: minSimilarity)
        try await global.perform(request) { notes, p in
            NoteView.table(notes, p, width: Terminal.width, similarity: similar != nil)
        }
    }
}
