import Logging
import MCP
import TrailClient
import TrailCore
import TrailProtocol

/// The tools and what each does: reads the call's arguments, sends one
/// request to `traild`, and answers with text for the model plus the daemon's
/// result as `structuredContent`.
///
/// A call never throws for anything the model can cause or fix: bad
/// arguments, a daemon error, a daemon that is down all come back as tool
/// errors (`isError: true`) saying what to do. Only a tool name that does not
/// exist is a protocol error, as MCP asks.
public struct TrailToolbox: Sendable {
    public let configuration: TrailMCPConfiguration
    let daemon: any DaemonCalling
    let logger: Logger

    public init(configuration: TrailMCPConfiguration, daemon: any DaemonCalling, logger: Logger) {
        self.configuration = configuration
        self.daemon = daemon
        self.logger = logger
    }

    /// The tool definitions, for `tools/list`.
    public var tools: [Tool] { ToolCatalog.tools(configuration) }

    /// Runs the tool `name`. Throws `MCPError.invalidParams` only for a tool
    /// that does not exist.
    public func call(_ name: String, arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        guard let tool = TrailToolName(rawValue: name) else {
            throw MCPError.invalidParams("There is no tool \(name); the trail tools are " + TrailToolName.allCases.map(\.rawValue).joined(separator: ", ") + ".")
        }
        do throws(ToolFailure) {
            let args: ToolArguments
            do throws(ToolInputError) {
                args = try ToolArguments(tool: name, values: arguments, allowed: tool.arguments)
            } catch {
                throw .input(error)
            }
            let result = try await run(tool, args)
            logger.debug("\(name) done")
            return result
        } catch {
            logger.debug("\(name) failed: \(error)")
            return error.result(tool: name, socket: daemon.socket)
        }
    }

    // MARK: the tools

    private func run(_ tool: TrailToolName, _ a: ToolArguments) async throws(ToolFailure) -> CallTool.Result {
        let ns = try input { () throws(ToolInputError) in try a.string("ns") } ?? configuration.ns
        let nsName = ns ?? "default"
        let agent = configuration.agent
        switch tool {
        case .deposit:
            let request = try input { () throws(ToolInputError) in
                DepositRequest(
                    body: try a.requiredString("body", hint: "the text of the note, one finding in a sentence or two."),
                    ns: ns, tags: try a.strings("tags"), after: try a.strings("after"), agent: agent,
                    strength: try a.number("strength"), force: try a.bool("force") ?? false)
            }
            let merge = try input { () throws(ToolInputError) in try a.threshold("merge_similar") }
            return try await deposit(request, merge: merge)

        case .sense:
            let budget = try input { () throws(ToolInputError) in try a.integer("budget_bytes", minimum: 0) } ?? configuration.senseBudget
            let request = try input { () throws(ToolInputError) in
                SenseRequest(
                    ns: ns, query: try a.string("query"), tags: try a.strings("tags"), anyTags: try a.strings("any_tags"),
                    limit: try a.integer("limit", minimum: 1), budgetBytes: budget, minWeight: try a.number("min_weight"),
                    includeFaded: try a.bool("include_faded") ?? false, similar: try a.string("similar"),
                    minSimilarity: try a.number("min_similarity"))
            }
            return try await perform(request, tool) {
                ResultText.sensed($0, ns: nsName, query: request.query, limit: request.limit, budget: budget,
                                  similar: request.similar, minSimilarity: request.minSimilarity)
            }

        case .get:
            let request = try input { () throws(ToolInputError) in
                GetRequest(id: try a.requiredString("id", hint: "the note's id, or a unique prefix of at least 8 hex digits."), ns: ns)
            }
            return try await perform(request, tool) { ResultText.details($0) }

        case .follow:
            let request = try input { () throws(ToolInputError) in
                var direction: TrailDirection?
                if let d = try a.string("direction") {
                    guard let parsed = TrailDirection(rawValue: d) else {
                        throw ToolInputError(argument: "direction", "`direction` must be forward, backward or both, not \(ResultText.quoted(d)).")
                    }
                    direction = parsed
                }
                return FollowRequest(
                    from: try a.requiredString("from", hint: "the id (or unique prefix) of the note to follow trails from."),
                    ns: ns, direction: direction, limit: try a.integer("limit", minimum: 1), explore: try a.number("explore"),
                    seed: try a.integer("seed", minimum: 0).map { UInt64($0) }, includeFaded: try a.bool("include_faded") ?? false)
            }
            return try await perform(request, tool) {
                ResultText.followed($0, direction: request.direction ?? .forward, explore: request.explore)
            }

        case .reinforce:
            let request = try input { () throws(ToolInputError) in
                ReinforceRequest(id: try a.requiredString("id", hint: "the id (or unique prefix) of the note that helped."),
                                 ns: ns, delta: try a.number("delta"), agent: agent)
            }
            return try await perform(request, tool) { ResultText.reinforced($0, verb: "Reinforced") }

        case .repel:
            let request = try input { () throws(ToolInputError) in
                let id = try a.requiredString("id", hint: "the id (or unique prefix) of the note that misled you.")
                let amount = try a.number("amount") ?? 1.0
                guard amount > 0 else {
                    throw ToolInputError(argument: "amount", "`amount` is the weight to take away, a number greater than 0 (default 1.0); to add weight use trail_reinforce.")
                }
                return ReinforceRequest(id: id, ns: ns, delta: -amount, agent: agent)
            }
            return try await perform(request, tool) { ResultText.reinforced($0, verb: "Repelled") }

        case .link:
            let request = try input { () throws(ToolInputError) in
                LinkRequest(from: try a.requiredString("from", hint: "the id (or unique prefix) of the note the trail leaves."),
                            to: try a.requiredString("to", hint: "the id (or unique prefix) of the note the trail reaches."),
                            ns: ns, delta: try a.number("delta"), agent: agent)
            }
            return try await perform(request, tool) { ResultText.linked($0) }

        case .retract:
            let request = try input { () throws(ToolInputError) in
                RetractRequest(
                    id: try a.requiredString("id", hint: "the id (or unique prefix) of the note to retract."),
                    reason: try a.requiredString("reason", hint: "say what is wrong with the note and what to do instead; every agent that reads the note sees it."),
                    ns: ns, agent: agent)
            }
            return try await perform(request, tool) { ResultText.retracted($0, reason: request.reason) }

        case .revive:
            let request = try input { () throws(ToolInputError) in
                ReviveRequest(id: try a.requiredString("id", hint: "the id (or unique prefix) of the note to revive."), ns: ns, agent: agent)
            }
            return try await perform(request, tool) { ResultText.revived($0) }

        case .stats:
            return try await perform(StatsRequest(ns: ns), tool) { ResultText.stats($0) }
        }
    }

    // MARK: plumbing

    /// Runs the argument reading in `body`, making its error a `ToolFailure`.
    private func input<T>(_ body: () throws(ToolInputError) -> T) throws(ToolFailure) -> T {
        do throws(ToolInputError) {
            return try body()
        } catch {
            throw .input(error)
        }
    }

    /// Sends `request`, decodes its result, and answers with `render`'s text
    /// and the result as sent.
    private func perform<R: TrailRequest>(_ request: R, _ tool: TrailToolName,
                                          render: (R.Result) -> String) async throws(ToolFailure) -> CallTool.Result {
        let (raw, typed) = try await send(request, tool)
        return .answer(render(typed), structured: Value(raw), isError: false)
    }

    /// Sends `request` for `tool` (sent again after a dropped connection
    /// only when the tool only reads); returns the result as sent and decoded.
    func send<R: TrailRequest>(_ request: R, _ tool: TrailToolName) async throws(ToolFailure) -> (JSONValue, R.Result) {
        do throws(TrailClientError) {
            let raw = try await daemon.call(request.method, request.params, idempotent: tool.isReadOnly)
            do throws(WireDecodingError) {
                return (raw, try request.decode(raw))
            } catch {
                throw TrailClientError.protocolViolation(error.description)
            }
        } catch {
            throw .daemon(error)
        }
    }
}

extension CallTool.Result {
    /// A result of one text and a structured value.
    static func answer(_ text: String, structured: Value, isError: Bool) -> CallTool.Result {
        // Named through a function type: the SDK's generic `init(content:structuredContent:...)`
        // (which encodes any Codable and throws) would otherwise win the overload.
        let make: ([Tool.Content], Value?, Bool?, Metadata?) -> CallTool.Result = CallTool.Result.init(content:structuredContent:isError:_meta:)
        return make([.text(text: text, annotations: nil, _meta: nil)], structured, isError, nil)
    }
}
