/// Splits a script of several SQL statements into single statements.
///
/// postgres-nio sends every query with the extended protocol, whose Parse
/// message takes exactly one statement ("cannot insert multiple commands into
/// a prepared statement"), so a migration written as one script is run one
/// statement at a time. The split is at `;` outside string literals (`'...'`,
/// `E'...'` with backslash escapes), quoted identifiers (`"..."`), dollar
/// quotes (`$$...$$`, `$tag$...$tag$`) and comments (`-- ...`, nested
/// `/* ... */`). Not understood: SQL-standard function bodies
/// (`BEGIN ATOMIC ... END`, whose inner `;` would split); write such
/// functions with a dollar-quoted body instead.
enum SQLScript {
    /// The statements of `script`, trimmed, without the `;` that ended them;
    /// pieces holding only whitespace and comments are dropped.
    static func statements(_ script: String) -> [String] {
        let s = Array(script.utf8)
        var out: [String] = []
        var start = 0
        var onlyComments = true   // nothing but whitespace and comments since `start`
        var i = 0

        func flush(upTo end: Int) {
            if !onlyComments, let text = String(validating: s[start..<end], as: UTF8.self) {
                let trimmed = text.trimmingWhitespace()
                if !trimmed.isEmpty { out.append(trimmed) }
            }
            onlyComments = true
        }

        while i < s.count {
            let c = s[i]
            switch c {
            case UInt8(ascii: ";"):
                flush(upTo: i)
                i += 1
                start = i
                continue
            case UInt8(ascii: "-") where i + 1 < s.count && s[i + 1] == UInt8(ascii: "-"):
                while i < s.count && s[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where i + 1 < s.count && s[i + 1] == UInt8(ascii: "*"):
                // Block comments nest in PostgreSQL.
                var depth = 0
                while i < s.count {
                    if s[i] == UInt8(ascii: "/"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "*") {
                        depth += 1; i += 2
                    } else if s[i] == UInt8(ascii: "*"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "/") {
                        depth -= 1; i += 2
                        if depth == 0 { break }
                    } else {
                        i += 1
                    }
                }
                continue
            case UInt8(ascii: "'"):
                let escapes = i > 0 && (s[i - 1] == UInt8(ascii: "E") || s[i - 1] == UInt8(ascii: "e"))
                    && (i < 2 || !isIdentifierByte(s[i - 2]))
                i = endOfQuoted(s, from: i, quote: UInt8(ascii: "'"), backslashEscapes: escapes)
            case UInt8(ascii: "\""):
                i = endOfQuoted(s, from: i, quote: UInt8(ascii: "\""), backslashEscapes: false)
            case UInt8(ascii: "$"):
                if let end = endOfDollarQuote(s, from: i) { i = end } else { i += 1 }
            default:
                i += 1
            }
            if !isWhitespace(c) { onlyComments = false }
        }
        flush(upTo: s.count)
        return out
    }

    /// The index after the closing quote (or the end, if it never closes).
    private static func endOfQuoted(_ s: [UInt8], from open: Int, quote: UInt8, backslashEscapes: Bool) -> Int {
        var i = open + 1
        while i < s.count {
            if backslashEscapes && s[i] == UInt8(ascii: "\\") {
                i += 2
            } else if s[i] == quote {
                // A doubled quote is a quote inside the literal.
                if i + 1 < s.count && s[i + 1] == quote { i += 2 } else { return i + 1 }
            } else {
                i += 1
            }
        }
        return s.count
    }

    /// If a dollar quote opens at `open`, the index after its closing tag;
    /// nil when the `$` is something else (a `$1` parameter, part of a name).
    private static func endOfDollarQuote(_ s: [UInt8], from open: Int) -> Int? {
        if open > 0 && isIdentifierByte(s[open - 1]) { return nil }
        var j = open + 1
        if j < s.count, s[j] >= UInt8(ascii: "0") && s[j] <= UInt8(ascii: "9") { return nil }
        while j < s.count && s[j] != UInt8(ascii: "$") {
            guard isIdentifierByte(s[j]) else { return nil }
            j += 1
        }
        guard j < s.count else { return nil }
        let tag = s[open...j]   // `$tag$`
        var i = j + 1
        while i + tag.count <= s.count {
            if s[i] == UInt8(ascii: "$") && s[i..<(i + tag.count)].elementsEqual(tag) { return i + tag.count }
            i += 1
        }
        return s.count
    }

    private static func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b >= 0x80
    }

    private static func isWhitespace(_ b: UInt8) -> Bool {
        b == UInt8(ascii: " ") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") || b == 0x0C
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
