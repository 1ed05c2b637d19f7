import Testing
import TrailProtocol
@testable import TrailServer

@Suite("Response encoder")
struct ResponseEncoderTests {
    /// The wire must not change: every value encodes to JSONWriter's bytes.
    @Test("writes exactly what JSONWriter writes")
    func sameBytesAsJSONWriter() {
        let strings = ["", "plain", "quote \" backslash \\ slash /", "tab\tnew\nline\rret", "\u{0}\u{1}\u{1f}\u{7f}",
                       "é ü 日本 🐜", String(repeating: "long body words ", count: 300), "end\\"]
        let doubles: [Double] = [0, -0.0, 1, -1, 0.1, 2.5, 1e15, 1e15 - 1, -1e15, 1e16, 1e300, .leastNonzeroMagnitude, 0.999999999233545,
                                 .nan, .infinity, -.infinity, 123456.789, Double(Int64.max)]
        let ints = [0, 1, -1, 9, 10, -10, 123_456_789, Int.max, Int.min]
        var values: [JSONValue] = [.null, .bool(true), .bool(false), .array([]), .object([:])]
        values += strings.map(JSONValue.string) + doubles.map(JSONValue.double) + ints.map(JSONValue.int)
        let object: JSONObject = ["id": .int(7), "jsonrpc": "2.0", "result": .object([
            "notes": .array(values), "nested": .array([.object(["k\"ey": .string("v"), "": .null])]),
        ])]
        values.append(.object(object))
        values.append(.array(values))
        for value in values {
            var encoder = ResponseEncoder()
            encoder.write(value)
            #expect(encoder.bytes == JSONWriter.bytes(value), "\(value)")
        }
        // A reused array starts empty.
        var first = ResponseEncoder()
        first.write(.string("something long enough to matter"))
        var again = ResponseEncoder(reusing: first.bytes)
        again.write(.int(1))
        #expect(again.bytes == Array("1".utf8))
    }
}
