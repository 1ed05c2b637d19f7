import Foundation

/// What stdout and stderr are attached to, and what that allows: colour only
/// on a terminal and never with `NO_COLOR` (https://no-color.org) or
/// `TERM=dumb`; the terminal's width for fitting tables.
enum Terminal {
    static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }
    static var stdinIsTTY: Bool { isatty(STDIN_FILENO) == 1 }

    /// True when stdout may carry ANSI colours.
    static var colorAllowed: Bool {
        let env = ProcessInfo.processInfo.environment
        if let noColor = env["NO_COLOR"], !noColor.isEmpty { return false }
        if env["TERM"] == "dumb" { return false }
        return stdoutIsTTY
    }

    /// Columns of the terminal stdout is on; nil when it is not one.
    static var width: Int? {
        guard stdoutIsTTY else { return nil }
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let cols = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), cols > 0 { return cols }
        return 80
    }

    /// Writes `text` and a newline to stdout, unbuffered, so streamed output
    /// (watch) appears at once and interleaves correctly with stderr.
    static func printOut(_ text: String) {
        write(text + "\n", to: STDOUT_FILENO)
    }

    /// Writes `trailctl: text` to stderr.
    static func printError(_ text: String) {
        write("trailctl: \(text)\n", to: STDERR_FILENO)
    }

    static func write(_ text: String, to fd: Int32) {
        var copy = text
        _ = copy.withUTF8 { writeAll($0, to: fd) }
    }

    /// Writes every byte, retrying short writes. Returns false when the
    /// reader has gone (EPIPE) or the write fails.
    @discardableResult
    static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>, to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}

/// ANSI styles, applied only when colour is allowed.
enum Style: String {
    case bold = "1"
    case dim = "2"
    case red = "31"
    case green = "32"
    case yellow = "33"
    case blue = "34"
    case magenta = "35"
    case cyan = "36"
}

/// How human output is written: plain, or coloured on a terminal.
struct Painter {
    var color: Bool

    static var forStdout: Painter { Painter(color: Terminal.colorAllowed) }

    func paint(_ text: String, _ style: Style?) -> String {
        guard color, let style, !text.isEmpty else { return text }
        return "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m"
    }
}
