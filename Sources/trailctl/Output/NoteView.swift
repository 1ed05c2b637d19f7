import TrailCore

/// The human views of notes shared by several commands.
enum NoteView {
    static func stateStyle(_ state: NoteState) -> Style? {
        switch state {
        case .live: .green
        case .faded: .yellow
        case .archived: .dim
        case .retracted: .red
        }
    }

    /// One note in full: its fields aligned, then its body.
    static func details(_ n: Note, _ painter: Painter) -> [String] {
        var d = Details()
        d.add("id", n.id.hex, .cyan)
        d.add("ns", n.ns)
        d.add("state", n.state.rawValue, stateStyle(n.state))
        d.add("weight", Format.weight(n.weight), .bold)
        d.add("rank", Format.weight(n.rank))
        d.add("deposits", String(n.deposits))
        d.add("agent", n.agent ?? "-")
        d.add("tags", Format.tags(n.tags))
        d.add("after", n.after.isEmpty ? "-" : n.after.map(Format.id).joined(separator: " "))
        d.add("created", Format.time(n.createdAtMillis))
        d.add("updated", Format.time(n.updatedAtMillis))
        if let r = n.retraction {
            d.add("retracted", "\(r.reason) (by \(r.agent ?? "unknown") at \(Format.time(r.atMillis)))", .red)
        }
        if !n.contestedBy.isEmpty {
            d.add("contested by", n.contestedBy.map(Format.id).joined(separator: " "), .red)
        }
        return d.render(painter) + [""] + n.body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// `get`'s answer: the note, then the notes that contest it (their
    /// bodies when `contesting` has them), its trails and its latest history.
    static func details(_ d: NoteDetails, _ painter: Painter, width: Int?, contesting: [Note] = []) -> [String] {
        var lines = details(d.note, painter)
        if !d.note.contestedBy.isEmpty {
            lines += ["", painter.paint("contested by", .bold)
                + painter.paint("  (these disagree with it on a decisive token: try, then reinforce the one that holds and repel the other)", .dim)]
            for other in d.note.contestedBy {
                let found = contesting.first { $0.id == other }
                lines.append("  \(painter.paint(Format.id(other), .cyan))  "
                    + (found.map { "weight \(Format.weight($0.weight))  \(Format.excerpt($0.body, max: 200))" } ?? ""))
            }
        }
        if !d.trails.isEmpty {
            lines += ["", painter.paint("trails", .bold)]
            var t = Table([.init(title: "DIR"), .init(title: "OTHER"), .init(title: "WEIGHT", alignment: .right)])
            for trail in d.trails {
                t.add([.init(trail.direction == .forward ? "->" : "<-"), .init(Format.id(trail.other), .cyan),
                       .init(Format.weight(trail.weight))])
            }
            lines += t.render(painter, width: width)
        }
        if !d.history.isEmpty {
            lines += ["", painter.paint("history", .bold)]
            var t = Table([.init(title: "AT"), .init(title: "OP"), .init(title: "AGENT"), .init(title: "DELTA", alignment: .right),
                           .init(title: "DETAIL")])
            for h in d.history {
                let detail = h.detail.map { h.op == mergeOp ? "“\(Format.excerpt($0, max: 118))”" : Format.excerpt($0, max: 120) } ?? ""
                t.add([.init(Format.time(h.atMillis), .dim), .init(h.op, h.op == mergeOp ? .magenta : nil), .init(h.agent ?? "-"),
                       .init(h.delta.map { Format.signed($0) } ?? "-"), .init(detail)])
            }
            lines += t.render(painter, width: width)
        }
        lines += mergedBodies(d.history, painter)
        return lines
    }

    /// The history op of a deposit merged into the note by meaning
    /// (`merge_similar`); its detail is the body that was deposited.
    static let mergeOp = "merge"

    /// The bodies merged into the note, in full, oldest first: the history
    /// table shows only their first line, and they are the other wordings
    /// of what the note says.
    static func mergedBodies(_ history: [HistoryEntry], _ painter: Painter) -> [String] {
        let merges = history.filter { $0.op == mergeOp && $0.detail != nil }
        guard !merges.isEmpty else { return [] }
        var lines = ["", painter.paint("merged bodies", .bold)]
        for h in merges {
            lines.append(painter.paint("\(Format.time(h.atMillis))  by \(h.agent ?? "-")", .dim))
            lines += (h.detail ?? "").split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        }
        return lines
    }

    /// Ranked notes (sense): id, score, (similarity,) weight, state, tags, body.
    /// `similarity` adds the SIMILARITY column of a search by meaning; `-`
    /// marks a note found by words that is not embedded yet.
    static func table(_ notes: [ScoredNote], _ painter: Painter, width: Int?, similarity: Bool = false) -> [String] {
        guard !notes.isEmpty else { return [painter.paint("no notes", .dim)] }
        var columns: [Table.Column] = [.init(title: "ID"), .init(title: "SCORE", alignment: .right)]
        if similarity { columns.append(.init(title: "SIMILARITY", alignment: .right)) }
        columns += [.init(title: "WEIGHT", alignment: .right), .init(title: "STATE"), .init(title: "TAGS"), .init(title: "BODY")]
        var t = Table(columns)
        for s in notes {
            var row: [Table.Cell] = [.init(Format.id(s.note.id), .cyan), .init(Format.weight(s.score), .bold)]
            if similarity { row.append(.init(Format.weight(s.similarity))) }
            let contested = !s.note.contestedBy.isEmpty
            row += [.init(Format.weight(s.note.weight)),
                    .init(s.note.state.rawValue + (contested ? " contested" : ""), contested ? .red : stateStyle(s.note.state)),
                    .init(Format.tags(s.note.tags)), .init(Format.excerpt(s.note.body, max: 200))]
            t.add(row)
        }
        // The other side of each contest, by id (it may be further down the ranking, or out of it).
        let contests = notes.filter { !$0.note.contestedBy.isEmpty }.map {
            "\(painter.paint(Format.id($0.note.id), .cyan)) is contested by \($0.note.contestedBy.map { painter.paint(Format.id($0), .cyan) }.joined(separator: ", "))"
        }
        return t.render(painter, width: width) + (contests.isEmpty ? [] : [""] + contests
            + [painter.paint("(contested notes disagree on a decisive token: try, then reinforce the one that holds and repel the other)", .dim)])
    }
}
