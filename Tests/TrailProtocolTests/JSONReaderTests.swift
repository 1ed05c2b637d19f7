import Testing
import TrailCore
import TrailProtocol

@Suite("JSON reader")
struct JSONReaderTests {
    @Test("members keep their order and a result prints back byte for byte")
    func roundTrip() throws {
        let text = #"{"zeta":1,"alpha":[true,false,null],"mid":{"b":"x","a":-2.5e-07},"n":0.9999965592343963,"big":1e+300,"s":"q\"\\\n\t\u0001é🐜"}"#
        let value = try JSONReader.parse(text)
        #expect(value.object?.keys == ["zeta", "alpha", "mid", "n", "big", "s"])
        #expect(value["mid"]?.object?.keys == ["b", "a"])
        #expect(String(decoding: JSONWriter.bytes(value), as: UTF8.self) == text)
    }

    @Test("integers stay integers, everything else is a double")
    func numbers() throws {
        #expect(try JSONReader.parse("42") == .int(42))
        #expect(try JSONReader.parse("-0") == .int(0))
        #expect(try JSONReader.parse("1.0") == .double(1))
        #expect(try JSONReader.parse("2E3") == .double(2000))
        #expect(try JSONReader.parse("123456789012345678901234567890") == .double(1.2345678901234568e29))
    }

    @Test("escapes, surrogate pairs and whitespace")
    func strings() throws {
        #expect(try JSONReader.parse(#" "\ud83d\udc1c \u00e9\/\b\f\r" "#) == .string("🐜 é/\u{8}\u{c}\r"))
        #expect(try JSONReader.parse("[ ]") == .array([]))
        #expect(try JSONReader.parse("{ }") == .object(JSONObject()))
    }

    @Test("bad input is refused with the offset", arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"\\x\"", "\"\\ud800\"", "\"a\nb\"", "[1] 2", "nan", "1e400",
    ])
    func refused(text: String) {
        #expect(throws: JSONReadError.self) { try JSONReader.parse(text) }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func badUTF8() {
        #expect(throws: JSONReadError.self) { try JSONReader.parse([0x22, 0xff, 0xfe, 0x22]) }
    }

    @Test("nesting is bounded")
    func depth() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONReadError.self) { try JSONReader.parse(deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        _ = try JSONReader.parse(fine)
    }
}

@Suite("Wire decoding")
struct WireDecodingTests {
    func sample(retracted: Bool = false) -> Note {
        Note(id: NoteID(body: "found sugar"), ns: "default", body: "found sugar", tags: ["food", "north"],
             after: [NoteID(body: "start")], weight: 1.75, rank: retracted ? 0.25 : nil, deposits: 3, agent: "scout-1",
             state: retracted ? .retracted : .live, createdAtMillis: 1_795_650_000_123, updatedAtMillis: 1_795_650_001_456,
             retraction: retracted ? Retraction(reason: "gone", agent: nil, atMillis: 1_795_650_002_000) : nil)
    }

    @Test("a note reads back as the server wrote it")
    func note() throws {
        for retracted in [false, true] {
            let n = sample(retracted: retracted)
            let wire = try JSONReader.parse(JSONWriter.bytes(Wire.note(n)))
            #expect(try WireDecode.note(wire) == n)
        }
    }

    @Test("scored notes and follow steps")
    func scoredAndSteps() throws {
        let n = sample()
        let scored = try WireDecode.scored(WireObject(Wire.scored(ScoredNote(note: n, score: 2.5)), path: "x"))
        #expect(scored.score == 2.5 && scored.note == n)
        let step = try WireDecode.step(WireObject(Wire.step(TrailStep(to: n.id, weight: 0.5, direction: .backward, note: n)), path: "x"))
        #expect(step.direction == .backward && step.weight == 0.5 && step.note == n)
    }

    @Test("get's details: the note, its trails and history")
    func details() throws {
        let n = sample()
        let d = NoteDetails(note: n, trails: [TrailLink(other: NoteID(body: "b"), weight: 0.5, direction: .forward)],
                            history: [HistoryEntry(atMillis: 1_795_650_000_123, op: "deposit", agent: "a", delta: 1, detail: nil)])
        #expect(try WireDecode.details(WireObject(Wire.details(d), path: "result")) == d)
    }

    @Test("a wrong shape names the member at fault")
    func wrongShape() throws {
        var o = Wire.noteObject(sample())
        o["weight"] = "heavy"
        do {
            _ = try WireDecode.note(.object(o), path: "result.note")
            Issue.record("accepted a string weight")
        } catch {
            #expect(error.path == "result.note.weight")
        }
        o["weight"] = 1
        o["id"] = "ABC"
        #expect(throws: WireDecodingError.self) { try WireDecode.note(.object(o)) }
    }
}
