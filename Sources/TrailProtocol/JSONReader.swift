import NIOCore

/// Why a text could not be read as JSON, with the byte offset where reading stopped.
public struct JSONReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Offset of the offending byte in the input.
    public var offset: Int
    public var message: String

    public var description: String { "\(message) at byte \(offset)" }
}

/// A strict JSON parser (RFC 8259) straight from UTF-8 bytes to `JSONValue`.
///
/// The daemon reads every request with it and the client every response.
/// Unlike Foundation's `JSONDecoder`, it keeps object members in the order
/// they were written, so a result can be printed back exactly as the daemon
/// sent it, and it makes one pass with no intermediate objects and no
/// `Codable` machinery (the decoder was an eighth of the daemon's CPU time per
/// deposit). Integers that fit an `Int`
/// and carry no fraction or exponent become `.int`, every other number
/// `.double`, the way `JSONWriter` writes them. Nesting is limited to 512
/// levels so hostile input cannot exhaust the stack.
public enum JSONReader {
    static let maxDepth = 512

    /// Parses one JSON text (whitespace around it allowed). Throws `JSONReadError`
    /// on anything else, including invalid UTF-8 inside strings.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONReadError) -> JSONValue {
        var cursor = Cursor(bytes: bytes)
        cursor.skipSpace()
        let value = try cursor.value(depth: 0)
        cursor.skipSpace()
        guard cursor.atEnd else { throw cursor.fail("unexpected text after the JSON value") }
        return value
    }

    /// Parses the bytes of `collection`.
    public static func parse(_ collection: some Collection<UInt8>) throws(JSONReadError) -> JSONValue {
        let result: Result<JSONValue, JSONReadError>? = collection.withContiguousStorageIfAvailable { buffer in
            do throws(JSONReadError) { return .success(try parse(UnsafeRawBufferPointer(buffer))) } catch { return .failure(error) }
        }
        if let result { return try result.get() }
        let copy = Array(collection)
        let copied: Result<JSONValue, JSONReadError> = copy.withUnsafeBytes { raw in
            do throws(JSONReadError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try copied.get()
    }

    /// Parses the readable bytes of `buffer` without copying them.
    public static func parse(_ buffer: ByteBuffer) throws(JSONReadError) -> JSONValue {
        let result: Result<JSONValue, JSONReadError> = buffer.withUnsafeReadableBytes { raw in
            do throws(JSONReadError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses the UTF-8 of `text`.
    public static func parse(_ text: String) throws(JSONReadError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

private struct Cursor {
    let bytes: UnsafeRawBufferPointer
    var i = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }

    func fail(_ message: String) -> JSONReadError { JSONReadError(offset: i, message: message) }

    mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(JSONReadError) -> JSONValue {
        guard i < bytes.count else { throw fail("the text ends where a value was expected") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character where a value was expected")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONReadError) {
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count else { throw fail("the text ends inside a literal") }
        for k in 0..<count where bytes[i + k] != word.utf8Start[k] {
            throw fail("unknown literal")
        }
        i += count
    }

    mutating func object(depth: Int) throws(JSONReadError) -> JSONValue {
        guard depth <= JSONReader.maxDepth else { throw fail("nesting deeper than \(JSONReader.maxDepth) levels") }
        i += 1
        var object = JSONObject()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return .object(object)
        }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after a member name") }
            i += 1
            skipSpace()
            let member = try value(depth: depth)
            // A repeated name keeps the last value, as most parsers do.
            object[key] = member
            skipSpace()
            guard i < bytes.count else { throw fail("the text ends inside an object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(object) }
            throw fail("expected ',' or '}' in an object")
        }
    }

    mutating func array(depth: Int) throws(JSONReadError) -> JSONValue {
        guard depth <= JSONReader.maxDepth else { throw fail("nesting deeper than \(JSONReader.maxDepth) levels") }
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return .array(items)
        }
        while true {
            skipSpace()
            items.append(try value(depth: depth))
            skipSpace()
            guard i < bytes.count else { throw fail("the text ends inside an array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("expected ',' or ']' in an array")
        }
    }

    mutating func number() throws(JSONReadError) -> JSONValue {
        let start = i
        var integral = true
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, isDigit(bytes[i]) else { throw fail("a number needs digits") }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard i < bytes.count, isDigit(bytes[i]) else { throw fail("a fraction needs digits") }
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, isDigit(bytes[i]) else { throw fail("an exponent needs digits") }
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if integral, let n = Int(text) { return .int(n) }
        guard let d = Double(text), d.isFinite else { throw JSONReadError(offset: start, message: "number out of range") }
        return .double(d)
    }

    func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    mutating func string() throws(JSONReadError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes, so the bytes are the string.
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
                guard let s = String(validating: slice, as: UTF8.self) else {
                    throw JSONReadError(offset: start, message: "a string is not valid UTF-8")
                }
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail("a control character inside a string must be escaped") }
            i += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
        while true {
            guard i < bytes.count else { throw fail("the text ends inside a string") }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw JSONReadError(offset: start, message: "a string is not valid UTF-8")
                }
                return s
            }
            if b < 0x20 { throw fail("a control character inside a string must be escaped") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { throw fail("the text ends inside an escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail("a lone surrogate in a \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("a lone surrogate in a \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("a lone surrogate in a \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("an invalid \\u escape") }
                UTF8.encode(u) { out.append($0) }
            default:
                throw fail("unknown escape in a string")
            }
        }
    }

    mutating func hex4() throws(JSONReadError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("the text ends inside a \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw fail("a \\u escape needs four hex digits")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }
}
