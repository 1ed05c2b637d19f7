import TrailCore


/// Stored states of a note row. Faded is derived from the key, never
/// stored. An archived row is a slim placeholder: its body, tags and trails
/// are in an archive pack, and it is in none of the hot indexes but the id's.
public enum StoredState: Int64, Sendable {
    case live = 0
    case retracted = 1
    case archived = 2
    /// Faded and set aside for an evaporation not yet done; otherwise a live
    /// note. A write that uses it, or changes one of its trails, sets it
    /// live again (the compactor packs it from a read, outside the write lock).
    case evaporating = 3
}

/// A note row as stored, before its weight is taken at an instant.
public struct NoteRow: Sendable {
    public var seq: Int64
    public var id: String
    public var body: String
    public var tags: String
    public var after: String
    public var key: Double
    public var state: StoredState
    public var deposits: Int64
    public var agent: String?
    public var rank: Double?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var retractionReason: String?
    public var retractionAgent: String?
    public var retractedAt: Int64?

    public init(seq: Int64, id: String, body: String, tags: String, after: String, key: Double, state: StoredState,
                deposits: Int64, agent: String?, rank: Double?, createdAt: Int64, updatedAt: Int64,
                retractionReason: String?, retractionAgent: String?, retractedAt: Int64?) {
        self.seq = seq
        self.id = id
        self.body = body
        self.tags = tags
        self.after = after
        self.key = key
        self.state = state
        self.deposits = deposits
        self.agent = agent
        self.rank = rank
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.retractionReason = retractionReason
        self.retractionAgent = retractionAgent
        self.retractedAt = retractedAt
    }

    /// A live note just inserted as `seq`, without reading it back.
    public init(inserted seq: Int64, id: String, body: String, tags: String, after: String, key: Double, agent: String?, at millis: Int64) {
        self.seq = seq
        self.id = id
        self.body = body
        self.tags = tags
        self.after = after
        self.key = key
        state = .live
        deposits = 1
        self.agent = agent
        rank = nil
        createdAt = millis
        updatedAt = millis
    }

    public var tagList: [String] { Self.words(tags) }
    public var afterList: [String] { Self.words(after) }

    /// The space-separated words of `text`, split on its bytes (a split on
    /// characters walks grapheme clusters: 29 % of traild's CPU under the
    /// colony's claims world, whose notes carry 8 `after` ids on average).
    static func words(_ text: String) -> [String] {
        text.isEmpty ? [] : text.utf8.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// What a deposit of this note's body again (or a merge into it) adds:
    /// `tags` and `after` united with the note's (contract §3: a note has at
    /// most 16 tags and 32 `after`). The note's tags stay and new ones join
    /// while there is room (tags are how readers find it); `after` keeps the
    /// 32 named last (in the order first named; where it was reached from
    /// lately; every trail stays in the trail graph). Returns the tags that joined.
    public mutating func gain(tags new: [String], after reached: [String]) -> [String] {
        var tagSet = tagList
        var joined: [String] = []
        for t in new where !tagSet.contains(t) && tagSet.count < Limits.maxTags {
            tagSet.append(t)
            joined.append(t)
        }
        tags = tagSet.sorted().joined(separator: " ")
        var ids = afterList
        for id in reached where !ids.contains(id) { ids.append(id) }
        after = ids.suffix(Limits.maxAfter).joined(separator: " ")
        return joined
    }

    public var retraction: Retraction? {
        guard state == .retracted, let reason = retractionReason else { return nil }
        return Retraction(reason: reason, agent: retractionAgent, atMillis: retractedAt ?? updatedAt)
    }

    /// The note as the protocol shows it at `now`.
    public func note(ns: NamespaceSettings, at now: Double) -> Note {
        let decay = ns.decay
        let weight = decay.weight(key: key, at: now)
        let shown: NoteState
        switch state {
        case .retracted: shown = .retracted
        case .archived: shown = .archived
        case .live, .evaporating: shown = key < decay.thresholdKey(ns.evaporateBelow, at: now) ? .faded : .live
        }
        return Note(
            id: NoteID(trustedHex: id), ns: ns.name, body: body, tags: tagList,
            after: afterList.map(NoteID.init(trustedHex:)), weight: weight, rank: rank,
            deposits: Int(deposits), agent: agent, state: shown,
            createdAtMillis: createdAt, updatedAtMillis: updatedAt, retraction: retraction)
    }
}

