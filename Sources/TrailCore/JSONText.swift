/// Compact JSON text written into a byte array: the project's one writer of
/// JSON strings and numbers, under responses and requests (`JSONWriter`,
/// the daemon's direct answers) and archive records alike.
///
/// Every run of bytes that needs no escape is one append to the array, and
/// integers are written digit by digit: no `String` is made on the way.
/// The writers are inlinable: callers in other modules (the daemon's
/// answers) get them specialized, as if written there.
public struct JSONText {
    /// The text written so far.
    public var bytes: [UInt8]

    /// Starts empty, keeping `storage`'s capacity (reuse an earlier text's bytes).
    public init(reusing storage: [UInt8] = []) {
        bytes = storage
        bytes.removeAll(keepingCapacity: true)
    }

    /// Appends `text` as it is (punctuation, member names, literals).
    @inlinable
    public mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends one byte as it is.
    @inlinable
    public mutating func append(byte: UInt8) {
        bytes.append(byte)
    }

    /// Decimal digits, as `String(i)` writes them.
    @inlinable
    public mutating func integer(_ i: Int64) {
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

    /// A number: integral values under 1e15 as integers, other finite
    /// values in Swift's shortest round-trip form, NaN and infinities as null.
    @inlinable
    public mutating func number(_ d: Double) {
        if d.isFinite {
            if d == d.rounded(), abs(d) < 1e15 { integer(Int64(d)) } else { bytes.append(contentsOf: d.description.utf8) }
        } else {
            append("null")
        }
    }

    /// A string in quotes: `"`, `\` and control characters escaped
    /// (`\n`, `\r`, `\t`, else `\u00XX`), everything else as its UTF-8 bytes.
    @inlinable
    public mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        if s.utf8.withContiguousStorageIfAvailable({ escaped($0) }) == nil {
            Array(s.utf8).withUnsafeBufferPointer { escaped($0) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    @usableFromInline
    static let hex = Array("0123456789abcdef".utf8)

    @inlinable
    mutating func escaped(_ utf8: UnsafeBufferPointer<UInt8>) {
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
