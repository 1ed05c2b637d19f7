import Logging
import MCP

/// The MCP server: the trail tools and the `trail_practice` prompt over a
/// transport (stdio for a host), talking to `traild` through a `DaemonLink`.
///
/// Nothing but MCP is written to the transport; logs go to the `Logger`
/// (trail-mcp sends them to stderr).
public struct TrailMCPServer: Sendable {
    public let configuration: TrailMCPConfiguration
    let logger: Logger

    public init(configuration: TrailMCPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Serves on `transport` until the host closes it (end of stdin), then
    /// closes the daemon connection. Throws only when the transport cannot
    /// start.
    public func run(transport: (any Transport)? = nil) async throws {
        let daemon = DaemonLink(socket: configuration.socket, logger: logger)
        let server = await Self.makeServer(TrailToolbox(configuration: configuration, daemon: daemon, logger: logger))
        try await server.start(transport: transport ?? StdioTransport(logger: logger))
        logger.info("trail-mcp \(TrailMCPConfiguration.version) serving MCP on stdio", metadata: [
            "socket": "\(configuration.socket.path)", "ns": "\(configuration.namespace)",
            "agent": "\(configuration.agent ?? "-")",
        ])
        await server.waitUntilCompleted()
        logger.info("the MCP host closed the session; stopping")
        await server.stop()
        await daemon.close()
    }

    /// An MCP server with the toolbox's tools and the practice prompt.
    /// Costs nothing until started on a transport.
    public static func makeServer(_ toolbox: TrailToolbox) async -> Server {
        let configuration = toolbox.configuration
        let server = Server(
            name: "trail-mcp", version: TrailMCPConfiguration.version, title: "trail: a shared memory for agents",
            instructions: PracticePrompt.instructions(configuration),
            capabilities: .init(prompts: .init(listChanged: false), tools: .init(listChanged: false)))
        let tools = toolbox.tools
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: tools) }
        await server.withMethodHandler(CallTool.self) { params in
            try await toolbox.call(params.name, arguments: params.arguments)
        }
        await server.withMethodHandler(ListPrompts.self) { _ in ListPrompts.Result(prompts: [PracticePrompt.prompt]) }
        await server.withMethodHandler(GetPrompt.self) { params in
            guard params.name == PracticePrompt.name else {
                throw MCPError.invalidParams("There is no prompt \(params.name); trail-mcp has one, \(PracticePrompt.name).")
            }
            return PracticePrompt.messages(configuration, task: params.arguments?["task"])
        }
        return server
    }
}
