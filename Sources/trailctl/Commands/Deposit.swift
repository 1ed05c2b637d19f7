import ArgumentParser
import Foundation
import TrailClient
import TrailCore

struct Deposit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leave a note, or reinforce it if its body is already there.",
        discussion: """
        A note is addressed by its content: its id is the SHA-256 of the body's UTF-8 bytes. \
        Depositing a body that exists adds --strength to its decayed weight, counts one more \
        deposit and merges the tags and after-notes; the answer then says `reinforced` instead \
        of `created`.

        --merge-similar X (0 < X <= 1) also lands the deposit on a live note with other words but \
        the same meaning: when one has a cosine similarity of at least X with the body, it is \
        reinforced instead (its body stays; yours is kept in its history, see `trailctl get`), \
        and the answer says `merged`, the note and the similarity. 0.9 keeps distinct findings \
        apart; it needs a daemon with its embedding model. Leave it out for a note that corrects \
        another or differs from it in one detail (a place, a version, a value): the model scores \
        those like rewordings.

        Give the body as the argument, or `-` to read it from stdin (one trailing newline, as \
        echo and heredocs add, is dropped unless --raw is given).

        Examples:
          trailctl deposit "found sugar near the north wall" --tag food --tag north
          git log -1 --format=%B | trailctl deposit - --after 3f2a9c1b --agent scout-2
          trailctl deposit "found some sugar close to the north wall" --merge-similar 0.9
        """)

    @Argument(help: ArgumentHelp("The note's text, or - to read it from stdin.", valueName: "body"))
    var body: String

    @Option(name: [.customShort("t"), .customLong("tag")], help: ArgumentHelp("A tag (repeatable, at most 16).", valueName: "tag"))
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

    @Option(name: .customLong("merge-similar"), parsing: .unconditional, help: ArgumentHelp(
        "Merge into a live note at least this similar in meaning (0 < x <= 1; 0.9 keeps distinct findings apart).", valueName: "x"))
    var mergeSimilar: Double?

    @OptionGroup var writer: AgentOption
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        // JSON has no NaN: it would be sent as null, a deposit that silently does not merge.
        if let mergeSimilar, !mergeSimilar.isFinite {
            throw ValidationError("--merge-similar takes a number in (0, 1], such as 0.9.")
        }
    }

    func run() async throws {
        let text = body == "-" ? try StandardInput.readNote(keepNewline: raw) : body
        let request = DepositRequest(body: text, ns: global.ns, tags: tags, after: after, agent: writer.resolved,
                                     strength: strength, force: force, mergeSimilar: mergeSimilar)
        let (raw, into, contested) = try await global.withConnection { c in
            let raw = try await c.call(request)
            guard !global.json else { return (raw, nil as Note?, [Note]()) }
            // A merged deposit lands on a note with another body: fetch it, to
            // show what the deposit was merged into.
            if raw["merged"] == true, let id = raw["id"]?.string {
                return (raw, try? await c.send(GetRequest(id: id, ns: global.ns)).note, [])
            }
            // A correction kept from a merge: fetch the notes it contests, to show both sides.
            var contested: [Note] = []
            for case let .string(id) in raw["contests"]?.array ?? [] {
                if let note = try? await c.send(GetRequest(id: id, ns: global.ns)).note { contested.append(note) }
            }
            return (raw, nil, contested)
        }
        if global.json {
            global.printJSON(raw)
            return
        }
        let d: Deposited
        do { d = try request.decode(raw) } catch { throw CtlFailure(.protocolViolation(error.description), socket: global.location) }
        for line in Self.lines(d, into: into, contested: contested, mergeSimilar: mergeSimilar, .forStdout) {
            Terminal.printOut(line)
        }
    }

    /// `created`, `reinforced` or `merged` (with the similarity, and the body
    /// of the note merged into when known), the note, its weight and deposits;
    /// for a correction kept from a merge, each note it contests (its body
    /// when `contested` has it).
    static func lines(_ d: Deposited, into: Note?, contested: [Note] = [], mergeSimilar: Double?, _ p: Painter) -> [String] {
        let id = p.paint(Format.id(d.id), .cyan)
        let figures = "weight \(p.paint(Format.weight(d.weight), .bold))  deposits \(d.deposits)  ns \(d.ns)"
        if d.merged == true {
            var lines = ["\(p.paint("merged", .magenta))  \(id)  similarity \(p.paint(Format.weight(d.similarity), .bold))  \(figures)"]
            if let into { lines.append("  into  \(Format.excerpt(into.body, max: 200))") }
            return lines
        }
        let verb = d.created ? p.paint("created", .green) : p.paint("reinforced", .yellow)
        // Say that no note was close enough, so a merge that did not happen is not mistaken for one.
        if !d.contests.isEmpty {
            // A correction is never merged: show the other side of each contest.
            var lines = ["\(verb)  \(id)  \(figures)\(p.paint("  (not merged: it disagrees with a near note on a decisive token)", .dim))"]
            for other in d.contests {
                let body = contested.first { $0.id == other }.map { "  \(Format.excerpt($0.body, max: 200))" } ?? ""
                lines.append("  \(p.paint("contests", .red))  \(p.paint(Format.id(other), .cyan))\(body)")
            }
            return lines
        }
        let tried = d.created && d.merged == false ? p.paint("  (no note as similar as \(Format.weight(mergeSimilar)) to merge into)", .dim) : ""
        return ["\(verb)  \(id)  \(figures)\(tried)"]
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
