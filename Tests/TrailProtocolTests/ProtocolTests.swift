import NIOCore
import NIOEmbedded
import Testing
import TrailCore
@testable import TrailProtocol

@Suite("JSON values and the writer")
struct JSONTests {
    @Test("round trip keeps strings byte for byte and escapes control characters")
    func roundTrip() throws {
        let text = "line\n\"quoted\" \\ tab\t \u{1} é 🐜"
        let value: JSONValue = .object(["s": .string(text), "n": 1.5, "i": 3, "b": true, "z": nil, "a": [1, "x"]])
        let bytes = JSONWriter.bytes(value)
        let back = try JSONReader.parse(bytes)
        #expect(back["s"]?.string == text)
        #expect(back["n"]?.number == 1.5)
        #expect(back["i"]?.number == 3)
        #expect(back["b"] == true)
        #expect(back["z"] == .null)
        #expect(back["a"]?.array?.count == 2)
        #expect(String(decoding: bytes, as: UTF8.self).contains("\\u0001"))
    }

    @Test("bad JSON and bad UTF-8 are refused")
    func refused() {
        #expect(throws: (any Error).self) { try JSONReader.parse(Array("{bad".utf8)) }
        #expect(throws: (any Error).self) { try JSONReader.parse([0x22, 0xff, 0xfe, 0x22]) }
    }
}

@Suite("Requests and calls")
struct RequestTests {
    func request(_ json: String) throws -> JSONValue { try JSONReader.parse(Array(json.utf8)) }

    @Test("a well-formed request")
    func wellFormed() throws {
        let r = try RPCRequest(request(#"{"jsonrpc":"2.0","id":7,"method":"trail.get","params":{"id":"abcdef12"}}"#))
        #expect(r.id == 7 && r.method == "trail.get")
    }

    @Test("invalid requests keep the id when it can be read", arguments: [
        (#"{"jsonrpc":"1.0","id":1,"method":"x"}"#, JSONValue.int(1)),
        (#"{"jsonrpc":"2.0","id":"a"}"#, JSONValue.string("a")),
        (#"{"jsonrpc":"2.0","id":2,"method":5}"#, JSONValue.int(2)),
        (#"42"#, JSONValue.null),
        (#"{"jsonrpc":"2.0","id":{},"method":"x"}"#, JSONValue.null),
    ])
    func invalid(json: String, id: JSONValue) throws {
        let value = try request(json)
        do throws(RPCRequestFailure) {
            _ = try RPCRequest(value)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.id == id)
            #expect(error.rpcError.code == -32600)
        }
    }

    @Test("params are typed, bounded, and unknown ones refused")
    func params() throws {
        func call(_ method: String, _ params: JSONObject) -> Result<Call, CallError> {
            Result { () throws(CallError) in try Call(method: method, params: params, agent: nil) }
        }
        #expect(throws: CallError.self) { try call("trail.deposit", ["body": 5]).get() }
        #expect(throws: CallError.self) { try call("trail.deposit", ["body": "x", "strength": 0]).get() }
        #expect(throws: CallError.self) { try call("trail.deposit", ["body": "x", "tag": ["a"]]).get() }
        #expect(throws: CallError.self) { try call("trail.deposit", ["body": ""]).get() }
        #expect(throws: CallError.self) { try call("trail.sense", ["limit": 1001]).get() }
        #expect(throws: CallError.self) { try call("trail.sense", ["limit": 2.5]).get() }
        #expect(throws: CallError.self) { try call("trail.sense", ["query": "  !! "]).get() }
        #expect(throws: CallError.self) { try call("trail.follow", ["from": "abcdef12", "explore": 1.5]).get() }
        #expect(throws: CallError.self) { try call("trail.retract", ["id": "abcdef12", "reason": " "]).get() }
        #expect(throws: CallError.self) { try call("trail.get", ["id": "abcdef12", "ns": "Bad"]).get() }
        #expect(throws: CallError.self) { try call("trail.nope", [:]).get() }
        let ok = try call("trail.deposit", ["body": "x", "tags": ["b", "a"], "strength": 2]).get()
        guard case let .deposit(d, _) = ok else { Issue.record("not a deposit"); return }
        #expect(d.tags == ["a", "b"] && d.strength == 2 && d.ns == "default")
    }

    @Test("error objects carry the contract's code and data")
    func errors() {
        let e = RPCError(TrailError.noteTooLarge(size: 5000, limit: 4096))
        #expect(e.code == -32002)
        #expect(e.data["reason"] == "note_too_large" && e.data["limit"] == 4096 && e.data["size"] == 5000)
        #expect(RPCError(ProtocolError.frameTooLarge(limit: 10)).code == -32600)
    }

    @Test("words of a free-text query")
    func words() {
        #expect(FullText.words("How do I fix the build-cache? (v2)") == ["How", "do", "I", "fix", "the", "build", "cache", "v2"])
    }
}

@Suite("Line framing")
struct LineFrameDecoderTests {
    @Test("lines split across reads, CRLF, and several lines in one read")
    func framing() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxBytes: 64)))
        try channel.writeInbound(ByteBuffer(string: "{\"a\":"))
        try channel.writeInbound(ByteBuffer(string: "1}\r\nx\ny"))
        var lines: [String] = []
        while let frame = try channel.readInbound(as: LineFrame.self) {
            if case let .line(buffer) = frame { lines.append(String(buffer: buffer)) }
        }
        #expect(lines == ["{\"a\":1}", "x"])
        _ = try channel.finish()
    }

    @Test("a line over the limit is reported once, without buffering the rest")
    func tooLarge() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxBytes: 16)))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 40)))
        try channel.writeInbound(ByteBuffer(string: "more\nand more\n"))
        #expect(try channel.readInbound(as: LineFrame.self) == .tooLarge)
        #expect(try channel.readInbound(as: LineFrame.self) == nil)
        _ = try? channel.finish()
    }
}
