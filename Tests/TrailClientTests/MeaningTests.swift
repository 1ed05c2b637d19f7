import Testing
import TrailCore
import TrailProtocol
@testable import TrailClient

/// Recall by meaning (SPEC.md §8) as the client sends and reads it: the new
/// params, and the new members of sense, deposit, hello and stats results.
@Suite("Recall by meaning")
struct MeaningTests {
    let idA = String(repeating: "a1", count: 32)

    func note(similarity: JSONValue?) -> JSONValue {
        var o: JSONObject = [
            "id": .string(idA), "ns": "c", "body": "sugar by the wall", "tags": [], "after": [], "weight": 1.5,
            "rank": nil, "deposits": 1, "agent": nil, "state": "live", "created_at": "2026-11-25T21:00:00.000Z",
            "updated_at": "2026-11-25T21:00:00.000Z", "retraction": nil, "score": 0.91,
        ]
        if let similarity { o["similarity"] = similarity }
        return .object(o)
    }

    func decodingError(_ body: () throws(WireDecodingError) -> Void) -> WireDecodingError? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    @Test("sense sends similar and min_similarity only when given")
    func senseParams() {
        let p = SenseRequest(ns: "c", query: "wal", similar: "where is the food", minSimilarity: -0.25).params
        #expect(p["similar"] == "where is the food" && p["min_similarity"] == .double(-0.25) && p["query"] == "wal")
        #expect(SenseRequest(query: "wal").params.keys == ["query"])
        #expect(SenseRequest(similar: "food").params.keys == ["similar"])
    }

    @Test("deposit sends merge_similar only when given")
    func depositParams() {
        #expect(DepositRequest(body: "x", mergeSimilar: 0.9).params == ["body": "x", "merge_similar": .double(0.9)])
        #expect(DepositRequest(body: "x").params["merge_similar"] == nil)
    }

    @Test("a sensed note's similarity: a number, null (not embedded yet) or absent (a search by words)")
    func senseSimilarity() throws {
        let request = SenseRequest(similar: "food")
        let notes = try request.decode(.object(["notes": .array([note(similarity: 0.8125), note(similarity: .null), note(similarity: nil)])]))
        #expect(notes.map(\.similarity) == [0.8125, nil, nil])
        #expect(notes[0].score == 0.91 && notes[0].note.body == "sugar by the wall")
        let bad = decodingError { () throws(WireDecodingError) in _ = try request.decode(.object(["notes": .array([note(similarity: "high")])])) }
        #expect(bad == WireDecodingError(path: "result.notes[0].similarity", expected: "a number"))
    }

    @Test("a deposit's merged and similarity; absent without merge_similar")
    func deposited() throws {
        let merged = try DepositRequest(body: "x", mergeSimilar: 0.9).decode(.object([
            "id": .string(idA), "ns": "c", "created": false, "weight": 2.0, "deposits": 2, "merged": true, "similarity": 0.9375,
        ]))
        #expect(merged.merged == true && merged.similarity == 0.9375 && !merged.created && merged.id.hex == idA)
        let fresh = try DepositRequest(body: "x", mergeSimilar: 0.9).decode(.object([
            "id": .string(idA), "ns": "c", "created": true, "weight": 1.0, "deposits": 1, "merged": false,
        ]))
        #expect(fresh.merged == false && fresh.similarity == nil)
        let plain = try DepositRequest(body: "x").decode(.object(["id": .string(idA), "ns": "c", "created": true, "weight": 1.0, "deposits": 1]))
        #expect(plain.merged == nil && plain.similarity == nil)
        let bad = decodingError { () throws(WireDecodingError) in
            _ = try DepositRequest(body: "x").decode(.object(["id": .string(idA), "ns": "c", "created": true, "weight": 1.0, "deposits": 1, "merged": "yes"]))
        }
        #expect(bad?.path == "result.merged")
    }

    func hello(_ semantic: JSONValue?) -> JSONValue {
        var o: JSONObject = ["server": "traild", "version": "0.1.0", "protocol": 1, "store": "sqlite",
                             "limits": .object(["max_frame_bytes": 1_048_576, "max_note_bytes": 4096])]
        if let semantic { o["semantic"] = semantic }
        return .object(o)
    }

    @Test("hello's semantic: the model and its dimensions, or nil when null or absent")
    func helloSemantic() throws {
        let on = try HelloRequest().decode(hello(.object(["model": "all-MiniLM-L6-v2", "dims": 384])))
        #expect(on.semantic == SemanticModel(model: "all-MiniLM-L6-v2", dimensions: 384))
        #expect(try HelloRequest().decode(hello(.null)).semantic == nil)
        #expect(try HelloRequest().decode(hello(nil)).semantic == nil)
        let bad = decodingError { () throws(WireDecodingError) in _ = try HelloRequest().decode(hello(.object(["model": "m"]))) }
        #expect(bad?.path == "result.semantic.dims")
    }

    @Test("stats' embedding: model, embedded and pending, or nil without the model")
    func statsEmbedding() throws {
        func stats(_ embedding: JSONValue?) -> JSONValue {
            var o: JSONObject = ["ns": "c", "notes": 3, "live": 3]
            if let embedding { o["embedding"] = embedding }
            return .object(o)
        }
        let s = try StatsRequest().decode(stats(.object(["model": "all-MiniLM-L6-v2", "embedded": 2, "pending": 1])))
        #expect(s.embedding == EmbeddingProgress(model: "all-MiniLM-L6-v2", embedded: 2, pending: 1))
        #expect(try StatsRequest().decode(stats(.null)).embedding == nil)
        #expect(try StatsRequest().decode(stats(nil)).embedding == nil)
    }

    @Test("-32010 is semantic_unavailable")
    func refusal() {
        let e = TrailClientError(errorMember: .object([
            "code": -32010, "message": "Search by meaning is not available here.", "data": .object(["reason": "semantic_unavailable"]),
        ]))
        #expect(e.errorCode == .semanticUnavailable && e.contractName == "semantic_unavailable")
        #expect(TrailClientError.rpc(code: -32010, message: "m", data: JSONObject()).contractName == "semantic_unavailable")
        #expect(e.description == "Search by meaning is not available here.")
    }
}
