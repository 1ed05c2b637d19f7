import TrailCore
import TrailProtocol

/// Compact JSON of a `JSONValue` into a byte array: the same bytes as
/// `JSONWriter` (members in order, the same escapes, the same number forms),
/// at a fraction of its cost.
///
/// `JSONWriter` appends to a `ByteBuffer` one byte at a time across a module
/// boundary (a capacity and uniqueness check per byte); on a `sense` answer
/// of ten notes (about 3.5 KB) that was the largest single cost of the
/// request. Here every run of unescaped bytes is one append to an array, and
/// the codec copies the array into its buffer once.
struct ResponseEncoder {
    /// The JSON text written so far.
    var bytes: [UInt8]

    init(reusing storage: [UInt8] = []) {
        bytes = storage
        bytes.removeAll(keepingCapacity: true)
    }

    /// Appends `value` as compact JSON (no newline).
    mutating func write(_ value: JSONValue) {
        switch value {
        case .null: append("null")
        case let .bool(b): append(b ? "true" : "false")
        case let .int(i): writeInteger(Int64(i))
        case let .double(d): writeDouble(d)
        case let .string(s): writeString(s)
        case let .array(items):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                write(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case let .object(object):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for member in object.members {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                writeString(member.key)
                bytes.append(UInt8(ascii: ":"))
                write(member.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// A number as `JSONWriter` writes a double: integral values as integers, non-finite as null.
    private mutating func writeDouble(_ d: Double) {
        if d.isFinite {
            if d == d.rounded(), abs(d) < 1e15 { writeInteger(Int64(d)) } else { bytes.append(contentsOf: d.description.utf8) }
        } else {
            append("null")
        }
    }

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
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                writeNoteMembers(scored.note)
                append(",\"score\":")
                writeDouble(scored.score)
                bytes.append(UInt8(ascii: "}"))
            }
            append("]}")
        case let .followed(followed, seed):
            append("{\"from\":")
            writeString(followed.from.hex)
            append(",\"trails\":[")
            for (i, step) in followed.steps.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                append("{\"to\":")
                writeString(step.to.hex)
                append(",\"weight\":")
                writeDouble(step.weight)
                append(",\"direction\":")
                writeString(step.direction.rawValue)
                append(",\"note\":")
                writeNoteMembers(step.note)
                append("}}")
            }
            append("],\"seed\":")
            writeInteger(Int64(Int(seed)))
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// `{` and the members of `Wire.noteObject(note)`, in its order; the caller closes the object.
    private mutating func writeNoteMembers(_ n: Note) {
        append("{\"id\":")
        writeString(n.id.hex)
        append(",\"ns\":")
        writeString(n.ns)
        append(",\"body\":")
        writeString(n.body)
        append(",\"tags\":[")
        for (i, tag) in n.tags.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(tag)
        }
        append("],\"after\":[")
        for (i, id) in n.after.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(id.hex)
        }
        append("],\"weight\":")
        writeDouble(n.weight)
        append(",\"rank\":")
        if let rank = n.rank { writeDouble(rank) } else { append("null") }
        append(",\"deposits\":")
        writeInteger(Int64(n.deposits))
        append(",\"agent\":")
        if let agent = n.agent { writeString(agent) } else { append("null") }
        append(",\"state\":")
        writeString(n.state.rawValue)
        append(",\"created_at\":")
        writeString(Timestamp.rfc3339(millis: n.createdAtMillis))
        append(",\"updated_at\":")
        writeString(Timestamp.rfc3339(millis: n.updatedAtMillis))
        append(",\"retraction\":")
        if let r = n.retraction { write(Wire.retraction(r)) } else { append("null") }
    }

    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Decimal digits, as `String(i)` writes them.
    private mutating func writeInteger(_ i: Int64) {
        if i < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = i.magnitude
        // 20 digits hold UInt64.max.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = digits.count
            repeat {
                n -= 1
                digits[n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[n...]))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// Escapes `"`, `\` and control characters, as `JSONWriter` does;
    /// everything else is copied as UTF-8.
    private mutating func writeString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        if s.utf8.withContiguousStorageIfAvailable({ writeEscaped($0) }) == nil {
            Array(s.utf8).withUnsafeBufferPointer { writeEscaped($0) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        var start = 0
        for i in 0..<utf8.count {
            let b = utf8[i]
            guard b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") else { continue }
            if i > start { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i])) }
            switch b {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            default:
                append("\\u00")
                bytes.append(Self.hex[Int(b >> 4)])
                bytes.append(Self.hex[Int(b & 0x0f)])
            }
            start = i + 1
        }
        if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
    }
}
