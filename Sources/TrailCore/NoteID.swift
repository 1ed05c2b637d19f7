import Crypto

/// A note's address: the lowercase hex SHA-256 of its body's UTF-8 bytes,
/// exactly as received (no normalisation).
public struct NoteID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 64 lowercase hex digits.
    public let hex: String

    /// Wraps 64 lowercase hex digits that are already known to be an id.
    public init(trustedHex: String) { self.hex = trustedHex }

    /// The id of `body`. Costs one SHA-256 over its bytes.
    public init(body: String) {
        var hasher = SHA256()
        var copy = body
        copy.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        let digest = hasher.finalize()
        var out = [UInt8]()
        out.reserveCapacity(64)
        let digits = Array("0123456789abcdef".utf8)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        self.hex = String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public static func < (lhs: NoteID, rhs: NoteID) -> Bool { lhs.hex < rhs.hex }
}

/// An id or a prefix of one, as a client may send it: 8 to 64 hex digits,
/// lowered.
public struct IDPrefix: Hashable, Sendable, CustomStringConvertible {
    /// The lowercase hex digits.
    public let hex: String

    /// Validates and lowers `text`; throws `invalidParams` naming `field`.
    public init(_ text: String, field: String) throws(TrailError) {
        let bytes = Array(text.utf8)
        guard bytes.count >= Limits.minIDPrefix, bytes.count <= 64 else {
            throw .invalidParams(field: field, message: "\(field) must be a note id or a prefix of \(Limits.minIDPrefix) to 64 hex digits; got \(bytes.count) characters.")
        }
        var lowered = [UInt8]()
        lowered.reserveCapacity(bytes.count)
        for b in bytes {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): lowered.append(b)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): lowered.append(b + 32)
            default:
                throw .invalidParams(field: field, message: "\(field) must contain hex digits only (0-9, a-f); use the id a deposit returned.")
            }
        }
        self.hex = String(decoding: lowered, as: UTF8.self)
    }

    /// The whole of `id`, as a prefix.
    public init(_ id: NoteID) { self.hex = id.hex }

    /// True when this is a whole id rather than a prefix.
    public var isComplete: Bool { hex.utf8.count == 64 }

    /// The smallest string greater than every id with this prefix, for a range scan.
    public var upperBound: String { hex + "g" }

    public var description: String { hex }
}
