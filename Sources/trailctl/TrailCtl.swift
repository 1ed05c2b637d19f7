import ArgumentParser
import Foundation

/// `trailctl`: the command line of trail, one subcommand per method of
/// the daemon (SPEC.md §7), plus export, import, graph and status.
@main
struct TrailCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trailctl",
        abstract: "Read and tend the shared trail memory that traild keeps.",
        discussion: """
        Agents leave small notes for each other; each note has a weight that decays with the \
        namespace's half-life and grows when the note is deposited again or reinforced. Notes \
        are joined by trails (directed, weighted, decaying too). trailctl talks to the traild \
        daemon over its Unix socket: one subcommand per method, human output on a terminal, \
        --json for scripts.

        The socket is --socket, else $TRAIL_SOCKET, else $XDG_RUNTIME_DIR/trail/traild.sock, \
        else /tmp/trail-$UID/traild.sock; when that has no socket, the system daemon's \
        /run/trail/traild.sock. The namespace is --ns (-N), else $TRAIL_NS, else default. \
        Writes are recorded under --agent, else $TRAIL_AGENT. \
        The options every command takes (--socket, --ns, --json) may also come before the \
        subcommand: `trailctl --ns colony-7 sense`.

        Exit codes: 0 ok; 1 the daemon answered with an error (its message on stderr), or the \
        command could not do its work (a corrupt import file); 2 usage; 3 the daemon cannot \
        be reached (check, backup: the store cannot be opened); 4 check found damage.

        See docs/trailctl.md for every command with examples.
        """,
        version: "0.1.0",
        subcommands: [
            Deposit.self, Get.self, Sense.self, Reinforce.self, Repel.self, Link.self, Follow.self,
            Retract.self, Revive.self, Stats.self, Namespace.self, Compact.self, Watch.self, Status.self,
            Export.self, Import.self, Graph.self, Check.self, Backup.self,
        ])

    /// Runs the command and exits with the contract's codes: usage errors
    /// exit 2 (swift-argument-parser's own code would be 64, EX_USAGE).
    static func main() async {
        do {
            var command = try parseAsRoot(GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CtlFailure {
            failure.exit()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            }
            if !message.isEmpty { Terminal.write(message + "\n", to: STDERR_FILENO) }
            Foundation.exit(code == .validationFailure ? CtlFailure.usage : code.rawValue)
        }
    }
}
