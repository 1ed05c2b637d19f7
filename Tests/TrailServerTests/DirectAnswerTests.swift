import Testing
import TrailCore
import TrailProtocol
@testable import TrailServer

@Suite("Direct answers")
struct DirectAnswerTests {
    /// A `sense` or `follow` answer written straight from the model must be
    /// the bytes of the same answer built as a JSON value: every field, null or not.
    @Test("sense and follow answers written from the model are the JSON value's bytes")
    func scoredNotesSameBytes() {
        func note(_ i: Int, body: String, tags: [String], after: [NoteID], weight: Double, rank: Double?, agent: String?,
                  state: NoteState, retraction: Retraction?) -> Note {
            Note(id: NoteID(body: body), ns: i % 2 == 0 ? "default" : "team \"x\"", body: body, tags: tags, after: after,
                 weight: weight, rank: rank, deposits: i + 1, agent: agent, state: state,
                 createdAtMillis: 1_795_478_399_123 + Int64(i), updatedAtMillis: -1 + Int64(i) * 86_400_000, retraction: retraction)
        }
        let a = NoteID(body: "a"), b = NoteID(body: "b")
        let notes: [ScoredNote] = [
            ScoredNote(note: note(0, body: "plain", tags: [], after: [], weight: 1, rank: nil, agent: nil, state: .live, retraction: nil), score: 1),
            ScoredNote(note: note(1, body: "quote \" back \\ \u{0}\u{1f} tab\t é 🐜", tags: ["a", "b-c", "日本"], after: [a, b],
                                  weight: 0.999999999233545, rank: 0.25, agent: "agent \"7\"", state: .faded, retraction: nil), score: 0.1),
            ScoredNote(note: note(2, body: String(repeating: "long ", count: 400), tags: ["x"], after: [a], weight: 1e-300,
                                  rank: 3, agent: "a", state: .retracted,
                                  retraction: Retraction(reason: "misled \n us", agent: nil, atMillis: 5)), score: .infinity),
            ScoredNote(note: note(3, body: "", tags: [], after: [], weight: 2.5, rank: 0, agent: "", state: .archived,
                                  retraction: Retraction(reason: "", agent: "b", atMillis: -5)), score: -0.0),
        ]
        let steps = notes.enumerated().map { i, scored in
            TrailStep(to: scored.note.id, weight: [1, 0.37, 1e-9, 2.5][i], direction: i % 2 == 0 ? .forward : .backward, note: scored.note)
        }
        for id: JSONValue in [.int(7), .string("req \"1\""), .null, .double(2.5)] {
            for count in [0, 1, notes.count] {
                let some = Array(notes.prefix(count))
                let results: [(ReadResult, JSONValue)] = [
                    (.scoredNotes(some), .object(["notes": .array(some.map(Wire.scored))])),
                    (.followed(FollowResult(from: a, steps: Array(steps.prefix(count))), seed: UInt64(count) * 7_919),
                     .object(["from": .string(a.hex), "trails": .array(steps.prefix(count).map(Wire.step)), "seed": .int(count * 7_919)])),
                    (.json(.object(["notes": .array(some.map(Wire.scored))])), .object(["notes": .array(some.map(Wire.scored))])),
                ]
                for (result, expected) in results {
                    var direct = JSONText()
                    direct.writeSuccess(id: id, result: result)
                    let tree = RPCResponse.success(id: id, result: expected)
                    #expect(direct.bytes == JSONWriter.bytes(tree), "id \(id), \(count) notes, \(result)")
                    #expect(Outgoing.success(id: id, result).json == tree)
                }
            }
        }
    }
}
