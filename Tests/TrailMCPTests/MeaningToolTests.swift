import Foundation
import Logging
import MCP
import Testing
import TrailClient
import TrailProtocol
@testable import TrailMCP

/// A daemon for recall by meaning: `semantic` says whether hello reports the
/// embedding model; `deposit` answers trail.deposit from its params; sense by
/// meaning finds `nearest` (an id and its similarity) when given.
func meaningDaemon(semantic: Bool, nearest: (String, Double)? = nil,
                   deposit: @escaping @Sendable (JSONObject) -> Result<JSONValue, TrailClientError> = { params in
                       var o: JSONObject = ["id": .string(idA), "ns": params["ns"] ?? "default", "created": true, "weight": 1.0, "deposits": 1]
                       if params["merge_similar"] != nil { o["merged"] = false }
                       return .success(.object(o))
                   }) -> ScriptedDaemon {
    ScriptedDaemon { method, params in
        switch method {
        case "trail.hello":
            return .success(helloAnswer(semantic: semantic))
        case "trail.deposit":
            return deposit(params)
        case "trail.sense":
            guard let (id, similarity) = nearest else { return .success(.object(["notes": .array([])])) }
            var n = note(id, body: "the note nearest in meaning").object!
            n["score"] = .double(similarity + 0.07)
            n["similarity"] = .double(similarity)
            return .success(.object(["notes": .array([.object(n)])]))
        case "trail.get":
            return .success(.object(["note": note(idB, body: "SQLite in WAL mode needs the data dir on a local disk"), "trails": .array([]), "history": .array([])]))
        default:
            return .failure(.rpc(code: -32601, message: "no such method", data: ["reason": "method_not_found"]))
        }
    }
}

let unavailable = TrailClientError.rpc(
    code: -32010, message: "Search by meaning is not available here (no model); install the model with `make model` and restart traild, or search by words with query.",
    data: ["reason": "semantic_unavailable"])

@Suite("Recall by meaning: tools")
struct MeaningToolTests {
    @Test("trail_sense takes similar and min_similarity and says when to use them; trail_deposit's merge_similar defaults to 0.9")
    func catalog() throws {
        let tools = toolbox(ScriptedDaemon(answer: happy)).tools
        let sense = try #require(tools.first { $0.name == "trail_sense" })
        let properties = try #require(sense.inputSchema.objectValue?["properties"]?.objectValue)
        #expect(properties["similar"]?.objectValue?["type"] == "string")
        #expect(properties["min_similarity"]?.objectValue?["minimum"] == .double(-1))
        let description = sense.description ?? ""
        for needle in ["`similar`", "own words", "exact", "error strings", "`query`", "similarity"] {
            #expect(description.contains(needle), "\(needle)")
        }
        let deposit = try #require(tools.first { $0.name == "trail_deposit" })
        let merge = try #require(deposit.inputSchema.objectValue?["properties"]?.objectValue?["merge_similar"]?.objectValue)
        #expect(merge["default"] == .double(0.9) && merge["minimum"] == .double(0) && merge["maximum"] == .double(1))
        #expect(merge["description"]?.stringValue?.contains("0, false or null") == true)
        #expect((deposit.description ?? "").contains("merge_similar: 0"))
        let off = TrailToolbox(configuration: TrailMCPConfiguration(socket: SocketLocation(path: "/s", source: .flag), mergeSimilar: nil),
                               daemon: ScriptedDaemon(answer: happy), logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let offMerge = off.tools.first { $0.name == "trail_deposit" }?.inputSchema.objectValue?["properties"]?.objectValue?["merge_similar"]?.objectValue
        #expect(offMerge?["default"] == nil)
    }

    @Test("sense by meaning: the params pass through; the text shows each similarity and the order")
    func sense() async throws {
        let daemon = ScriptedDaemon { _, _ in
            var a = note(idA, body: "SQLite in WAL mode needs a local disk").object!
            a["score"] = 0.47
            a["similarity"] = 0.40456
            var b = note(idB, body: "busy errors: see the WAL note").object!
            b["score"] = 0.03
            b["similarity"] = .null
            return .success(.object(["notes": .array([.object(a), .object(b)])]))
        }
        let r = try await toolbox(daemon).call("trail_sense", arguments: [
            "similar": "the database says it is busy on a network drive", "min_similarity": 0.25, "query": "busy",
        ])
        let call = try #require(daemon.calls.first)
        #expect(call.params["similar"] == "the database says it is busy on a network drive")
        #expect(call.params["min_similarity"] == .double(0.25) && call.params["query"] == "busy" && call.idempotent)
        let t = text(r)
        #expect(t.contains("similar in meaning to \"the database says it is busy on a network drive\" (similarity >= 0.250)"))
        #expect(t.contains("best match by words and meaning first"))
        #expect(t.contains("score=0.470  similarity=0.405"))
        #expect(t.contains("similarity=- (not embedded yet)"))
        #expect(r.structuredContent?.objectValue?["notes"]?.arrayValue?.first?.objectValue?["similarity"] == .double(0.40456))
        _ = try await toolbox(daemon).call("trail_sense", arguments: ["similar": "food"])
        #expect(text(try await toolbox(daemon).call("trail_sense", arguments: ["similar": "food"])).contains("nearest in meaning and strongest first"))
        #expect(daemon.calls[1].params["min_similarity"] == nil)
        let bad = try await toolbox(daemon).call("trail_sense", arguments: ["similar": 3])
        #expect(errorObject(bad)["argument"] == "similar")
    }

    @Test("sense by meaning asked of a daemon without the model: a tool error with the daemon's message")
    func senseUnavailable() async throws {
        let daemon = ScriptedDaemon { _, _ in .failure(unavailable) }
        let r = try await toolbox(daemon).call("trail_sense", arguments: ["similar": "food"])
        #expect(r.isError == true && errorObject(r)["reason"] == "semantic_unavailable" && errorObject(r)["code"] == .int(-32010))
        #expect(text(r).contains("make model") && text(r).hasSuffix("[semantic_unavailable]"))
    }

    @Test("the default merge_similar 0.9 is sent when hello reports the model, and not otherwise")
    func defaultMerge() async throws {
        let on = meaningDaemon(semantic: true)
        let r = try await toolbox(on).call("trail_deposit", arguments: ["body": "SQLite WAL on NFS fails with SQLITE_BUSY"])
        #expect(on.calls.map(\.method) == ["trail.hello", "trail.deposit"])
        #expect(on.calls("trail.deposit")[0].params["merge_similar"] == .double(0.9))
        #expect(text(r).contains("Deposited a new note") && text(r).contains("No note was as similar as merge_similar 0.900"))
        let off = meaningDaemon(semantic: false)
        let plain = try await toolbox(off).call("trail_deposit", arguments: ["body": "x"])
        #expect(plain.isError == false && off.calls("trail.deposit")[0].params["merge_similar"] == nil)
        #expect(!text(plain).contains("merge"))
    }

    @Test("a call's merge_similar: a number is sent as given (no hello needed); 0, false and null deposit as written")
    func explicitMerge() async throws {
        let daemon = meaningDaemon(semantic: true)
        let box = toolbox(daemon)
        _ = try await box.call("trail_deposit", arguments: ["body": "x", "merge_similar": 0.75])
        _ = try await box.call("trail_deposit", arguments: ["body": "x", "merge_similar": 1])
        for off: Value in [0, 0.0, false, .null] {
            _ = try await box.call("trail_deposit", arguments: ["body": "x", "merge_similar": off])
        }
        #expect(daemon.calls("trail.hello").isEmpty)
        #expect(daemon.calls("trail.deposit").map { $0.params["merge_similar"] } == [.double(0.75), .double(1), nil, nil, nil, nil])
        for bad: Value in [true, "0.9", [0.9]] {
            let r = try await box.call("trail_deposit", arguments: ["body": "x", "merge_similar": bad])
            #expect(r.isError == true && errorObject(r)["argument"] == "merge_similar", "\(bad)")
            #expect(text(r).contains("0, false or null"))
        }
        #expect(daemon.calls("trail.deposit").count == 6)
        // Ranges are the daemon's: 1.5 goes through, and its refusal comes back.
        let ranged = meaningDaemon(semantic: true) { _ in
            .failure(.rpc(code: -32602, message: "merge_similar must be in (0, 1].", data: ["reason": "invalid_params", "field": "merge_similar"]))
        }
        let r = try await toolbox(ranged).call("trail_deposit", arguments: ["body": "x", "merge_similar": 1.5])
        #expect(ranged.calls("trail.deposit")[0].params["merge_similar"] == .double(1.5))
        #expect(errorObject(r)["reason"] == "invalid_params")
    }

    @Test("a merged deposit: the text says so, with the similarity and the body of the note it joined")
    func merged() async throws {
        let daemon = meaningDaemon(semantic: true) { _ in
            .success(.object(["id": .string(idB), "ns": "colony", "created": false, "weight": 2.0, "deposits": 2, "merged": true, "similarity": 0.949]))
        }
        let r = try await toolbox(daemon).call("trail_deposit", arguments: ["body": "SQLite WAL mode on NFS fails with SQLITE_BUSY; use a local disk"])
        let t = text(r)
        #expect(t.hasPrefix("Merged into an existing note of the same meaning in ns \"colony\" (similarity 0.949 >= merge_similar 0.900)"))
        #expect(t.contains("id \(idB)") && t.contains("weight=2.000  deposits=2"))
        #expect(t.contains("its body:\n  SQLite in WAL mode needs the data dir on a local disk"))
        #expect(t.contains("merge_similar: 0"))
        #expect(daemon.calls("trail.get").first?.params["id"] == .string(idB))
        #expect(r.structuredContent?.objectValue?["merged"] == true && r.structuredContent?.objectValue?["similarity"] == .double(0.949))
    }

    @Test("a correction kept from a merge: the text names the contested note and says to try, then reinforce one and repel the other")
    func contested() async throws {
        let daemon = meaningDaemon(semantic: true) { _ in
            .success(.object(["id": .string(idA), "ns": "colony", "created": true, "weight": 1.0, "deposits": 1,
                              "merged": false, "contests": .array([.string(idB)])]))
        }
        let r = try await toolbox(daemon).call("trail_deposit", arguments: ["body": "The flaky build on NFS -- fix-5 resolved it."])
        let t = text(r)
        #expect(t.hasPrefix("Deposited a new note in ns \"colony\". Not merged: your note is close to \(idB.prefix(12))"), "\(t)")
        #expect(t.contains("disagrees with it on a decisive token") && t.contains("reinforces the note that held and repels the one that misled"))
        #expect(!t.contains("No note was as similar"))
        #expect(daemon.calls("trail.get").isEmpty)
        #expect(r.structuredContent?.objectValue?["contests"] == .array([.string(idB)]))
    }

    @Test("the daemon lost its model since hello: a default merge gives way and the deposit goes through as written")
    func modelGone() async throws {
        let daemon = meaningDaemon(semantic: true) { params in
            params["merge_similar"] == nil
                ? .success(.object(["id": .string(idA), "ns": "colony", "created": true, "weight": 1.0, "deposits": 1]))
                : .failure(unavailable)
        }
        let r = try await toolbox(daemon).call("trail_deposit", arguments: ["body": "x"])
        #expect(r.isError == false && text(r).contains("Deposited a new note"))
        #expect(daemon.calls("trail.deposit").map { $0.params["merge_similar"] } == [.double(0.9), nil])
    }

    @Test("an explicit merge_similar asked of a daemon without the model is refused, not dropped")
    func explicitUnavailable() async throws {
        let daemon = meaningDaemon(semantic: false) { _ in .failure(unavailable) }
        let r = try await toolbox(daemon).call("trail_deposit", arguments: ["body": "x", "merge_similar": 0.8])
        #expect(r.isError == true && errorObject(r)["reason"] == "semantic_unavailable")
        #expect(daemon.calls("trail.deposit").count == 1)
    }

    @Test("the default does not merge a deposit into a note it names in after (a correction would land on what it corrects)")
    func afterGuard() async throws {
        let daemon = meaningDaemon(semantic: true, nearest: (idB, 0.991))
        let r = try await toolbox(daemon).call("trail_deposit", arguments: [
            "body": "SQLite in WAL mode does not work with the data dir on NFS", "after": .array([.string(String(idB.prefix(12)).uppercased())]),
        ])
        let sense = try #require(daemon.calls("trail.sense").first)
        #expect(sense.params["similar"] == "SQLite in WAL mode does not work with the data dir on NFS")
        #expect(sense.params["min_similarity"] == .double(0.9) && sense.params["ns"] == "colony")
        #expect(daemon.calls("trail.deposit")[0].params["merge_similar"] == nil)
        #expect(text(r).contains("Not merged into \(idB.prefix(12)) (similarity 0.991): your note comes `after` it"))
        // A nearest note not in `after` is merged into as usual; without `after` no search is made.
        let other = meaningDaemon(semantic: true, nearest: (idA, 0.95))
        _ = try await toolbox(other).call("trail_deposit", arguments: ["body": "x", "after": .array([.string(idB)])])
        _ = try await toolbox(other).call("trail_deposit", arguments: ["body": "x"])
        #expect(other.calls("trail.sense").count == 1)
        #expect(other.calls("trail.deposit").map { $0.params["merge_similar"] } == [.double(0.9), .double(0.9)])
        // An explicit merge_similar is the caller's choice: no search.
        let explicit = meaningDaemon(semantic: true, nearest: (idB, 0.99))
        _ = try await toolbox(explicit).call("trail_deposit", arguments: ["body": "x", "after": .array([.string(idB)]), "merge_similar": 0.9])
        #expect(explicit.calls("trail.sense").isEmpty && explicit.calls("trail.deposit")[0].params["merge_similar"] == .double(0.9))
    }

    @Test("trail-mcp --merge-similar 0: no default merge, and no hello asked for one")
    func sessionWithoutDefault() async throws {
        let daemon = meaningDaemon(semantic: true)
        let box = TrailToolbox(configuration: TrailMCPConfiguration(socket: daemon.socket, ns: "colony", mergeSimilar: nil),
                               daemon: daemon, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        _ = try await box.call("trail_deposit", arguments: ["body": "x"])
        #expect(daemon.calls.map(\.method) == ["trail.deposit"] && daemon.calls[0].params["merge_similar"] == nil)
        _ = try await box.call("trail_deposit", arguments: ["body": "x", "merge_similar": 0.95])
        #expect(daemon.calls[1].params["merge_similar"] == .double(0.95))
    }

    @Test("stats: how far the namespace is embedded, or that search by meaning is off")
    func stats() async throws {
        let embedded = ScriptedDaemon { _, _ in
            .success(.object(["ns": "colony", "notes": 3, "live": 3, "embedding": .object(["model": "all-MiniLM-L6-v2", "embedded": 2, "pending": 1])]))
        }
        #expect(text(try await toolbox(embedded).call("trail_stats", arguments: nil))
            .contains("search by meaning (`similar`): all-MiniLM-L6-v2, 2 notes embedded, 1 pending (found by meaning once embedded)"))
        let off = ScriptedDaemon { _, _ in .success(.object(["ns": "colony", "notes": 3, "embedding": .null])) }
        #expect(text(try await toolbox(off).call("trail_stats", arguments: nil)).contains("search by meaning: off"))
    }
}
