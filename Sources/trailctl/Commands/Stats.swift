import ArgumentParser
import TrailClient
import TrailCore

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a namespace's counts and the daemon's figures.",
        discussion: """
        Notes by state, trails, the total of current weights, the store's size on disk, the \
        archive packs' size, the daemon's uptime and open connections, the namespace's last \
        compaction, and, for recall by meaning, how many of its notes the embedding model has \
        embedded and how many wait (a note is found by meaning once embedded); `off` when the \
        daemon has no model.
        """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.perform(StatsRequest(ns: global.ns)) { s, p in StatsView.lines(s, p) }
    }
}

enum StatsView {
    static func counts(_ c: NamespaceCounts) -> String {
        "\(c.notes) (live \(c.live), faded \(c.faded), archived \(c.archived), retracted \(c.retracted))"
    }

    static func lines(_ s: NamespaceStats, _ p: Painter) -> [String] {
        var d = Details()
        d.add("namespace", s.ns, .bold)
        d.add("notes", counts(s.counts))
        d.add("trails", String(s.counts.edges))
        d.add("total weight", Format.weight(s.counts.totalWeight))
        d.add("store", Format.bytes(s.storeBytes))
        if s.archivedBytes > 0 || s.counts.archived > 0 {
            let ratio = s.compressionRatio.map { String(format: ", %.1fx compression", $0) } ?? ""
            d.add("archive", "\(Format.bytes(s.archivedBytes))\(ratio)")
        }
        d.add("uptime", Format.duration(s.uptime))
        d.add("connections", String(s.connections))
        if let c = s.compaction {
            let when = c.startedAtMillis.map { " at \(Format.time($0))" } ?? ""
            d.add("compaction", "evaporated \(c.evaporated), ranked \(c.ranked), archived \(Format.bytes(c.archivedBytes)) in \(Int(c.durationMs)) ms\(c.rebased ? ", rebased" : "")\(when)")
        } else {
            d.add("compaction", "not run yet", .dim)
        }
        if let e = s.embedding {
            d.add("embedding", embedding(e), e.pending > 0 ? .yellow : nil)
        } else {
            d.add("embedding", "off (no embedding model)", .dim)
        }
        return d.render(p)
    }

    /// `3 embedded, 1 pending (all-MiniLM-L6-v2)`.
    static func embedding(_ e: EmbeddingProgress) -> String {
        "\(e.embedded) embedded, \(e.pending) pending (\(e.model))"
    }
}
