import Foundation
import TrailClient
import TrailCore

/// The text a model reads for each result: compact, one fact per line,
/// weights to 3 places, ids shortened to 12 hex digits (a prefix every tool
/// accepts) except where a single note is named. The full result, full ids
/// included, is the tool result's `structuredContent`.
enum ResultText {
    /// Hex digits shown of an id in lists.
    static let idDigits = 12

    static func id(_ id: NoteID) -> String { String(id.hex.prefix(idDigits)) }

    static func weight(_ w: Double) -> String { String(format: "%.3f", w) }

    static func signed(_ w: Double) -> String { (w >= 0 ? "+" : "") + weight(w) }

    static func time(_ millis: Int64) -> String { Timestamp.rfc3339(millis: millis) }

    static func quoted(_ s: String) -> String { "\"\(s)\"" }

    /// `deposits=3` style facts of a note, on one line after its short id.
    /// `similarity` is the text shown for a search by meaning (`-` for a
    /// note not embedded yet).
    static func summary(_ n: Note, score: Double? = nil, similarity: String? = nil) -> String {
        var parts = [id(n.id)]
        if let score { parts.append("score=\(weight(score))") }
        if let similarity { parts.append("similarity=\(similarity)") }
        parts.append("weight=\(weight(n.weight))")
        if n.state != .live { parts.append("state=\(n.state.rawValue)") }
        if n.deposits > 1 { parts.append("deposits=\(n.deposits)") }
        if let agent = n.agent { parts.append("by=\(agent)") }
        if !n.tags.isEmpty { parts.append("tags=\(n.tags.joined(separator: ","))") }
        return parts.joined(separator: "  ")
    }

    /// A body indented under its summary line, every line of it.
    static func indented(_ body: String, by prefix: String = "  ") -> [String] {
        body.split(separator: "\n", omittingEmptySubsequences: false).map { prefix + $0 }
    }

    // MARK: per tool

    /// A deposit's answer. `merge` says how merging by meaning was used;
    /// `into` is the note a merged deposit went to, when it could be read.
    static func deposited(_ d: Deposited, merge: MergePlan = MergePlan(), into: Note? = nil) -> String {
        if d.merged == true {
            var lines = [
                "Merged into an existing note of the same meaning in ns \(quoted(d.ns)) (similarity \(d.similarity.map(weight) ?? "?")"
                    + "\(merge.threshold.map { " >= merge_similar \(weight($0))" } ?? "")): that note was reinforced and keeps its body; yours is kept in its history.",
                "id \(d.id.hex)",
                "weight=\(weight(d.weight))  deposits=\(d.deposits)",
            ]
            if let into {
                lines.append("its body:")
                lines += indented(into.body)
            }
            lines.append("If your note says something that one does not (it corrects it, or names another place, version or value), "
                + "this merge was wrong: deposit yours again with merge_similar: 0 (and `after` set to that note), and trail_repel it if it is wrong.")
            return lines.joined(separator: "\n")
        }
        var what = d.created ? "Deposited a new note" : "The body was already there: reinforced the existing note"
        what += " in ns \(quoted(d.ns))."
        if !d.contests.isEmpty {
            what += " Not merged: your note is close to \(d.contests.map(id).joined(separator: ", ")) but disagrees with "
                + "\(d.contests.count == 1 ? "it" : "them") on a decisive token (a number, version, name, path, flag or a negation), "
                + "so it stands on its own, after \(d.contests.count == 1 ? "it" : "them"). The two now contest each other: "
                + "whoever tries the advice reinforces the note that held and repels the one that misled."
        } else if let held = merge.heldBack {
            what += " Not merged into \(id(held.note.id)) (similarity \(held.similarity.map(weight) ?? "?")): your note comes `after` it, "
                + "so it stands on its own as a follow-up or correction."
        } else if d.created, d.merged == false, let t = merge.threshold {
            what += " No note was as similar as merge_similar \(weight(t)) to merge into."
        }
        return """
        \(what)
        id \(d.id.hex)
        weight=\(weight(d.weight))  deposits=\(d.deposits)
        """
    }

    /// The line under a contested note's summary (contract §8).
    static func contested(_ n: Note) -> String {
        "CONTESTED by \(n.contestedBy.map(id).joined(separator: ", ")): \(n.contestedBy.count == 1 ? "a note" : "notes") close to this one "
            + "that \(n.contestedBy.count == 1 ? "disagrees" : "disagree") with it on a decisive token (a number, version, name, path, flag or a negation)"
    }

    /// What to do about a contest, said once per answer.
    static let contestAdvice = "Contested notes disagree: do not trust either blindly. Read both sides (trail_get the other id), try the "
        + "advice, then trail_reinforce the note that held and trail_repel the one that misled (trail_retract it, with a reason, "
        + "if it would send the next agent into a wall)."

    static func sensed(_ notes: [ScoredNote], ns: String, query: String?, limit: Int?, budget: Int,
                       similar: String? = nil, minSimilarity: Double? = nil) -> String {
        var matching = query.map { " matching \(quoted($0))" } ?? ""
        if let similar {
            matching += "\(query == nil ? "" : " and") similar in meaning to \(quoted(similar))"
            if let minSimilarity { matching += " (similarity >= \(weight(minSimilarity)))" }
        }
        guard !notes.isEmpty else {
            let others = similar == nil ? "try other words" : "describe it in other words, lower or drop `min_similarity`, try `query` words"
            return """
            No notes in ns \(quoted(ns))\(matching) within a budget of \(budget) bytes. If the namespace is new, \
            nothing is known here yet: deposit what you learn with trail_deposit. Otherwise \(others), \
            fewer tags, or trail_stats to see what it holds.
            """
        }
        let used = notes.reduce(0) { $0 + $1.note.body.utf8.count }
        let order = switch (query, similar) {
        case (nil, nil): "heaviest first"
        case (_, nil): "best match first"
        case (nil, _): "nearest in meaning and strongest first"
        default: "best match by words and meaning first"
        }
        var lines = ["\(notes.count) note\(notes.count == 1 ? "" : "s") in ns \(quoted(ns))\(matching), \(order) (\(used) of \(budget) budget bytes):"]
        for s in notes {
            lines.append("")
            let shownSimilarity = similar == nil ? nil : (s.similarity.map(weight) ?? "- (not embedded yet)")
            lines.append(summary(s.note, score: query == nil && similar == nil ? nil : s.score, similarity: shownSimilarity))
            if !s.note.contestedBy.isEmpty { lines.append(contested(s.note)) }
            lines += indented(s.note.body)
        }
        if notes.contains(where: { !$0.note.contestedBy.isEmpty }) {
            lines += ["", contestAdvice]
        }
        if notes.count == (limit ?? 10) {
            lines += ["", "(limit \(notes.count) reached: raise `limit`, or narrow with `query` or `tags`, to see others)"]
        }
        lines += ["", "Ids are 12-digit prefixes every tool accepts. Go deeper with trail_follow from a note that matters."]
        return lines.joined(separator: "\n")
    }

    static func details(_ d: NoteDetails, historyShown: Int = 10) -> String {
        let n = d.note
        var lines = ["note \(n.id.hex)"]
        lines.append("ns=\(n.ns)  state=\(n.state.rawValue)  weight=\(weight(n.weight))  rank=\(n.rank.map(weight) ?? "-")  deposits=\(n.deposits)")
        lines.append("by=\(n.agent ?? "-")  tags=\(n.tags.isEmpty ? "-" : n.tags.joined(separator: ","))")
        lines.append("created=\(time(n.createdAtMillis))  updated=\(time(n.updatedAtMillis))")
        if !n.after.isEmpty { lines.append("after: " + n.after.map(id).joined(separator: " ")) }
        if let r = n.retraction {
            lines.append("RETRACTED by \(r.agent ?? "an unnamed agent") at \(time(r.atMillis)): \(r.reason)")
        }
        if !n.contestedBy.isEmpty { lines += [contested(n), contestAdvice] }
        lines.append("body:")
        lines += indented(n.body)
        if d.trails.isEmpty {
            lines.append("trails: none")
        } else {
            lines.append("trails (\(d.trails.count); -> leads from this note, <- leads to it):")
            for t in d.trails {
                lines.append("  \(t.direction == .backward ? "<-" : "->") \(id(t.other))  weight=\(weight(t.weight))")
            }
        }
        if !d.history.isEmpty {
            let shown = d.history.suffix(historyShown)
            let more = d.history.count > shown.count ? " (latest \(shown.count) of \(d.history.count))" : ""
            lines.append("history\(more):")
            for h in shown {
                var line = "  \(time(h.atMillis))  \(h.op)  by=\(h.agent ?? "-")"
                if let delta = h.delta { line += "  \(signed(delta))" }
                if let detail = h.detail { line += "  \(detail)" }
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n")
    }

    static func followed(_ f: Followed, direction: TrailDirection, explore: Double?) -> String {
        let way = switch direction {
        case .forward: "out of"
        case .backward: "into"
        case .both: "at both ends of"
        }
        guard !f.steps.isEmpty else {
            return "No trails \(way) \(id(f.from)) lead to live notes. Sense the namespace, or deposit what you found with `after` set to this note to start a trail."
        }
        let order = (explore ?? 0) > 0
            ? "drawn with explore=\(explore.map(weight) ?? "0")\(f.seed.map { ", seed=\($0) (pass it to replay this draw)" } ?? "")"
            : "strongest first"
        var lines = ["\(f.steps.count) trail\(f.steps.count == 1 ? "" : "s") \(way) \(id(f.from)), \(order):"]
        for s in f.steps {
            lines.append("")
            lines.append("\(s.direction == .backward ? "<-" : "->") trail=\(weight(s.weight))  " + summary(s.note))
            lines += indented(s.note.body)
        }
        return lines.joined(separator: "\n")
    }

    static func reinforced(_ r: Reinforced, verb: String) -> String {
        "\(verb) \(id(r.id)): weight is now \(weight(r.weight))."
    }

    static func linked(_ t: Trail) -> String {
        "Trail \(id(t.from)) -> \(id(t.to)): weight is now \(weight(t.weight))."
    }

    static func retracted(_ r: Retracted, reason: String) -> String {
        """
        Retracted \(id(r.id)). Agents that read it see your reason; a new deposit of its body is refused with it:
          \(reason)
        """
    }

    static func revived(_ n: Note) -> String {
        (["Revived \(id(n.id)): \(n.state.rawValue) again.", summary(n)] + indented(n.body)).joined(separator: "\n")
    }

    static func stats(_ s: NamespaceStats) -> String {
        let c = s.counts
        var lines = [
            "ns \(quoted(s.ns)): \(c.notes) notes (\(c.live) live, \(c.faded) faded, \(c.archived) archived, \(c.retracted) retracted), "
                + "\(c.edges) trail\(c.edges == 1 ? "" : "s"), total weight \(weight(c.totalWeight))",
            "store \(bytes(s.storeBytes)) on disk, archive packs \(bytes(s.archivedBytes)); traild up \(duration(s.uptime)) with \(s.connections) connection\(s.connections == 1 ? "" : "s")",
        ]
        if let k = s.compaction {
            let when = k.startedAtMillis.map { " at \(time($0))" } ?? ""
            lines.append("last compaction\(when): \(k.evaporated) evaporated, \(k.ranked) ranked, \(Int(k.durationMs.rounded())) ms")
        } else {
            lines.append("not compacted yet")
        }
        if let e = s.embedding {
            lines.append("search by meaning (`similar`): \(e.model), \(e.embedded) notes embedded, \(e.pending) pending"
                + (e.pending > 0 ? " (found by meaning once embedded)" : ""))
        } else {
            lines.append("search by meaning: off (the daemon has no embedding model); use `query` words")
        }
        return lines.joined(separator: "\n")
    }

    /// `812 B`, `281.5 KiB`, `3.2 MiB`.
    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        var v = Double(n) / 1024
        for unit in ["KiB", "MiB", "GiB"] {
            if v < 1024 || unit == "GiB" { return String(format: "%.1f ", v) + unit }
            v /= 1024
        }
        return "\(n) B"
    }

    /// `4.6s`, `12m 5s`, `3h 20m`, `2d 4h`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let s = Int(seconds.rounded())
        let units: [(Int, String)] = [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")]
        var parts: [String] = []
        var left = s
        for (size, name) in units where left >= size && parts.count < 2 {
            parts.append("\(left / size)\(name)")
            left %= size
        }
        return parts.joined(separator: " ")
    }
}
