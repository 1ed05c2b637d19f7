import ArgumentParser
import TrailClient

struct Compact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the compactor now.",
        discussion: """
        Faded notes evaporate into compressed archive packs (nothing is lost: `trailctl revive` \
        brings one back) and the trail graph is ranked again. Without --ns every namespace is \
        compacted; with --ns only that one. The daemon also compacts in the background.
        """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.perform(CompactRequest(ns: global.ns)) { r, p in
            var d = Details()
            d.add("namespace", r.ns ?? "all")
            d.add("evaporated", String(r.evaporated))
            d.add("archived", Format.bytes(r.archivedBytes))
            d.add("ranked", String(r.ranked))
            d.add("took", "\(Int(r.durationMs)) ms")
            return d.render(p)
        }
    }
}
