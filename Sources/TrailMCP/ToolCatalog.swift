import MCP

/// The tools trail-mcp offers, one per trail method an agent needs.
public enum TrailToolName: String, Sendable, CaseIterable {
    case deposit = "trail_deposit"
    case sense = "trail_sense"
    case get = "trail_get"
    case follow = "trail_follow"
    case reinforce = "trail_reinforce"
    case repel = "trail_repel"
    case link = "trail_link"
    case retract = "trail_retract"
    case revive = "trail_revive"
    case stats = "trail_stats"

    /// The arguments the tool takes (its schema's `properties`), in order.
    var arguments: [String] {
        switch self {
        case .deposit: ["body", "tags", "after", "strength", "force", "merge_similar", "ns"]
        case .sense: ["query", "similar", "min_similarity", "tags", "any_tags", "limit", "budget_bytes", "min_weight", "include_faded", "ns"]
        case .get: ["id", "ns"]
        case .follow: ["from", "direction", "limit", "explore", "seed", "include_faded", "ns"]
        case .reinforce: ["id", "delta", "ns"]
        case .repel: ["id", "amount", "ns"]
        case .link: ["from", "to", "delta", "ns"]
        case .retract: ["id", "reason", "ns"]
        case .revive: ["id", "ns"]
        case .stats: ["ns"]
        }
    }

    /// Whether the tool only reads (and so may be sent again after a dropped connection).
    var isReadOnly: Bool {
        switch self {
        case .sense, .get, .follow, .stats: true
        default: false
        }
    }
}

/// The definitions of the tools: names, descriptions written for a model,
/// JSON Schema inputs and hints.
///
/// The descriptions carry the practice of docs/agents.md where it matters
/// for the call (sense lightly first, one finding per note, reasons that
/// help the next agent), since a model reads them before every call.
enum ToolCatalog {
    static func tools(_ configuration: TrailMCPConfiguration) -> [Tool] {
        TrailToolName.allCases.map { tool($0, configuration) }
    }

    static func tool(_ name: TrailToolName, _ configuration: TrailMCPConfiguration) -> Tool {
        let ns = Schema.namespace(configuration.namespace, fromFlag: configuration.ns != nil)
        switch name {
        case .deposit:
            return Tool(
                name: name.rawValue, title: "Deposit a note",
                description: """
                Leave a note in the shared trail memory that other agents read. Write one finding per note, \
                as you work (not one long summary at the end): a short, plain, self-contained sentence or \
                two that names the file, command, version or error text. The note's id is the SHA-256 of \
                its body, so depositing a body that is already there reinforces that note (same id, \
                `created: false`, more weight) instead of copying it. Set `after` to the ids of the notes \
                that led you to this one, so the next agent can follow the trail; add a few tags others \
                will filter by (area: build, tests, db; thing: a component, file or tool; kind: bug, \
                workaround, decision, howto, warning). Never put secrets in a note: everyone in the \
                namespace reads it. A body that was retracted is refused, with the retraction's reason, \
                unless `force` is true.\(mergeText(configuration))
                """,
                inputSchema: Schema.object([
                    ("body", Schema.string("The note: one finding, plain and factual; at most 4096 UTF-8 bytes unless the namespace allows more.", minLength: 1)),
                    ("tags", Schema.tags("Tags others will search by: few, lowercase, reused from notes you have seen (at most 16).")),
                    ("after", Schema.ids("Ids of the notes that led you to this one (at most 32); each makes a trail from that note to this one.", maxItems: 32)),
                    ("strength", Schema.number("Weight to add, default 1.0; from small nudges (0.2) to strong marks (5) for verified findings others will need.", exclusiveMinimum: 0, maximum: 1_000_000, defaultValue: 1.0)),
                    ("force", Schema.boolean("Deposit even if this body was retracted (revives it). Default false.")),
                    ("merge_similar", Schema.number(mergeArgument(configuration), exclusiveMinimum: nil, minimum: 0, maximum: 1,
                                                    defaultValue: configuration.mergeSimilar)),
                    ("ns", ns),
                ], required: ["body"]),
                annotations: .init(title: "Deposit a note", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false))
        case .sense:
            return Tool(
                name: name.rawValue, title: "Sense the strongest notes",
                description: """
                Read the strongest notes of the shared trail memory. Call it first, at the start of a \
                task, with the default small budget (\(configuration.senseBudget) bytes of note bodies) \
                so the read stays light; add `query`, `similar` or `tags` to narrow it. \
                Use `query` for exact terms: names, identifiers, commands, error strings (notes holding \
                any of its words). Use `similar` when you do not know the exact words a colleague used: \
                describe what you are looking for in your own words, as a plain statement (\
                "the database reports busy errors on a network drive"), and notes are found by meaning; \
                each then shows its `similarity` (cosine, -1 to 1: above about 0.8 the same thing \
                reworded, 0.3 to 0.6 typical for the right note described in other words, below about \
                0.3 unrelated); within 0.15 of the best similarity a stronger note comes before one \
                worded a little nearer, below that meaning leads. Give both to rank by words and \
                meaning together. \
                Without `query` or `similar`, notes come heaviest first: weight is recent usefulness, it \
                halves every half-life of the namespace and grows when agents deposit or reinforce. With \
                `query`, score = weight × (1 + text relevance) × (1 + graph rank). `budget_bytes` walks the \
                ranking and takes each note whose body still fits, so no note is ever cut. Then go deep \
                with trail_follow on the notes that matter instead of sensing wider. Retracted, archived \
                and (unless `include_faded`) faded notes are left out.
                """,
                inputSchema: Schema.object([
                    ("query", Schema.string("Full-text words to match (any of them; stemmed, case-insensitive): exact names, identifiers, error strings.", minLength: 1)),
                    ("similar", Schema.string("Find notes by meaning: what you are looking for, in your own words (a plain statement works best). Needs the daemon's embedding model; without it the call fails and `query` still works.", minLength: 1)),
                    ("min_similarity", Schema.number("With `similar`: leave out notes less similar than this (-1 to 1). Usually leave it out and read the order; 0.3 drops what is clearly unrelated.", exclusiveMinimum: nil, minimum: -1, maximum: 1, defaultValue: nil)),
                    ("tags", Schema.tags("Keep notes carrying all of these tags.")),
                    ("any_tags", Schema.tags("Keep notes carrying at least one of these tags.")),
                    ("limit", Schema.integer("Most notes to return, 1 to 1000; default 10.", minimum: 1, maximum: 1000, defaultValue: 10)),
                    ("budget_bytes", Schema.integer("Most bytes of note bodies to return; default \(configuration.senseBudget). Raise it only when the light read was not enough.", minimum: 0, maximum: nil, defaultValue: configuration.senseBudget)),
                    ("min_weight", Schema.number("Leave out notes lighter than this.", exclusiveMinimum: nil, minimum: 0, maximum: 1_000_000, defaultValue: nil)),
                    ("include_faded", Schema.boolean("Also rank faded notes (weight under the namespace's evaporation threshold). Default false.")),
                    ("ns", ns),
                ], required: []),
                annotations: .init(title: "Sense the strongest notes", readOnlyHint: true, openWorldHint: false))
        case .get:
            return Tool(
                name: name.rawValue, title: "Read one note",
                description: """
                Read one note in full, whatever its state (live, faded, archived, retracted): body, tags, \
                weight, who deposited it, the retraction's reason if any, the trails at its ends, and its \
                latest history (deposits, reinforcements, links, retractions, with agent and time). The id \
                may be the 12-digit short form other tools show, or any unique prefix of at least 8 hex digits.
                """,
                inputSchema: Schema.object([("id", Schema.id("The note's id or a unique prefix (8 or more hex digits).")), ("ns", ns)],
                                           required: ["id"]),
                annotations: .init(title: "Read one note", readOnlyHint: true, openWorldHint: false))
        case .follow:
            return Tool(
                name: name.rawValue, title: "Follow trails from a note",
                description: """
                Follow the trails out of a note to what agents found next (or, with direction \
                "backward", into it: what led there). Use it to go deep from a relevant note instead of \
                sensing wider. Trails come strongest first; `explore` (0 to 1) instead draws them at \
                random in proportion to their weight, to try a weaker path now and then; the result \
                names the seed, which replays the same draw. Only trails to live notes are listed unless \
                `include_faded`.
                """,
                inputSchema: Schema.object([
                    ("from", Schema.id("The note to start from: id or unique prefix.")),
                    ("direction", Schema.choice("forward (trails out of the note, the default), backward (trails into it) or both.", ["forward", "backward", "both"])),
                    ("limit", Schema.integer("Most trails to return, 1 to 1000; default 10.", minimum: 1, maximum: 1000, defaultValue: 10)),
                    ("explore", Schema.number("0 (default) takes the strongest first; up to 1 draws trails at random in proportion to weight.", exclusiveMinimum: nil, minimum: 0, maximum: 1, defaultValue: 0)),
                    ("seed", Schema.integer("Seed of an exploring draw, to replay one (0 to 2^53).", minimum: 0, maximum: 9_007_199_254_740_992, defaultValue: nil)),
                    ("include_faded", Schema.boolean("Also follow trails to faded notes. Default false.")),
                    ("ns", ns),
                ], required: ["from"]),
                annotations: .init(title: "Follow trails from a note", readOnlyHint: true, openWorldHint: false))
        case .reinforce:
            return Tool(
                name: name.rawValue, title: "Reinforce a note",
                description: """
                Add weight to a note that actually helped you (default +1.0), so it stays strong longer \
                for every agent. Do it when a note saved you work, not for every note you read. \
                Depositing the same body again does the same and counts one more deposit. A retracted \
                note is refused: revive it first. To take weight away, use trail_repel.
                """,
                inputSchema: Schema.object([
                    ("id", Schema.id("The note's id or a unique prefix.")),
                    ("delta", Schema.number("Weight to add, default 1.0; more (up to 5) only for what you verified and others will need.", exclusiveMinimum: nil, minimum: -1_000_000, maximum: 1_000_000, defaultValue: 1.0)),
                    ("ns", ns),
                ], required: ["id"]),
                annotations: .init(title: "Reinforce a note", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false))
        case .repel:
            return Tool(
                name: name.rawValue, title: "Repel a note",
                description: """
                Take weight away from a note that misled you: stale, vague, or wrong for your case \
                (default 1.0; the weight never goes below 0). It fades sooner but stays readable. Then \
                deposit what is true instead with `after` set to this note, so the trail leads from the \
                mistake to the fix. For a note that is wrong and harmful, use trail_retract.
                """,
                inputSchema: Schema.object([
                    ("id", Schema.id("The note's id or a unique prefix.")),
                    ("amount", Schema.number("Weight to take away, greater than 0; default 1.0.", exclusiveMinimum: 0, maximum: 1_000_000, defaultValue: 1.0)),
                    ("ns", ns),
                ], required: ["id"]),
                annotations: .init(title: "Repel a note", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false))
        case .link:
            return Tool(
                name: name.rawValue, title: "Link two notes",
                description: """
                Strengthen the trail from one note to another (default +1.0) when you found that the \
                first leads to the second; a negative `delta` weakens it. Both notes must exist in the \
                namespace and not be retracted. (A deposit's `after` makes these trails for a new note.)
                """,
                inputSchema: Schema.object([
                    ("from", Schema.id("The note the trail leaves: id or unique prefix.")),
                    ("to", Schema.id("The note the trail reaches: id or unique prefix (not the same note).")),
                    ("delta", Schema.number("Weight to add to the trail, default 1.0; negative weakens it.", exclusiveMinimum: nil, minimum: -1_000_000, maximum: 1_000_000, defaultValue: 1.0)),
                    ("ns", ns),
                ], required: ["from", "to"]),
                annotations: .init(title: "Link two notes", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false))
        case .retract:
            return Tool(
                name: name.rawValue, title: "Retract a note",
                description: """
                Withdraw a note that is wrong and would send the next agent into a wall. `reason` is \
                required and is shown to everyone who reads the note: say what is wrong and what to do \
                instead. The note keeps its weight, trails and history, but is no longer sensed or \
                followed, and depositing its body again is refused with your reason (unless forced). For \
                a note that is merely stale or weak, use trail_repel; trail_revive undoes a retraction.
                """,
                inputSchema: Schema.object([
                    ("id", Schema.id("The note's id or a unique prefix.")),
                    ("reason", Schema.string("What is wrong with the note and what to do instead (at most 1024 bytes).", minLength: 1)),
                    ("ns", ns),
                ], required: ["id", "reason"]),
                annotations: .init(title: "Retract a note", readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false))
        case .revive:
            return Tool(
                name: name.rawValue, title: "Revive a note",
                description: """
                Make a retracted or archived (evaporated) note live again: when its retraction was \
                itself a mistake, or an old note is relevant again.
                """,
                inputSchema: Schema.object([("id", Schema.id("The note's id or a unique prefix.")), ("ns", ns)], required: ["id"]),
                annotations: .init(title: "Revive a note", readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false))
        case .stats:
            return Tool(
                name: name.rawValue, title: "Namespace figures",
                description: """
                Figures for a namespace: notes by state (live, faded, archived, retracted), trails, \
                total weight, store size, the daemon's uptime and connections, the last compaction. \
                Cheap; use it to see whether a namespace holds anything yet.
                """,
                inputSchema: Schema.object([("ns", ns)], required: []),
                annotations: .init(title: "Namespace figures", readOnlyHint: true, openWorldHint: false))
        }
    }
}

extension ToolCatalog {
    /// What trail_deposit's description says about merging by meaning.
    static func mergeText(_ configuration: TrailMCPConfiguration) -> String {
        let rule = """
         Paraphrases merge: a deposit whose meaning matches a live note with other words \
        (cosine similarity at least `merge_similar`) goes to that note instead: it is reinforced, keeps its \
        body, and keeps yours in its history; the result says so and shows that note.
        """
        guard let d = configuration.mergeSimilar else {
            return rule + " This session merges only when a call passes `merge_similar` (0 < x <= 1)."
        }
        return rule + """
         By default `merge_similar` is \(ResultText.weight(d)) when the daemon can compare meanings (otherwise \
        deposits are plain), so the same lesson written by many agents grows one note instead of piling up \
        near-duplicates, while distinct findings stay apart. Pass `merge_similar: 0` when your note must \
        stand alone: meaning is judged on topic and wording, so a correction of a note, or a note that \
        differs from one only in a place, version or value, scores like a rewording (0.94 to 0.99) and \
        would land on it (a deposit `after` the note it would merge into is never merged by default).
        """
    }

    static func mergeArgument(_ configuration: TrailMCPConfiguration) -> String {
        let d = configuration.mergeSimilar.map { "default \(ResultText.weight($0)) when the daemon has its embedding model" }
            ?? "not used unless given"
        return "Merge into a live note at least this similar in meaning (0 < x <= 1; \(d)). 0, false or null: do not merge, deposit as written."
    }
}

/// JSON Schema (draft 2020-12) pieces for the tools' inputs.
enum Schema {
    static let tagPattern = "^[a-z0-9][a-z0-9._:/-]{0,63}$"
    static let idPattern = "^[0-9a-fA-F]{8,64}$"
    static let namespacePattern = "^[a-z0-9][a-z0-9._-]{0,63}$"

    /// An object schema with its properties in order; no other members allowed.
    static func object(_ properties: [(String, Value)], required: [String]) -> Value {
        var props: [String: Value] = [:]
        for (name, schema) in properties { props[name] = schema }
        return .object([
            "type": "object",
            "properties": .object(props),
            "required": .array(required.map { .string($0) }),
            "additionalProperties": false,
        ])
    }

    static func string(_ description: String, minLength: Int? = nil) -> Value {
        var s: [String: Value] = ["type": "string", "description": .string(description)]
        if let minLength { s["minLength"] = .int(minLength) }
        return .object(s)
    }

    static func id(_ description: String) -> Value {
        .object(["type": "string", "pattern": .string(idPattern), "description": .string(description)])
    }

    static func ids(_ description: String, maxItems: Int) -> Value {
        .object(["type": "array", "items": .object(["type": "string", "pattern": .string(idPattern)]),
                 "maxItems": .int(maxItems), "description": .string(description)])
    }

    static func tags(_ description: String) -> Value {
        .object(["type": "array", "items": .object(["type": "string", "pattern": .string(tagPattern)]),
                 "maxItems": 16, "description": .string(description)])
    }

    static func choice(_ description: String, _ values: [String]) -> Value {
        .object(["type": "string", "enum": .array(values.map { .string($0) }), "description": .string(description)])
    }

    static func boolean(_ description: String) -> Value {
        .object(["type": "boolean", "default": false, "description": .string(description)])
    }

    static func number(_ description: String, exclusiveMinimum: Double?, minimum: Double? = nil, maximum: Double?,
                       defaultValue: Double?) -> Value {
        var s: [String: Value] = ["type": "number", "description": .string(description)]
        if let exclusiveMinimum { s["exclusiveMinimum"] = .double(exclusiveMinimum) }
        if let minimum { s["minimum"] = .double(minimum) }
        if let maximum { s["maximum"] = .double(maximum) }
        if let defaultValue { s["default"] = .double(defaultValue) }
        return .object(s)
    }

    static func integer(_ description: String, minimum: Int, maximum: Int?, defaultValue: Int?) -> Value {
        var s: [String: Value] = ["type": "integer", "minimum": .int(minimum), "description": .string(description)]
        if let maximum { s["maximum"] = .int(maximum) }
        if let defaultValue { s["default"] = .int(defaultValue) }
        return .object(s)
    }

    static func namespace(_ name: String, fromFlag: Bool) -> Value {
        let where_ = fromFlag ? "this session's namespace, \"\(name)\" (trail-mcp --ns)" : "\"default\""
        return .object(["type": "string", "pattern": .string(namespacePattern),
                        "description": .string("The namespace (colony) to work in; default \(where_). Use one per team or project, not one per agent.")])
    }
}
