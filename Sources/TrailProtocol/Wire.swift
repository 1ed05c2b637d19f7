import TrailCore

/// How the model is written on the wire: the one place that names the JSON
/// members of notes and results (docs/protocol.md and Schemas/ describe them).
public enum Wire {
    public static func time(_ millis: Int64) -> JSONValue { .string(Timestamp.rfc3339(millis: millis)) }

    public static func retraction(_ r: Retraction) -> JSONValue {
        .object(["reason": .string(r.reason), "agent": r.agent.map(JSONValue.string) ?? .null, "at": time(r.atMillis)])
    }

    /// A note's members; `contested_by` only when some live note contests it.
    public static func noteObject(_ n: Note) -> JSONObject {
        var o: JSONObject = [
            "id": .string(n.id.hex),
            "ns": .string(n.ns),
            "body": .string(n.body),
            "tags": .array(n.tags.map(JSONValue.string)),
            "after": .array(n.after.map { .string($0.hex) }),
            "weight": .double(n.weight),
            "rank": n.rank.map(JSONValue.double) ?? .null,
            "deposits": .int(n.deposits),
            "agent": n.agent.map(JSONValue.string) ?? .null,
            "state": .string(n.state.rawValue),
            "created_at": time(n.createdAtMillis),
            "updated_at": time(n.updatedAtMillis),
            "retraction": n.retraction.map(retraction) ?? .null,
        ]
        if !n.contestedBy.isEmpty { o["contested_by"] = .array(n.contestedBy.map { .string($0.hex) }) }
        return o
    }

    public static func note(_ n: Note) -> JSONValue { .object(noteObject(n)) }

    public static func scored(_ s: ScoredNote) -> JSONValue {
        var o = noteObject(s.note)
        o["score"] = .double(s.score)
        return .object(o)
    }

    /// A note of a `sense` with `similar`: with `similarity` always (null
    /// for a note found by words that is not embedded yet).
    public static func scoredByMeaning(_ s: ScoredNote) -> JSONValue {
        var o = noteObject(s.note)
        o["score"] = .double(s.score)
        o["similarity"] = s.similarity.map(JSONValue.double) ?? .null
        return .object(o)
    }

    /// `trail.get`'s answer: the note, its trails and its history.
    public static func details(_ d: NoteDetails) -> JSONValue {
        .object([
            "note": note(d.note),
            "trails": .array(d.trails.map {
                .object(["other": .string($0.other.hex), "weight": .double($0.weight), "direction": .string($0.direction.rawValue)])
            }),
            "history": .array(d.history.map { h in
                .object([
                    "at": time(h.atMillis), "op": .string(h.op), "agent": h.agent.map(JSONValue.string) ?? .null,
                    "delta": h.delta.map(JSONValue.double) ?? .null, "detail": h.detail.map(JSONValue.string) ?? .null,
                ])
            }),
        ])
    }

    public static func step(_ s: TrailStep) -> JSONValue {
        .object(["to": .string(s.to.hex), "weight": .double(s.weight), "direction": .string(s.direction.rawValue), "note": note(s.note)])
    }

    public static func settings(_ s: NamespaceSettings) -> JSONObject {
        [
            "ns": .string(s.name),
            "half_life_s": .double(s.halfLife),
            "evaporate_below": .double(s.evaporateBelow),
            "max_note_bytes": .int(s.maxNoteBytes),
            "contest_similarity": .double(s.contestSimilarity),
        ]
    }

    public static func counts(_ c: NamespaceCounts, into o: inout JSONObject) {
        o["notes"] = .int(c.notes)
        o["live"] = .int(c.live)
        o["faded"] = .int(c.faded)
        o["archived"] = .int(c.archived)
        o["retracted"] = .int(c.retracted)
        o["edges"] = .int(c.edges)
    }

    /// The last compaction, as `trail.stats` reports it.
    public static func compaction(_ r: CompactionReport) -> JSONValue {
        .object([
            "ns": .string(r.ns), "started_at": time(r.startedAtMillis), "duration_ms": .int(Int(r.durationMillis)),
            "evaporated": .int(r.evaporated), "archived_bytes": .int(r.archivedBytes), "ranked": .int(r.ranked),
            "rebased": .bool(r.rebased),
        ])
    }

    /// `trail.hello`'s `limits` and `defaults`.
    public static func limits(maxFrameBytes: Int) -> JSONValue {
        .object([
            "max_frame_bytes": .int(maxFrameBytes),
            "max_note_bytes": .int(Limits.defaultMaxNoteBytes),
            "max_note_bytes_cap": .int(Limits.maxNoteBytesCap),
            "max_tags": .int(Limits.maxTags),
            "max_tag_bytes": .int(Limits.maxTagBytes),
            "max_after": .int(Limits.maxAfter),
            "max_agent_bytes": .int(Limits.maxAgentBytes),
            "max_limit": .int(Limits.maxLimit),
            "max_abs_number": .double(Limits.maxAbsNumber),
            "min_id_prefix": .int(Limits.minIDPrefix),
            "max_batch": .int(Limits.maxBatch),
        ])
    }

    public static var defaults: JSONValue {
        .object([
            "half_life_s": .double(Limits.defaultHalfLife),
            "evaporate_below": .double(Limits.defaultEvaporateBelow),
            "max_note_bytes": .int(Limits.defaultMaxNoteBytes),
            "contest_similarity": .double(Limits.defaultContestSimilarity),
        ])
    }
}
