import ArgumentParser
import Foundation
import TrailClient

struct Deposit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leave a note, or reinforce it if its body is already there.",
        discussion: """
        A note is addressed by its content: its id is the SHA-256 of the body's UTF-8 bytes. \
        Depositing a body that exists adds --strength to its decayed weight, counts one more \
        deposit and merges the tags and after-notes; the answer then says `reinforced` instead \
        of `created`.

        Give the body as the argument, or `-` to read it from stdin (one trailing newline, as \
        echo and heredocs add, is dropped unless --raw is given).

        Examples:
          trailctl deposit "found sugar near the north wall" --tag food --tag north
          git log -1 --format=%B | trailctl deposit - --after 3f2a9c1b --agent scout-2
        """)

    @Argument(help: ArgumentHelp("The note's text, or - to read it from stdin.", valueName: "body"))
    var body: String

    @Option(name: .customLong("tag"), help: ArgumentHelp("A tag (repeatable, at most 16).", valueName: "tag"))
    var tags: [String] = []

    @Option(name: .customLong("after"), help: ArgumentHelp(
        "A note this one was reached from (repeatable): makes the trail that -> this.", valueName: "id"))
    var after: [String] = []

    @Option(help: ArgumentHelp("Weight to add (default 1.0; greater than 0).", valueName: "w"))
    var strength: Double?

    @Flag(help: "Deposit even if the body was retracted (revives it).")
    var force = false

    @Flag(help: "With -, keep stdin's bytes exactly, trailing newline included.")
    var raw = false

    @OptionGroup var writer: AgentOption
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let text = body == "-" ? try StandardInput.readNote(keepNewline: raw) : body
        let request = DepositRequest(body: text, ns: global.ns, tags: tags, after: after, agent: writer.resolved,
                                     strength: strength, force: force)
        try await global.perform(request) { d, p in
            let verb = d.created ? p.paint("created", .green) : p.paint("reinforced", .yellow)
            return ["\(verb)  \(p.paint(Format.id(d.id), .cyan))  weight \(p.paint(Format.weight(d.weight), .bold))  deposits \(d.deposits)  ns \(d.ns)"]
        }
    }
}

/// Reading a note body from stdin.
enum StandardInput {
    /// All of stdin as UTF-8; drops one trailing `\n` (or `\r\n`) unless `keepNewline`.
    static func readNote(keepNewline: Bool) throws -> String {
        if Terminal.stdinIsTTY {
            Terminal.write("Type the note, then Ctrl-D on a line of its own:\n", to: STDERR_FILENO)
        }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard var text = String(validating: data, as: UTF8.self) else {
            throw CtlFailure.usage("stdin is not UTF-8 text; a note body must be UTF-8.")
        }
        if !keepNewline {
            if text.hasSuffix("\r\n") { text.removeLast(1) } else if text.hasSuffix("\n") { text.removeLast() }
        }
        guard !text.isEmpty else { throw CtlFailure.usage("stdin is empty; a note needs a body.") }
        return text
    }
}
