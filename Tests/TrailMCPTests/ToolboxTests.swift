import Foundation
import Logging
import MCP
import Synchronization
import Testing
import TrailClient
import TrailProtocol
@testable import TrailMCP

/// A daemon that answers from a script and remembers every call.
final class ScriptedDaemon: DaemonCalling {
    struct Call: Sendable {
        var method: String
        var params: JSONObject
        var idempotent: Bool
    }

    let socket: SocketLocation
    private let answer: @Sendable (String, JSONObject) -> Result<JSONValue, TrailClientError>
    private let log = Mutex<[Call]>([])

    init(socket: String = "/tmp/trail-mcp-test.sock",
         answer: @escaping @Sendable (String, JSONObject) -> Result<JSONValue, TrailClientError>) {
        self.socket = SocketLocation(path: socket, source: .flag)
        self.answer = answer
    }

    var calls: [Call] { log.withLock { $0 } }

    func call(_ method: String, _ params: JSONObject, idempotent: Bool) async throws(TrailClientError) -> JSONValue {
        log.withLock { $0.append(Call(method: method, params: params, idempotent: idempotent)) }
        return try answer(method, params).get()
    }
}

let idA = String(repeating: "a1", count: 32)
let idB = String(repeating: "b2", count: 32)

func note(_ id: String, body: String, weight: Double = 1.0, state: String = "live", tags: [String] = []) -> JSONValue {
    .object([
        "id": .string(id), "ns": "colony", "body": .string(body), "tags": .array(tags.map { .string($0) }), "after": .array([]),
        "weight": .double(weight), "rank": .null, "deposits": 1, "agent": "ant-1", "state": .string(state),
        "created_at": "2026-11-25T21:16:47.898Z", "updated_at": "2026-11-25T21:16:47.898Z", "retraction": .null,
    ])
}

/// A `trail.hello` answer; `semantic` says whether the daemon has its embedding model.
func helloAnswer(semantic: Bool) -> JSONValue {
    .object(["server": "traild", "version": "0.1.0", "protocol": 1, "store": "sqlite", "limits": .object(["max_frame_bytes": 1_048_576]),
             "semantic": semantic ? .object(["model": "all-MiniLM-L6-v2", "dims": 384]) : .null])
}

/// Answers every method with a plausible result (a daemon without the embedding model).
let happy: @Sendable (String, JSONObject) -> Result<JSONValue, TrailClientError> = { method, params in
    switch method {
    case "trail.hello":
        return .success(helloAnswer(semantic: false))
    case "trail.deposit":
        return .success(.object(["id": .string(idA), "ns": params["ns"] ?? "default", "created": true, "weight": 1.0, "deposits": 1]))
    case "trail.sense":
        var scored = note(idA, body: "found sugar", weight: 1.23456, tags: ["food"]).object!
        scored["score"] = 1.23456
        return .success(.object(["notes": .array([.object(scored)])]))
    case "trail.reinforce":
        return .success(.object(["id": .string(idA), "weight": 0.5]))
    case "trail.retract":
        return .success(.object(["id": .string(idA), "state": "retracted"]))
    case "trail.follow":
        return .success(.object(["from": .string(idA), "seed": 42, "trails": .array([
            .object(["to": .string(idB), "weight": 2.0, "direction": "forward", "note": note(idB, body: "behind the brick")]),
        ])]))
    default:
        return .failure(.rpc(code: -32601, message: "no such method", data: ["reason": "method_not_found"]))
    }
}

func toolbox(_ daemon: ScriptedDaemon, ns: String? = "colony", agent: String? = "ant-1") -> TrailToolbox {
    TrailToolbox(configuration: TrailMCPConfiguration(socket: daemon.socket, ns: ns, agent: agent),
                 daemon: daemon, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
}

func text(_ r: CallTool.Result) -> String {
    guard case let .text(t, _, _)? = r.content.first else { return "" }
    return t
}

func errorObject(_ r: CallTool.Result) -> [String: Value] {
    r.structuredContent?.objectValue?["error"]?.objectValue ?? [:]
}

extension ScriptedDaemon {
    /// The calls of one method, in order.
    func calls(_ method: String) -> [Call] { calls.filter { $0.method == method } }
}

@Suite("Tools")
struct ToolboxTests {
    @Test("ten tools; each schema lists exactly the arguments the tool reads, with ns described for the session")
    func catalog() {
        let tools = toolbox(ScriptedDaemon(answer: happy)).tools
        #expect(tools.map(\.name) == TrailToolName.allCases.map(\.rawValue))
        #expect(tools.count == 10)
        for tool in tools {
            let name = TrailToolName(rawValue: tool.name)!
            let schema = tool.inputSchema.objectValue!
            #expect(schema["type"] == "object")
            #expect(schema["additionalProperties"] == false)
            let properties = schema["properties"]!.objectValue!
            #expect(Set(properties.keys) == Set(name.arguments), "\(tool.name)")
            let required = schema["required"]!.arrayValue!.compactMap(\.stringValue)
            #expect(Set(required).isSubset(of: Set(name.arguments)))
            #expect(properties["ns"]?.objectValue?["description"]?.stringValue?.contains("\"colony\"") == true)
            #expect((tool.description ?? "").count > 80)
            #expect(tool.annotations.readOnlyHint == name.isReadOnly)
        }
    }

    @Test("deposit stamps --agent and --ns, sends what it was given, answers with the full id and the daemon's result")
    func deposit() async throws {
        let daemon = ScriptedDaemon(answer: happy)
        let r = try await toolbox(daemon).call("trail_deposit", arguments: ["body": "found sugar", "tags": ["food"], "strength": 2])
        #expect(r.isError == false)
        let call = try #require(daemon.calls("trail.deposit").first)
        #expect(call.method == "trail.deposit" && !call.idempotent)
        #expect(call.params == ["body": "found sugar", "ns": "colony", "tags": .array(["food"]), "agent": "ant-1", "strength": 2.0])
        #expect(text(r).contains(idA))
        #expect(r.structuredContent?.objectValue?["id"] == .string(idA))
        #expect(r.structuredContent?.objectValue?["created"] == true)
    }

    @Test("a call's ns wins over --ns; without either, ns is left to the daemon and no agent is sent")
    func namespaces() async throws {
        let daemon = ScriptedDaemon(answer: happy)
        _ = try await toolbox(daemon).call("trail_deposit", arguments: ["body": "x", "ns": "other"])
        _ = try await toolbox(daemon, ns: nil, agent: nil).call("trail_deposit", arguments: ["body": "x"])
        let deposits = daemon.calls("trail.deposit")
        #expect(deposits[0].params["ns"] == "other")
        #expect(deposits[1].params["ns"] == nil && deposits[1].params["agent"] == nil)
    }

    @Test("sense sends the light default budget; its text shows 12-digit ids and weights to 3 places")
    func sense() async throws {
        let daemon = ScriptedDaemon(answer: happy)
        let r = try await toolbox(daemon).call("trail_sense", arguments: nil)
        #expect(daemon.calls[0].params["budget_bytes"] == .int(4000))
        #expect(daemon.calls[0].idempotent)
        let t = text(r)
        #expect(t.contains(String(idA.prefix(12))) && !t.contains(idA))
        #expect(t.contains("weight=1.235") && t.contains("found sugar") && t.contains("11 of 4000 budget bytes"))
        _ = try await toolbox(daemon).call("trail_sense", arguments: ["budget_bytes": 100, "limit": 5.0, "query": "sugar"])
        #expect(daemon.calls[1].params["budget_bytes"] == .int(100) && daemon.calls[1].params["limit"] == .int(5))
    }

    @Test("contested notes: sense marks each and says once what to do; get says who contests the note")
    func contested() async throws {
        let daemon = ScriptedDaemon { method, _ in
            func contested(_ id: String, body: String, by other: String) -> JSONValue {
                guard case var .object(o) = note(id, body: body) else { return .null }
                o["contested_by"] = .array([.string(other)])
                o["score"] = 1.0
                return .object(o)
            }
            switch method {
            case "trail.sense":
                return .success(.object(["notes": .array([contested(idA, body: "fix-3 resolved it", by: idB),
                                                          contested(idB, body: "fix-5 resolved it", by: idA)])]))
            case "trail.get":
                guard case var .object(n) = note(idA, body: "fix-3 resolved it") else { return .success(.null) }
                n["contested_by"] = .array([.string(idB)])
                return .success(.object(["note": .object(n), "trails": .array([]), "history": .array([])]))
            default:
                return happy(method, [:])
            }
        }
        let sensed = text(try await toolbox(daemon).call("trail_sense", arguments: nil))
        #expect(sensed.contains("CONTESTED by \(idB.prefix(12)): a note close to this one that disagrees with it on a decisive token"))
        #expect(sensed.contains("CONTESTED by \(idA.prefix(12))"))
        #expect(sensed.components(separatedBy: "Contested notes disagree").count == 2, "the advice once: \(sensed)")
        #expect(sensed.contains("trail_reinforce the note that held and trail_repel the one that misled"))
        let got = text(try await toolbox(daemon).call("trail_get", arguments: ["id": .string(idA)]))
        #expect(got.contains("CONTESTED by \(idB.prefix(12))") && got.contains("Contested notes disagree"))
        let plain = text(try await toolbox(ScriptedDaemon(answer: happy)).call("trail_sense", arguments: nil))
        #expect(!plain.contains("CONTESTED") && !plain.contains("Contested notes disagree"))
    }

    @Test("repel sends a negative delta; an amount that is not positive is refused before any call")
    func repel() async throws {
        let daemon = ScriptedDaemon(answer: happy)
        let r = try await toolbox(daemon).call("trail_repel", arguments: ["id": .string(idA), "amount": 0.25])
        #expect(daemon.calls[0].params["delta"] == .double(-0.25))
        #expect(text(r).contains("Repelled") && text(r).contains("0.500"))
        let bad = try await toolbox(daemon).call("trail_repel", arguments: ["id": .string(idA), "amount": 0])
        #expect(bad.isError == true && errorObject(bad)["argument"] == "amount")
        #expect(daemon.calls.count == 1)
    }

    @Test("follow: direction and seed pass through; the text names the seed of an exploring draw")
    func follow() async throws {
        let daemon = ScriptedDaemon(answer: happy)
        let r = try await toolbox(daemon).call("trail_follow", arguments: ["from": "a1a1a1a1", "explore": 0.5, "seed": 42, "direction": "both"])
        #expect(daemon.calls[0].params["seed"] == .int(42) && daemon.calls[0].params["direction"] == "both")
        #expect(text(r).contains("seed=42") && text(r).contains("behind the brick") && text(r).contains("trail=2.000"))
    }

    @Test("bad arguments are tool errors that name the argument, and reach no daemon")
    func badArguments() async throws {
        let daemon = ScriptedDaemon(answer: happy)
        let box = toolbox(daemon)
        let cases: [(String, [String: Value], String)] = [
            ("trail_retract", ["id": .string(idA)], "reason"),
            ("trail_retract", ["id": .string(idA), "reason": "  \n"], "reason"),
            ("trail_deposit", [:], "body"),
            ("trail_deposit", ["body": "x", "tags": [1]], "tags"),
            ("trail_deposit", ["body": "x", "agent": "me"], "agent"),
            ("trail_sense", ["limit": 2.5], "limit"),
            ("trail_sense", ["budget_bytes": -1], "budget_bytes"),
            ("trail_sense", ["include_faded": "yes"], "include_faded"),
            ("trail_follow", ["from": "a1a1a1a1", "direction": "up"], "direction"),
            ("trail_link", ["from": "a1a1a1a1"], "to"),
            ("trail_stats", ["ns": 3], "ns"),
        ]
        for (tool, args, argument) in cases {
            let r = try await box.call(tool, arguments: args)
            #expect(r.isError == true, "\(tool) \(args)")
            #expect(errorObject(r)["reason"] == "invalid_arguments")
            #expect(errorObject(r)["argument"] == .string(argument), "\(tool) \(args)")
            #expect(text(r).hasPrefix("\(tool) was not called: "))
        }
        #expect(daemon.calls.isEmpty)
        // null counts as absent; a lone string is a one-element list.
        _ = try await box.call("trail_deposit", arguments: ["body": "x", "tags": "food", "strength": .null])
        let deposit = try #require(daemon.calls("trail.deposit").first)
        #expect(deposit.params["tags"] == .array(["food"]) && deposit.params["strength"] == nil)
    }

    @Test("an unknown tool is a protocol error naming the tools")
    func unknownTool() async {
        await #expect(throws: MCPError.self) {
            _ = try await toolbox(ScriptedDaemon(answer: happy)).call("trail_teleport", arguments: nil)
        }
    }

    @Test("a daemon error comes back as a tool error with the contract's name, code and data")
    func daemonError() async throws {
        let daemon = ScriptedDaemon { _, _ in
            .failure(.rpc(code: -32009, message: "Note was retracted; pass force: true.",
                          data: ["reason": "retracted", "retraction": .object(["reason": "it deletes the notes", "agent": "judge", "at": "2026-11-25T21:16:47.898Z"])]))
        }
        let r = try await toolbox(daemon).call("trail_deposit", arguments: ["body": "rm -rf data"])
        #expect(r.isError == true)
        #expect(errorObject(r)["reason"] == "retracted" && errorObject(r)["code"] == .int(-32009))
        #expect(text(r).contains("it deletes the notes") && text(r).contains("by judge") && text(r).contains("[retracted]"))
    }

    @Test("a daemon that is down: every tool says which socket was tried and how to start traild")
    func daemonDown() async throws {
        let daemon = ScriptedDaemon(socket: "/run/x/traild.sock") { _, _ in
            .failure(.daemonUnavailable(socket: "/run/x/traild.sock", reason: "there is no socket file there"))
        }
        let box = toolbox(daemon)
        let args: [TrailToolName: [String: Value]] = [
            .deposit: ["body": "x"], .get: ["id": "a1a1a1a1"], .follow: ["from": "a1a1a1a1"], .reinforce: ["id": "a1a1a1a1"],
            .repel: ["id": "a1a1a1a1"], .link: ["from": "a1a1a1a1", "to": "b2b2b2b2"], .retract: ["id": "a1a1a1a1", "reason": "r"],
            .revive: ["id": "a1a1a1a1"],
        ]
        for tool in TrailToolName.allCases {
            let r = try await box.call(tool.rawValue, arguments: args[tool])
            #expect(r.isError == true)
            #expect(errorObject(r)["reason"] == "daemon_unavailable" && errorObject(r)["socket"] == "/run/x/traild.sock")
            #expect(text(r).contains("traild --socket /run/x/traild.sock") && text(r).contains("there is no socket file there"))
        }
    }

    @Test("reads may be sent again after a dropped connection; writes may not")
    func idempotence() async throws {
        let daemon = ScriptedDaemon(answer: happy)
        let box = toolbox(daemon)
        for tool in TrailToolName.allCases {
            _ = try await box.call(tool.rawValue, arguments: ["id": .string(idA), "from": .string(idA), "to": .string(idB), "body": "x", "reason": "r"]
                .filter { tool.arguments.contains($0.key) })
        }
        let methods = daemon.calls.map { "\($0.method) \($0.idempotent)" }
        #expect(methods == [
            "trail.hello true", "trail.deposit false", "trail.sense true", "trail.get true", "trail.follow true", "trail.reinforce false",
            "trail.reinforce false", "trail.link false", "trail.retract false", "trail.revive false", "trail.stats true",
        ])
    }
}

@Suite("Arguments, text and prompt")
struct PartsTests {
    @Test("unknown arguments are refused naming the ones the tool takes")
    func unknown() {
        #expect(throws: ToolInputError.self) { try ToolArguments(tool: "trail_get", values: ["idd": "x"], allowed: ["id", "ns"]) }
        do {
            _ = try ToolArguments(tool: "trail_get", values: ["idd": "x"], allowed: ["id", "ns"])
        } catch {
            #expect(error.message == "trail_get has no argument `idd`; it takes only `id`, `ns`.")
        }
    }

    @Test("a string the SDK took for a data URL is put back together")
    func dataURL() throws {
        let body = "data: the volume, not the image"
        let decoded = try JSONDecoder().decode(Value.self, from: Data("\"\(body)\"".utf8))
        #expect(decoded.stringValue == nil)  // the SDK's reading
        #expect(ToolArguments.text(decoded) == body)
    }

    @Test("whole numbers: 5 and 5.0, not 2.5")
    func integers() throws {
        let a = try ToolArguments(tool: "t", values: ["a": 5, "b": 5.0, "c": 2.5], allowed: ["a", "b", "c"])
        #expect(try a.integer("a", minimum: 0) == 5)
        #expect(try a.integer("b", minimum: 0) == 5)
        #expect(throws: ToolInputError.self) { try a.integer("c", minimum: 0) }
    }

    @Test("sizes and durations read like trailctl's")
    func formats() {
        #expect(ResultText.weight(0.99999) == "1.000")
        #expect(ResultText.signed(-0.5) == "-0.500")
        #expect(ResultText.bytes(812) == "812 B" && ResultText.bytes(288216) == "281.5 KiB")
        #expect(ResultText.duration(4.58) == "4.6s" && ResultText.duration(3 * 3600 + 20 * 60) == "3h 20m")
    }

    @Test("the practice prompt names the session, the tools and the task")
    func prompt() {
        let config = TrailMCPConfiguration(socket: SocketLocation(path: "/s", source: .flag), ns: "colony", agent: "ant-1")
        let t = PracticePrompt.text(config, task: "fix the flaky watch test")
        for needle in ["\"colony\"", "\"ant-1\"", "trail_sense", "trail_follow", "trail_deposit", "trail_reinforce",
                       "trail_repel", "trail_retract", "trail_link", "`after`", "Your task: fix the flaky watch test", "4000",
                       "in its own words plus the outcome"] {
            #expect(t.contains(needle), "\(needle)")
        }
        #expect(!PracticePrompt.text(config, task: nil).contains("Your task"))
    }

    @Test("DaemonLink names the socket it tried when nothing is there")
    func missingSocket() async {
        let path = "/tmp/trail-mcp-none-\(getpid())/traild.sock"
        let link = DaemonLink(socket: SocketLocation(path: path, source: .flag), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        do {
            _ = try await link.call("trail.stats", [:], idempotent: true)
            Issue.record("a call without a daemon succeeded")
        } catch {
            #expect(error == .daemonUnavailable(socket: path, reason: "there is no socket file there (not even its folder)"))
        }
    }
}
