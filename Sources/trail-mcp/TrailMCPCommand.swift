import ArgumentParser
import Foundation
import Logging
import TrailClient
import TrailCore
import TrailMCP

/// `trail-mcp`: reads its flags, then hands off to `TrailMCPServer`, which
/// serves MCP on stdin/stdout until the host closes stdin.
@main
struct TrailMCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trail-mcp",
        abstract: "An MCP server over stdio that gives a model the trail as tools.",
        discussion: """
        Start it from an MCP host (Claude Desktop, Claude Code, any stdio host); it speaks MCP on \
        stdin/stdout and logs to stderr. Tools: trail_deposit, trail_sense, trail_get, trail_follow, \
        trail_reinforce, trail_repel, trail_link, trail_retract, trail_revive, trail_stats; prompt: \
        trail_practice.

        When traild has its embedding model, trail_deposit merges a note into a live note of the same \
        meaning (cosine similarity >= --merge-similar, default 0.9) unless the call says otherwise, so \
        the same lesson written by many agents reinforces one note; trail_sense finds notes by meaning \
        with `similar`.

        traild need not be running when trail-mcp starts: each tool call connects (or reconnects, after \
        a restart) when needed, and answers with a tool error that says how to start traild while it is down.

        The socket is --socket, else $TRAIL_SOCKET, else $XDG_RUNTIME_DIR/trail/traild.sock, else \
        /tmp/trail-$UID/traild.sock; when that has no socket, the system daemon's /run/trail/traild.sock. \
        See docs/mcp.md.
        """,
        version: TrailMCPConfiguration.version)

    @Option(name: .long, help: ArgumentHelp(
        "The daemon's socket.",
        discussion: "Default: $TRAIL_SOCKET, else $XDG_RUNTIME_DIR/trail/traild.sock, else /tmp/trail-$UID/traild.sock; when that has no socket, the system daemon's /run/trail/traild.sock.",
        valueName: "path"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp(
        "The session's namespace: every tool works in it unless a call passes `ns` (default: default).", valueName: "name"))
    var ns: String?

    @Option(name: .long, help: ArgumentHelp(
        "The agent name stamped on every write (default: $TRAIL_AGENT, else none).", valueName: "name"))
    var agent: String?

    @Option(name: .customLong("merge-similar"), help: ArgumentHelp(
        "trail_deposit's merge_similar when a call gives none and traild has its embedding model: paraphrases of a note reinforce it instead of piling up (0 < x <= 1; 0 turns the default off).",
        valueName: "x"))
    var mergeSimilar: Double = TrailMCPConfiguration.defaultMergeSimilar

    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "What to log on stderr: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String = "info"

    func validate() throws {
        if let ns {
            do { _ = try Validate.namespace(ns) } catch { throw ValidationError("--ns \(ns.debugDescription) is not a namespace name; use 1 to 64 of a-z 0-9 . _ - starting with a letter or digit.") }
        }
        if let agent = resolvedAgent {
            do { _ = try Validate.printable(agent, field: "--agent", maxBytes: Limits.maxAgentBytes) } catch { throw ValidationError(error.message) }
        }
        guard mergeSimilar >= 0, mergeSimilar <= 1 else {
            throw ValidationError("--merge-similar must be a number from 0 (no default merge) to 1, not \(mergeSimilar).")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical.")
        }
    }

    /// `--agent`, else `TRAIL_AGENT` when set and not empty.
    var resolvedAgent: String? {
        if let agent { return agent }
        if let env = ProcessInfo.processInfo.environment["TRAIL_AGENT"], !env.isEmpty { return env }
        return nil
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        // stdout is the MCP channel: every log line goes to stderr.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "trail-mcp")
        let configuration = TrailMCPConfiguration(socket: .forClient(flag: socket), ns: ns, agent: resolvedAgent,
                                                  mergeSimilar: mergeSimilar > 0 ? mergeSimilar : nil)
        try await TrailMCPServer(configuration: configuration, logger: logger).run()
    }
}
