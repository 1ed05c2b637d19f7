import Foundation
import TrailCore
import TrailProtocol

/// A namespace's trail graph: notes as nodes, trails as weighted directed
/// edges, built from `trail.export` records and cut down to stay readable.
public struct TrailGraph: Sendable {
    public struct Node: Sendable, Equatable {
        public var id: NoteID
        public var body: String
        public var weight: Double
        public var rank: Double?
        /// `faded` when a live note weighs less than the namespace's threshold.
        public var state: NoteState
        public var tags: [String]
    }

    public struct Edge: Sendable, Equatable {
        public var from: NoteID
        public var to: NoteID
        public var weight: Double
    }

    /// Which notes and trails to keep.
    public struct Selection: Sendable {
        /// States shown; faded notes count as `live` here (their stored state).
        public var states: Set<NoteState> = [.live]
        /// Notes and trails lighter than this are left out.
        public var minWeight: Double = 0
        /// Keep only the heaviest notes (nil: all).
        public var limit: Int?

        public init(states: Set<NoteState> = [.live], minWeight: Double = 0, limit: Int? = nil) {
            self.states = states
            self.minWeight = minWeight
            self.limit = limit
        }
    }

    public var ns: String
    public var exportedAt: String?
    /// Heaviest first, ties by id.
    public var nodes: [Node]
    /// Heaviest first; both ends are among `nodes`.
    public var edges: [Edge]
    /// Notes and trails in the namespace before the selection.
    public var totalNotes: Int
    public var totalTrails: Int

    /// Builds the graph. `evaporateBelow` marks faded nodes. Trails of weight
    /// 0 are never edges. Costs a sort of the notes and one pass over the trails.
    public init(ns: String, exportedAt: String?, records: [NoteRecord], evaporateBelow: Double, selection: Selection) {
        self.ns = ns
        self.exportedAt = exportedAt
        totalNotes = records.count
        totalTrails = records.reduce(0) { $0 + $1.trails.count }
        var kept = records.filter { selection.states.contains($0.note.state) && $0.note.weight >= selection.minWeight }
        kept.sort { a, b in a.note.weight != b.note.weight ? a.note.weight > b.note.weight : a.note.id < b.note.id }
        if let limit = selection.limit, kept.count > limit { kept = Array(kept.prefix(limit)) }
        nodes = kept.map { r in
            let faded = r.note.state == .live && r.note.weight < evaporateBelow
            return Node(id: r.note.id, body: r.note.body, weight: r.note.weight, rank: r.note.rank,
                        state: faded ? .faded : r.note.state, tags: r.note.tags)
        }
        let present = Set(nodes.map(\.id))
        var edges: [Edge] = []
        for r in kept {
            for t in r.trails where t.weight > 0 && t.weight >= selection.minWeight && present.contains(t.to) {
                edges.append(Edge(from: r.note.id, to: t.to, weight: t.weight))
            }
        }
        edges.sort { a, b in
            a.weight != b.weight ? a.weight > b.weight : (a.from != b.from ? a.from < b.from : a.to < b.to)
        }
        self.edges = edges
    }

    /// `{"ns", "exported_at", "nodes": [{id, body, weight, rank, state, tags}], "edges": [{from, to, weight}]}`.
    public var json: JSONValue {
        .object([
            "ns": .string(ns),
            "exported_at": exportedAt.map(JSONValue.string) ?? .null,
            "notes_total": .int(totalNotes),
            "trails_total": .int(totalTrails),
            "nodes": .array(nodes.map { n in
                .object(["id": .string(n.id.hex), "body": .string(n.body), "weight": .double(n.weight),
                         "rank": n.rank.map(JSONValue.double) ?? .null, "state": .string(n.state.rawValue),
                         "tags": .array(n.tags.map(JSONValue.string))])
            }),
            "edges": .array(edges.map { e in
                .object(["from": .string(e.from.hex), "to": .string(e.to.hex), "weight": .double(e.weight)])
            }),
        ])
    }

    /// The graph in Graphviz's DOT language. A node's pen width and font size
    /// grow with its weight, an edge's pen width with its own; faded notes are
    /// dashed, retracted ones red and archived ones grey. Labels show the
    /// id's first 12 digits, the body's start and the weight.
    public var dot: String {
        let maxNode = nodes.map(\.weight).max() ?? 0
        let maxEdge = edges.map(\.weight).max() ?? 0
        func scale(_ w: Double, _ top: Double) -> Double { top > 0 ? min(1, max(0, w / top)) : 0 }
        func num(_ d: Double) -> String { String(format: "%.2f", d) }
        var out = "digraph trail {\n"
        let title = "namespace \(ns): \(nodes.count) of \(totalNotes) notes, \(edges.count) trails"
            + (exportedAt.map { " at \($0)" } ?? "")
        out += "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, labelloc=t, label=\(Self.quoted(title))];\n"
        out += "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fillcolor=\"#eef3fb\", color=\"#3b6ea5\"];\n"
        out += "  edge [color=\"#4d4d4d\", arrowsize=0.7, fontname=\"Helvetica\", fontsize=8];\n"
        for n in nodes {
            let s = scale(n.weight, maxNode)
            let label = "\(n.id.hex.prefix(12))\n\(Self.excerpt(n.body))\nw \(String(format: "%.3f", n.weight))"
            var attributes = "label=\(Self.quoted(label)), penwidth=\(num(1 + 4 * s)), fontsize=\(num(9 + 7 * s))"
            switch n.state {
            case .faded: attributes += ", style=\"rounded,dashed\", fontcolor=\"#777777\""
            case .retracted: attributes += ", color=\"#b22222\", fillcolor=\"#fbeaea\""
            case .archived: attributes += ", color=\"#999999\", fillcolor=\"#f2f2f2\", fontcolor=\"#777777\""
            case .live: break
            }
            if !n.tags.isEmpty { attributes += ", tooltip=\(Self.quoted(n.tags.joined(separator: ", ")))" }
            out += "  \(Self.quoted(n.id.hex)) [\(attributes)];\n"
        }
        for e in edges {
            let s = scale(e.weight, maxEdge)
            out += "  \(Self.quoted(e.from.hex)) -> \(Self.quoted(e.to.hex)) [penwidth=\(num(0.5 + 5.5 * s)), label=\(Self.quoted(String(format: "%.3f", e.weight)))];\n"
        }
        out += "}\n"
        return out
    }

    /// The start of a body for a label: one line, at most 32 characters.
    static func excerpt(_ body: String) -> String {
        let first = body.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let clean = String(first.map { $0.unicodeScalars.allSatisfy { $0.properties.generalCategory != .control } ? $0 : " " })
        let more = clean.count > 32 || first.count < body.count
        return more ? String(clean.prefix(31)) + "…" : clean
    }

    /// A DOT double-quoted string. `\n` inside is DOT's own line break, so
    /// the text's backslashes are doubled first.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for ch in text {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case _ where ch.isNewline: out += "\\n"
            default: out.append(ch)
            }
        }
        return out + "\""
    }
}
