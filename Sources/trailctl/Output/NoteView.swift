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
        return d.render(painter) + [""] + n.body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// `get`'s answer: the note, then its trails and its latest history.
    static func details(_ d: NoteDetails, _ painter: Painter, width: Int?) -> [String] {
        var lines = details(d.note, painter)
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
                t.add([.init(Format.time(h.atMillis), .dim), .init(h.op), .init(h.agent ?? "-"),
                       .init(h.delta.map { Format.signed($0) } ?? "-"), .init(h.detail.map { Format.excerpt($0, max: 120) } ?? "")])
            }
            lines += t.render(painter, width: width)
        }
        return lines
    }

    /// Ranked notes (sense): id, score, weight, state, tags, body.
    static func table(_ notes: [ScoredNote], _ painter: Painter, width: Int?) -> [String] {
        guard !notes.isEmpty else { return [painter.paint("no notes", .dim)] }
        var t = Table([.init(title: "ID"), .init(title: "SCORE", alignment: .right), .init(title: "WEIGHT", alignment: .right),
                       .init(title: "STATE"), .init(title: "TAGS"), .init(title: "BODY")])
        for s in notes {
            t.add([.init(Format.id(s.note.id), .cyan), .init(Format.weight(s.score), .bold), .init(Format.weight(s.note.weight)),
                   .init(s.note.state.rawValue, stateStyle(s.note.state)), .init(Format.tags(s.note.tags)),
                   .init(Format.excerpt(s.note.body, max: 200))])
        }
        return t.render(painter, width: width)
    }
}
