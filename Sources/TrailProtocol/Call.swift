import TrailCore

/// The contract's method names.
public enum TrailMethod: String, CaseIterable, Sendable {
    case hello = "trail.hello"
    case deposit = "trail.deposit"
    case get = "trail.get"
    case reinforce = "trail.reinforce"
    case sense = "trail.sense"
    case link = "trail.link"
    case follow = "trail.follow"
    case retract = "trail.retract"
    case revive = "trail.revive"
    case stats = "trail.stats"
    case configure = "trail.namespace.configure"
    case listNamespaces = "trail.namespace.list"
    case compact = "trail.compact"
    case watch = "trail.watch"
    case unwatch = "trail.unwatch"
    /// Beyond the contract: every note of a namespace, page by page.
    case export = "trail.export"
    /// Beyond the contract: restore exported records in one transaction.
    case importRecords = "trail.import"
    /// The notification a watching connection receives.
    public static let event = "trail.event"
    /// The notification that tells a watcher of writes it will not get as
    /// events (`{subscription, from, to}`, write-log seqs).
    public static let gap = "trail.gap"
}

/// A request read and validated: a method with typed params.
public enum Call: Sendable {
    case hello(client: String?, agent: String?)
    case deposit(Deposit, agent: String?)
    case get(IDPrefix, ns: String)
    case reinforce(IDPrefix, ns: String, delta: Double, agent: String?)
    case sense(SenseQuery)
    case link(from: IDPrefix, to: IDPrefix, ns: String, delta: Double, agent: String?)
    case follow(FollowQuery)
    case retract(IDPrefix, ns: String, reason: String, agent: String?)
    case revive(IDPrefix, ns: String, agent: String?)
    case stats(ns: String)
    case configure(NamespaceChange, agent: String?)
    case listNamespaces
    case compact(ns: String?)
    case watch(ns: String, tags: [String])
    case unwatch(subscription: String)
    case export(ns: String, cursor: Int64?, limit: Int)
    case importRecords(ns: String, records: [NoteRecord], stage: String?, commit: Bool, agent: String?)

    /// Reads `params` for `method`. `agent` is the connection's agent (from
    /// `trail.hello`), used when a write names none.
    /// Throws `methodNotFound` or an `invalidParams`/`invalidNamespace` `TrailError`.
    public init(method: String, params: JSONObject, agent: String?) throws(CallError) {
        guard let m = TrailMethod(rawValue: method) else { throw .protocolError(.methodNotFound(method)) }
        var p = Params(params)
        do {
            self = try Self.read(m, &p, agent: agent)
            try p.finish()
        } catch {
            throw .trail(error)
        }
    }

    private static func read(_ m: TrailMethod, _ p: inout Params, agent: String?) throws(TrailError) -> Call {
        switch m {
        case .hello:
            let client = try p.optionalString("client")
            return .hello(client: client, agent: try p.agent(default: nil))
        case .deposit:
            let body = try p.string("body")
            guard !body.isEmpty else {
                throw .invalidParams(field: "body", message: "body must not be empty; a note is a small non-empty text.")
            }
            let ns = try p.namespace()
            let tags = try p.tags("tags")
            let afterText = try p.optionalStrings("after") ?? []
            guard afterText.count <= Limits.maxAfter else {
                throw .invalidParams(field: "after", message: "after names \(afterText.count) notes but takes at most \(Limits.maxAfter); name the ones you came from directly.")
            }
            var after: [IDPrefix] = []
            for a in afterText { after.append(try IDPrefix(a, field: "after")) }
            let strength = try Validate.strength(p.optionalDouble("strength") ?? 1.0, field: "strength")
            let force = try p.optionalBool("force") ?? false
            var mergeSimilar: Double?
            if let m = try p.optionalDouble("merge_similar") {
                guard m.isFinite, m > 0, m <= 1 else {
                    throw .invalidParams(field: "merge_similar", message: "merge_similar must be a cosine similarity above 0 and at most 1 (0.9 merges close paraphrases); leave it out to deposit without merging.")
                }
                mergeSimilar = m
            }
            let deposit = Deposit(body: body, ns: ns, tags: tags, after: after, strength: strength, force: force,
                                  mergeSimilar: mergeSimilar)
            return .deposit(deposit, agent: try p.agent(default: agent))
        case .get:
            return .get(try p.id("id"), ns: try p.namespace())
        case .reinforce:
            return .reinforce(try p.id("id"), ns: try p.namespace(), delta: try p.weight("delta", default: 1.0),
                              agent: try p.agent(default: agent))
        case .sense:
            return .sense(try readSense(&p))
        case .link:
            return .link(from: try p.id("from"), to: try p.id("to"), ns: try p.namespace(),
                         delta: try p.weight("delta", default: 1.0), agent: try p.agent(default: agent))
        case .follow:
            return .follow(try readFollow(&p))
        case .retract:
            let id = try p.id("id")
            guard let given = try p.optionalString("reason") else {
                throw .invalidParams(field: "reason", message: "reason is required: say in a sentence why this note is retracted.")
            }
            let reason = try Validate.reason(given, field: "reason")
            return .retract(id, ns: try p.namespace(), reason: reason, agent: try p.agent(default: agent))
        case .revive:
            return .revive(try p.id("id"), ns: try p.namespace(), agent: try p.agent(default: agent))
        case .stats:
            return .stats(ns: try p.namespace())
        case .configure:
            let ns = try Validate.namespace(p.string("ns"))
            var change = NamespaceChange(ns: ns)
            if let h = try p.optionalDouble("half_life_s") {
                guard h.isFinite, Limits.halfLifeRange.contains(h) else {
                    throw .invalidParams(field: "half_life_s", message: "half_life_s must be from 1 to 3150000000 seconds (100 years).")
                }
                change.halfLife = h
            }
            if let e = try p.optionalDouble("evaporate_below") {
                guard e.isFinite, e >= 0, e <= Limits.maxAbsNumber else {
                    throw .invalidParams(field: "evaporate_below", message: "evaporate_below must be a weight from 0 to 1000000.")
                }
                change.evaporateBelow = e
            }
            change.maxNoteBytes = try p.optionalInt("max_note_bytes", in: 1...Limits.maxNoteBytesCap)
            if let c = try p.optionalDouble("contest_similarity") {
                guard c.isFinite, c > 0, c <= 1 else {
                    throw .invalidParams(field: "contest_similarity", message: "contest_similarity must be a cosine similarity in (0, 1], such as 0.9.")
                }
                change.contestSimilarity = c
            }
            return .configure(change, agent: try p.agent(default: agent))
        case .listNamespaces:
            return .listNamespaces
        case .compact:
            return .compact(ns: try p.optionalString("ns").map { s throws(TrailError) in try Validate.namespace(s) })
        case .watch:
            return .watch(ns: try p.namespace(), tags: try p.tags("tags"))
        case .unwatch:
            return .unwatch(subscription: try p.string("subscription"))
        case .export:
            let ns = try p.namespace()
            var cursor: Int64?
            if let c = try p.optionalString("cursor") {
                guard let n = Int64(c), n >= 0 else {
                    throw .invalidParams(field: "cursor", message: "cursor must be the value the previous page returned.")
                }
                cursor = n
            }
            let limit = try p.optionalInt("limit", in: 1...Limits.maxLimit) ?? 500
            return .export(ns: ns, cursor: cursor, limit: limit)
        case .importRecords:
            return try readImport(&p, agent: agent)
        }
    }

    private static func readImport(_ p: inout Params, agent: String?) throws(TrailError) -> Call {
        let ns = try p.namespace()
        guard let list = try p.optionalArray("records") else {
            throw .invalidParams(field: "records", message: "records is required: give the records trail.export returned.")
        }
        guard list.count <= Limits.maxLimit else {
            throw .invalidParams(field: "records", message: "records has \(list.count) entries; send at most \(Limits.maxLimit) per call and use stage for more.")
        }
        var records: [NoteRecord] = []
        records.reserveCapacity(list.count)
        for (i, value) in list.enumerated() { records.append(try RecordReader.read(value, index: i, ns: ns)) }
        let stage = try p.optionalString("stage")
        if let stage {
            let ok = !stage.isEmpty && stage.utf8.count <= 64
                && stage.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 }
            guard ok else {
                throw .invalidParams(field: "stage", message: "stage must be 1 to 64 of A-Z a-z 0-9 _ -.")
            }
        }
        let commit = try p.optionalBool("commit") ?? true
        return .importRecords(ns: ns, records: records, stage: stage, commit: commit, agent: try p.agent(default: agent))
    }

    private static func readSense(_ p: inout Params) throws(TrailError) -> SenseQuery {
        var q = SenseQuery(ns: try p.namespace())
        if let text = try p.optionalString("query") {
            let words = FullText.words(text)
            guard !words.isEmpty else {
                throw .invalidParams(field: "query", message: "query has no words to search for; give some words or leave query out.")
            }
            q.words = words
        }
        q.allTags = try p.tags("tags")
        q.anyTags = try p.tags("any_tags")
        q.limit = try p.limit()
        q.budgetBytes = try p.optionalInt("budget_bytes", in: 0...Int(Int32.max))
        if let m = try p.optionalDouble("min_weight") {
            guard m.isFinite, m >= 0, m <= Limits.maxAbsNumber else {
                throw .invalidParams(field: "min_weight", message: "min_weight must be a weight from 0 to 1000000.")
            }
            q.minWeight = m
        }
        q.includeFaded = try p.optionalBool("include_faded") ?? false
        if let similar = try p.optionalString("similar") {
            guard !similar.allSatisfy(\.isWhitespace) else {
                throw .invalidParams(field: "similar", message: "similar is empty; describe in a few words what you are looking for, or leave similar out.")
            }
            guard similar.utf8.count <= Limits.maxNoteBytesCap else {
                throw .invalidParams(field: "similar", message: "similar is \(similar.utf8.count) bytes but takes at most \(Limits.maxNoteBytesCap); describe what you look for in a sentence or two.")
            }
            q.similar = similar
        }
        if let m = try p.optionalDouble("min_similarity") {
            guard m.isFinite, m >= -1, m <= 1 else {
                throw .invalidParams(field: "min_similarity", message: "min_similarity must be a cosine similarity from -1 to 1.")
            }
            guard q.similar != nil else {
                throw .invalidParams(field: "min_similarity", message: "min_similarity needs similar: give the text to compare notes with.")
            }
            q.minSimilarity = m
        }
        return q
    }

    private static func readFollow(_ p: inout Params) throws(TrailError) -> FollowQuery {
        let from = try p.id("from")
        var q = FollowQuery(from: from, ns: try p.namespace())
        if let d = try p.optionalString("direction") {
            guard let dir = TrailDirection(rawValue: d) else {
                throw .invalidParams(field: "direction", message: "direction must be forward, backward or both.")
            }
            q.direction = dir
        }
        q.limit = try p.limit()
        if let e = try p.optionalDouble("explore") {
            guard e >= 0, e <= 1 else {
                throw .invalidParams(field: "explore", message: "explore must be from 0 (strongest first) to 1 (in proportion to weight).")
            }
            q.explore = e
        }
        if let seed = try p.optionalInt("seed", in: 0...Int(Limits.maxSeed)) {
            q.seed = UInt64(seed)
        } else {
            q.seed = UInt64.random(in: 0...Limits.maxSeed)
        }
        q.includeFaded = try p.optionalBool("include_faded") ?? false
        return q
    }
}

/// Why a request could not become a `Call`.
public enum CallError: Error, Sendable {
    case protocolError(ProtocolError)
    case trail(TrailError)

    public var rpcError: RPCError {
        switch self {
        case let .protocolError(e): RPCError(e)
        case let .trail(e): RPCError(e)
        }
    }
}

/// Turns a free-text query into the words FTS5 matches.
public enum FullText {
    /// Runs of letters and digits, at most 64 of them, each at most 64 characters.
    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for ch in text {
            if ch.isLetter || ch.isNumber {
                current.append(ch)
            } else if !current.isEmpty {
                words.append(String(current.prefix(64)))
                current = ""
            }
        }
        if !current.isEmpty { words.append(String(current.prefix(64))) }
        return Array(words.prefix(64))
    }
}

/// What a call needs of the access rules (contract §10).
public enum AccessNeed: Sendable, Equatable {
    /// `hello` and `unwatch`: nothing.
    case nothing
    /// This right over this namespace.
    case right(AccessRight, ns: String)
    /// `namespace.list`: nothing, but only what the peer may read is shown.
    case readableOnly
    /// `compact` without `ns`: admin over every namespace it would compact.
    case adminEverywhere
}

extension Call {
    /// The right this call needs and over which namespace: `read` for
    /// `get`, `sense`, `follow`, `stats`, `watch`, `export`; `write` for
    /// `deposit`, `reinforce`, `link`, `retract`, `revive`, `import`;
    /// `admin` for `namespace.configure` and `compact`.
    public var accessNeed: AccessNeed {
        switch self {
        case .hello, .unwatch: .nothing
        case let .deposit(d, _): .right(.write, ns: d.ns)
        case let .get(_, ns): .right(.read, ns: ns)
        case let .reinforce(_, ns, _, _): .right(.write, ns: ns)
        case let .sense(q): .right(.read, ns: q.ns)
        case let .link(_, _, ns, _, _): .right(.write, ns: ns)
        case let .follow(q): .right(.read, ns: q.ns)
        case let .retract(_, ns, _, _): .right(.write, ns: ns)
        case let .revive(_, ns, _): .right(.write, ns: ns)
        case let .stats(ns): .right(.read, ns: ns)
        case let .configure(change, _): .right(.admin, ns: change.ns)
        case .listNamespaces: .readableOnly
        case let .compact(ns): ns.map { .right(.admin, ns: $0) } ?? .adminEverywhere
        case let .watch(ns, _): .right(.read, ns: ns)
        case let .export(ns, _, _): .right(.read, ns: ns)
        case let .importRecords(ns, _, _, _, _): .right(.write, ns: ns)
        }
    }
}
