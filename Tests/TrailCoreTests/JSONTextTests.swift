import Foundation
import Testing
import TrailCore

/// The one writer of JSON strings and numbers: every form written exactly.
@Suite("JSON text")
struct JSONTextTests {
    private func text(_ write: (inout JSONText) -> Void) -> String {
        var t = JSONText()
        write(&t)
        return String(decoding: t.bytes, as: UTF8.self)
    }

    @Test("strings escape quote, backslash and control characters, and keep the rest byte for byte")
    func strings() {
        let cases: [(String, String)] = [
            ("", #""""#),
            ("plain", #""plain""#),
            ("quote \" backslash \\ slash /", #""quote \" backslash \\ slash /""#),
            ("tab\tnew\nline\rret", #""tab\tnew\nline\rret""#),
            ("\u{0}\u{1}\u{1f}\u{7f}", "\"\\u0000\\u0001\\u001f\u{7f}\""),
            ("é ü 日本 🐜", "\"é ü 日本 🐜\""),
            ("end\\", #""end\\""#),
        ]
        for (value, expected) in cases {
            #expect(text { $0.string(value) } == expected, "\(value)")
        }
        let long = String(repeating: "long \"body\" words ", count: 300)
        #expect(text { $0.string(long) } == "\"" + long.replacingOccurrences(of: "\"", with: "\\\"") + "\"")
    }

    @Test("numbers: integral ones under 1e15 as integers, others in shortest form, non-finite as null")
    func numbers() {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "0"), (1, "1"), (-1, "-1"), (0.1, "0.1"), (2.5, "2.5"), (123456.789, "123456.789"),
            (1e15 - 1, "999999999999999"), (1e15, "1000000000000000.0"), (-1e15, "-1000000000000000.0"), (1e16, "1e+16"), (1e300, "1e+300"),
            (0.999999999233545, "0.999999999233545"), (.leastNonzeroMagnitude, "5e-324"),
            (.nan, "null"), (.infinity, "null"), (-.infinity, "null"),
        ]
        for (value, expected) in cases {
            #expect(text { $0.number(value) } == expected, "\(value)")
        }
        let ints: [(Int64, String)] = [(0, "0"), (9, "9"), (10, "10"), (-10, "-10"), (123_456_789, "123456789"),
                                       (.max, "9223372036854775807"), (.min, "-9223372036854775808")]
        for (value, expected) in ints {
            #expect(text { $0.integer(value) } == expected)
        }
    }

    @Test("a text made from another's bytes starts empty and appends as given")
    func reuse() {
        var first = JSONText()
        first.string("something long enough to matter")
        var again = JSONText(reusing: first.bytes)
        #expect(again.bytes.isEmpty)
        again.append("[")
        again.integer(1)
        again.append(byte: UInt8(ascii: "]"))
        #expect(again.bytes == Array("[1]".utf8))
    }
}
