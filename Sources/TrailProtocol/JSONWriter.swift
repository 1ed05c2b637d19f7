import NIOCore
import TrailCore

extension JSONText {
    /// Appends `value` as compact JSON (no newline), members in the order
    /// they were added.
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: append("null")
        case let .bool(b): append(b ? "true" : "false")
        case let .int(i): integer(Int64(i))
        case let .double(d): number(d)
        case let .string(s): string(s)
        case let .array(items):
            append(byte: UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { append(byte: UInt8(ascii: ",")) }
                write(item)
            }
            append(byte: UInt8(ascii: "]"))
        case let .object(object):
            append(byte: UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { append(byte: UInt8(ascii: ",")) }
                string(member.key)
                append(byte: UInt8(ascii: ":"))
                write(member.value)
            }
            append(byte: UInt8(ascii: "}"))
        }
    }
}

/// Serialises a `JSONValue` in one pass (`JSONText.write`), members in the
/// order they were added.
public enum JSONWriter {
    /// Appends `value` to `buffer` as compact JSON (no newline).
    public static func write(_ value: JSONValue, into buffer: inout ByteBuffer) {
        buffer.writeBytes(bytes(value))
    }

    /// The JSON text of `value` as bytes.
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var text = JSONText()
        text.write(value)
        return text.bytes
    }
}
