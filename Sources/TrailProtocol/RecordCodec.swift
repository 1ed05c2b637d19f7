import TrailCore

extension Wire {
    /// A record of `trail.export`: the note's stored state and its outgoing trails.
    public static func record(_ r: NoteRecord) -> JSONValue {
        var o = noteObject(r.note)
        o["ns"] = nil
        o["trails"] = .array(r.trails.map { .object(["to": .string($0.to.hex), "weight": .double($0.weight)]) })
        return .object(o)
    }
}

/// Reads and checks the records of `trail.import`, so that a bad record is
/// refused before anything is written. Errors name the record:
/// `records[N].field`.
public enum RecordReader {
    public static func read(_ value: JSONValue, index: Int, ns: String) throws(TrailError) -> NoteRecord {
        let at = "records[\(index)]"
        func bad(_ field: String, _ why: String) -> TrailError {
            .invalidParams(field: "\(at).\(field)", message: "\(at).\(field) \(why); import only files written by trailctl export.")
        }
        guard case let .object(o) = value else {
            throw .invalidParams(field: at, message: "\(at) must be an object; import only files written by trailctl export.")
        }
        let known: Set = ["id", "body", "tags", "after", "weight", "deposits", "agent", "state", "rank", "created_at",
                          "updated_at", "retraction", "trails"]
        if let unknown = o.keys.first(where: { !known.contains($0) }) { throw bad(unknown, "is not a record field") }
        guard let body = o["body"]?.string, !body.isEmpty else { throw bad("body", "must be a non-empty string") }
        let id = NoteID(body: body)
        guard o["id"]?.string == id.hex else { throw bad("id", "is not the SHA-256 of the body") }
        var tags: [String] = []
        for t in o["tags"]?.array ?? [] {
            guard let s = t.string else { throw bad("tags", "must be strings") }
            tags.append(s)
        }
        do { tags = try Validate.tags(tags, field: "\(at).tags") } catch { throw error }
        var after: [NoteID] = []
        for a in o["after"]?.array ?? [] {
            guard let s = a.string, s.utf8.count == 64, (try? IDPrefix(s, field: "after")) != nil else { throw bad("after", "must be full note ids") }
            after.append(NoteID(trustedHex: s.lowercased()))
        }
        guard let weight = o["weight"]?.number, weight.isFinite, weight >= 0, weight <= Limits.maxAbsNumber else {
            throw bad("weight", "must be a number from 0 to 1000000")
        }
        guard let depositsValue = o["deposits"]?.number, depositsValue >= 1, depositsValue == depositsValue.rounded(),
              depositsValue < 9e15 else { throw bad("deposits", "must be a whole number of at least 1") }
        var agent: String?
        if let a = o["agent"], a != .null {
            guard let s = a.string else { throw bad("agent", "must be a string or null") }
            agent = try Validate.printable(s, field: "\(at).agent", maxBytes: Limits.maxAgentBytes)
        }
        guard let stateText = o["state"]?.string, let state = NoteState(rawValue: stateText), state != .faded else {
            throw bad("state", "must be live, retracted or archived")
        }
        var rank: Double?
        if let r = o["rank"], r != .null {
            guard let n = r.number, n.isFinite, n >= 0 else { throw bad("rank", "must be a number of at least 0 or null") }
            rank = n
        }
        guard let created = o["created_at"]?.string.flatMap(Timestamp.parse) else { throw bad("created_at", "must be an RFC 3339 UTC time") }
        guard let updated = o["updated_at"]?.string.flatMap(Timestamp.parse) else { throw bad("updated_at", "must be an RFC 3339 UTC time") }
        var retraction: Retraction?
        if let r = o["retraction"], r != .null {
            guard let reason = r["reason"]?.string, !reason.isEmpty,
                  let when = r["at"]?.string.flatMap(Timestamp.parse) else {
                throw bad("retraction", "must be null or {reason, agent, at}")
            }
            var by: String?
            if let a = r["agent"]?.string { by = try Validate.printable(a, field: "\(at).retraction.agent", maxBytes: Limits.maxAgentBytes) }
            retraction = Retraction(reason: try Validate.reason(reason, field: "\(at).retraction.reason"), agent: by, atMillis: when)
        }
        guard (state == .retracted) == (retraction != nil) else {
            throw bad("retraction", "must be given exactly when the state is retracted")
        }
        var trails: [TrailEnd] = []
        for (i, t) in (o["trails"]?.array ?? []).enumerated() {
            guard let to = t["to"]?.string, to.utf8.count == 64, (try? IDPrefix(to, field: "to")) != nil,
                  let w = t["weight"]?.number, w.isFinite, w >= 0, w <= Limits.maxAbsNumber else {
                throw bad("trails[\(i)]", "must be {to: a full note id, weight: a number from 0 to 1000000}")
            }
            guard to.lowercased() != id.hex else { throw bad("trails[\(i)]", "leads back to the same note") }
            trails.append(TrailEnd(to: NoteID(trustedHex: to.lowercased()), weight: w))
        }
        let note = Note(id: id, ns: ns, body: body, tags: tags, after: after, weight: weight, rank: rank,
                        deposits: Int(depositsValue), agent: agent, state: state, createdAtMillis: created,
                        updatedAtMillis: updated, retraction: retraction)
        return NoteRecord(note: note, trails: trails)
    }
}
