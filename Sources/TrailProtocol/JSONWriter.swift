import NIOCore

/// Serialises a `JSONValue` straight into a `ByteBuffer`: one pass, no
/// intermediate `Data` or dictionary, members in the order they were added.
public enum JSONWriter {
    /// Appends `value` to `buffer` as compact JSON (no newline).
    public static func write(_ value: JSONValue, into buffer: inout ByteBuffer) {
        switch value {
        case .null: buffer.writeStaticString("null")
        case let .bool(b): buffer.writeStaticString(b ? "true" : "false")
        case let .int(i): buffer.writeString(String(i))
        case let .double(d):
            if d.isFinite {
                if d == d.rounded(), abs(d) < 1e15 { buffer.writeString(String(Int64(d))) } else { buffer.writeString(d.description) }
            } else {
                buffer.writeStaticString("null")
            }
        case let .string(s): writeString(s, into: &buffer)
        case let .array(items):
            buffer.writeInteger(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                write(item, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case let .object(object):
            buffer.writeInteger(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                writeString(member.key, into: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                write(member.value, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    /// The JSON text of `value` as bytes.
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        write(value, into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// Escapes `"`, `\` and control characters; everything else is written as UTF-8.
    static func writeString(_ s: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var start = 0
            for (i, b) in utf8.enumerated() where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                if i > start { buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[start..<i])) }
                switch b {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                default:
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(b >> 4)])
                    buffer.writeInteger(hex[Int(b & 0x0f)])
                }
                start = i + 1
            }
            if start < utf8.count { buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[start...])) }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
