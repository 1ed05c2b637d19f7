import ArgumentParser
import Foundation
import TrailClient
import TrailProtocol

/// The options every command takes: where the daemon is, which namespace,
/// and whether to print JSON.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The daemon's socket.",
        discussion: "Default: $TRAIL_SOCKET, else $XDG_RUNTIME_DIR/trail/traild.sock, else /tmp/trail-$UID/traild.sock; when that has no socket, the system daemon's /run/trail/traild.sock.",
        valueName: "path"))
    var socket: String?

    @Option(name: [.customShort("N"), .customLong("ns")], help: ArgumentHelp(
        "The namespace to work in.", discussion: "Default: $TRAIL_NS, else default.", valueName: "name"))
    var nsOption: String?

    /// The namespace: `--ns`, else `TRAIL_NS` (non-empty), else nil (the daemon's `default`).
    var ns: String? {
        if let nsOption { return nsOption }
        if let env = ProcessInfo.processInfo.environment["TRAIL_NS"], !env.isEmpty { return env }
        return nil
    }

    @Flag(name: .long, help: "Print the daemon's result as JSON, unchanged, for scripts and jq.")
    var json = false

    /// Moves the global options written before the subcommand
    /// (`trailctl --ns x sense`) to after it, where the subcommand parses
    /// them: swift-argument-parser reads options only on the command that
    /// declares them. They go before a `--`, so they never become arguments.
    static func hoisted(_ arguments: [String]) -> [String] {
        let withValue: Set<String> = ["--socket", "--ns", "-N"]
        let flags: Set<String> = ["--json"]
        var leading: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            if flags.contains(a) {
                leading.append(a)
                i += 1
            } else if withValue.contains(name) {
                leading.append(a)
                if !a.contains("="), i + 1 < arguments.count {
                    leading.append(arguments[i + 1])
                    i += 1
                }
                i += 1
            } else {
                break
            }
        }
        guard !leading.isEmpty, i < arguments.count else { return arguments }
        var rest = Array(arguments[i...])
        let end = rest.firstIndex(of: "--") ?? rest.endIndex
        rest.insert(contentsOf: leading, at: end)
        return rest
    }

    /// Where the daemon is, decided as SPEC.md §3 says.
    var location: SocketLocation { SocketLocation.forClient(flag: socket) }

    /// Connects, runs `body`, closes. Client errors become the contract's exit codes.
    func withConnection<T>(_ body: (TrailConnection) async throws -> T) async throws -> T {
        let location = self.location
        let connection: TrailConnection
        do {
            connection = try await TrailConnection.connect(to: location)
        } catch {
            throw CtlFailure(error, socket: location)
        }
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch let error as TrailClientError {
            await connection.close()
            throw CtlFailure(error, socket: location)
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Sends `request` and prints its result: the JSON line as received with
    /// `--json`, else what `render` makes of the typed result.
    func perform<R: TrailRequest>(_ request: R, render: (R.Result, Painter) -> [String]) async throws {
        let raw = try await withConnection { c in try await c.call(request) }
        if json {
            printJSON(raw)
            return
        }
        let typed: R.Result
        do {
            typed = try request.decode(raw)
        } catch {
            throw CtlFailure(.protocolViolation(error.description), socket: location)
        }
        for line in render(typed, .forStdout) { Terminal.printOut(line) }
    }

    func printJSON(_ value: JSONValue) {
        Terminal.printOut(String(decoding: JSONWriter.bytes(value), as: UTF8.self))
    }
}

/// `--agent` for commands that write.
struct AgentOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Who is writing, recorded with the write (default: $TRAIL_AGENT).", valueName: "name"))
    var agent: String?

    var resolved: String? {
        if let agent { return agent }
        if let env = ProcessInfo.processInfo.environment["TRAIL_AGENT"], !env.isEmpty { return env }
        return nil
    }
}
