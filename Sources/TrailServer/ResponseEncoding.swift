import TrailCore
import TrailProtocol

/// The daemon's answers to `sense` and `follow`, written straight from the
/// model into the codec's `JSONText`.
extension JSONText {
    /// Appends the success response to request `id`: the same bytes as
    /// `write(RPCResponse.success(id: id, result: result.json))` (a test holds
    /// the two together), with a `sense`'s notes and a `follow`'s steps
    /// written straight from the model, without building and freeing a
    /// `JSONValue` tree of every note (about a third of the daemon's own time
    /// in a `sense` of ten notes).
    mutating func writeSuccess(id: JSONValue, result: ReadResult) {
        append("{\"jsonrpc\":\"2.0\",\"id\":")
        write(id)
        append(",\"result\":")
        switch result {
        case let .json(value):
            write(value)
        case let .scoredNotes(notes):
            append("{\"notes\":[")
            for (i, scored) in notes.enumerated() {
                if i > 0 { append(byte: UInt8(ascii: ",")) }
                writeNoteMembers(scored.note)
                append(",\"score\":")
                number(scored.score)
                append(byte: UInt8(ascii: "}"))
            }
            append("]}")
        case let .followed(followed, seed):
            append("{\"from\":")
            string(followed.from.hex)
            append(",\"trails\":[")
            for (i, step) in followed.steps.enumerated() {
                if i > 0 { append(byte: UInt8(ascii: ",")) }
                append("{\"to\":")
                string(step.to.hex)
                append(",\"weight\":")
                number(step.weight)
                append(",\"direction\":")
                string(step.direction.rawValue)
                append(",\"note\":")
                writeNoteMembers(step.note)
                append("}}")
            }
            append("],\"seed\":")
            integer(Int64(Int(seed)))
            append(byte: UInt8(ascii: "}"))
        }
        append(byte: UInt8(ascii: "}"))
    }

    /// `{` and the members of `Wire.noteObject(note)`, in its order; the caller closes the object.
    private mutating func writeNoteMembers(_ n: Note) {
        append("{\"id\":")
        string(n.id.hex)
        append(",\"ns\":")
        string(n.ns)
        append(",\"body\":")
        string(n.body)
        append(",\"tags\":[")
        for (i, tag) in n.tags.enumerated() {
            if i > 0 { append(byte: UInt8(ascii: ",")) }
            string(tag)
        }
        append("],\"after\":[")
        for (i, id) in n.after.enumerated() {
            if i > 0 { append(byte: UInt8(ascii: ",")) }
            string(id.hex)
        }
        append("],\"weight\":")
        number(n.weight)
        append(",\"rank\":")
        if let rank = n.rank { number(rank) } else { append("null") }
        append(",\"deposits\":")
        integer(Int64(n.deposits))
        append(",\"agent\":")
        if let agent = n.agent { string(agent) } else { append("null") }
        append(",\"state\":")
        string(n.state.rawValue)
        append(",\"created_at\":")
        string(Timestamp.rfc3339(millis: n.createdAtMillis))
        append(",\"updated_at\":")
        string(Timestamp.rfc3339(millis: n.updatedAtMillis))
        append(",\"retraction\":")
        if let r = n.retraction { write(Wire.retraction(r)) } else { append("null") }
        if !n.contestedBy.isEmpty {
            append(",\"contested_by\":[")
            for (i, id) in n.contestedBy.enumerated() {
                if i > 0 { append(byte: UInt8(ascii: ",")) }
                string(id.hex)
            }
            append(byte: UInt8(ascii: "]"))
        }
    }
}
