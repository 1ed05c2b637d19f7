import ArgumentParser
import Foundation
import TrailClient
import TrailProtocol

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream a namespace's events as they happen, until interrupted.",
        discussion: """
        One line per event (deposited, reinforced, linked, retracted, evaporated, revived), \
        sent once the write has committed. With --json each line is the notification's params \
        as received: {"subscription", "event", "note", ...}. On a colony of daemons, writes \
        through the others that this daemon could not send (its database connection was down \
        too long) show as one "missed" line with their write-log range ({"subscription", \
        "from", "to"} with --json, no "event"): sense to catch up. Stops on Ctrl-C (exit 0), \
        after --count events, or with exit 3 if the daemon goes away.

        Examples:
          trailctl watch --tag food
          trailctl watch --json | jq -r 'select(.event == "deposited") | .note.body'
        """)

    @Option(name: [.customShort("t"), .customLong("tag")], help: ArgumentHelp("Only notes carrying this tag (repeatable: all of them).", valueName: "tag"))
    var tags: [String] = []

    @Option(help: ArgumentHelp("Stop after this many events.", valueName: "n"))
    var count: Int?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1.") }
    }

    func run() async throws {
        Interrupt.exitCleanlyOnSignals()
        let painter = Painter.forStdout
        try await global.withConnection { c in
            let events = try await c.watch(ns: global.ns, tags: tags)
            if Terminal.stderrIsTTY && !global.json {
                Terminal.write(painter.paint("watching \(global.ns ?? "default")\(tags.isEmpty ? "" : " tags \(tags.joined(separator: ","))") (Ctrl-C to stop)\n", .dim), to: STDERR_FILENO)
            }
            var seen = 0
            for try await item in events {
                switch item {
                case let .event(event):
                    if global.json {
                        global.printJSON(.object(event.params))
                    } else {
                        Terminal.printOut(line(event, painter))
                    }
                    seen += 1
                    if let count, seen >= count { return }
                case let .missed(gap):
                    if global.json {
                        global.printJSON(.object(gap.params))
                    } else {
                        Terminal.printOut(painter.paint("\(Clock.now())  missed     writes through other daemons (write log \(gap.first)-\(gap.last)) could not be sent to this watch; sense to catch up", .red))
                    }
                }
            }
        }
    }

    func line(_ e: TrailEvent, _ p: Painter) -> String {
        let style: Style? = switch e.kind {
        case .deposited, .revived: .green
        case .reinforced, .linked: .yellow
        case .retracted: .red
        default: .dim
        }
        let clock = p.paint(Clock.now(), .dim)
        let kind = p.paint(e.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0), style)
        var text = "\(clock)  \(kind)  \(p.paint(Format.id(e.note.id), .cyan))  \(Format.weight(e.note.weight))"
        if let t = e.trail {
            text += "  trail \(Format.id(t.from)) -> \(Format.id(t.to)) \(Format.weight(t.weight))"
        }
        text += "  " + Format.excerpt(e.note.body, max: 80)
        if e.dropped > 0 {
            // The daemon's backlog for this connection was full: say so before the event that follows the gap.
            text = p.paint("(\(e.dropped) events dropped here: this watch fell behind; sense to catch up)", .red) + "\n" + text
        }
        return text
    }
}

/// Local wall-clock time of day, `HH:MM:SS`.
enum Clock {
    static func now() -> String {
        var t = time(nil)
        var parts = tm()
        localtime_r(&t, &parts)
        return String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}

/// Ctrl-C and SIGTERM end a long-running command (watch) with exit 0: being
/// stopped is how it is meant to end.
enum Interrupt {
    /// Kept for the life of the process; created on first use.
    nonisolated(unsafe) private static let sources: [any DispatchSourceSignal] = [SIGINT, SIGTERM].map { sig in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue(label: "trailctl.signals"))
        // _exit, not exit: exit() would run atexit handlers and static
        // destructors on this queue while the event loop's threads still
        // run, which can crash a process that was only asked to stop. The
        // output is flushed first.
        source.setEventHandler {
            fflush(nil)
            _exit(0)
        }
        source.resume()
        return source
    }

    static func exitCleanlyOnSignals() { _ = sources }
}
