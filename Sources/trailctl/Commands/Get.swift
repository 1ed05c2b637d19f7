import ArgumentParser
import TrailClient
import TrailCore
import TrailProtocol

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show notes in full, whatever their state, with their trails and history.",
        discussion: """
        Prints every field of the note, its body, the trails at its ends (strongest first, \
        -> out of it, <- into it) and the latest writes that touched it. \
        Takes whole ids or unique prefixes of at least 8 hex digits; several ids are fetched \
        in one pipelined round trip. With --json, each note's result is printed on its own line. \
        If any id is unknown the others are still shown and the exit code is 1.
        """)

    @Argument(help: ArgumentHelp("Note ids or prefixes.", valueName: "id"))
    var ids: [String]

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if ids.isEmpty { throw ValidationError("Give at least one note id.") }
    }

    func run() async throws {
        let requests = ids.map { GetRequest(id: $0, ns: global.ns) }
        let (answers, contesting) = try await global.withConnection { c in
            let answers = await c.pipeline(requests.map { (method: $0.method, params: $0.params) })
            // The notes that contest those asked for, to show both sides.
            var others: [String] = []
            for (n, answer) in answers.enumerated() where !global.json {
                guard case let .success(raw) = answer, let d = try? requests[n].decode(raw) else { continue }
                others += d.note.contestedBy.map(\.hex).filter { !others.contains($0) }
            }
            let asked = others.map { GetRequest(id: $0, ns: global.ns) }
            let fetched = await c.pipeline(asked.map { (method: $0.method, params: $0.params) })
            let contesting = zip(asked, fetched).compactMap { request, answer -> Note? in
                guard case let .success(raw) = answer else { return nil }
                return try? request.decode(raw).note
            }
            return (answers, contesting)
        }
        var failure: CtlFailure?
        let painter = Painter.forStdout
        for (n, answer) in answers.enumerated() {
            switch answer {
            case let .success(raw):
                if global.json {
                    global.printJSON(raw)
                    continue
                }
                let details: NoteDetails
                do { details = try requests[n].decode(raw) } catch { throw CtlFailure.failed("traild broke the protocol: \(error)") }
                if n > 0 { Terminal.printOut("") }
                for line in NoteView.details(details, painter, width: Terminal.width, contesting: contesting) { Terminal.printOut(line) }
            case let .failure(error):
                let f = CtlFailure(error, socket: global.location)
                if f.code != CtlFailure.daemonError { throw f }
                Terminal.printError("\(ids[n]): \(f.message)")
                failure = failure ?? f
            }
        }
        if let failure { throw ExitCode(failure.code) }
    }
}
