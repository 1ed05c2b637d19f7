import Foundation

/// Where a command's data goes: stdout, or a file that appears only once
/// complete (written beside it under a temporary name, renamed on `commit`),
/// so an interrupted export never leaves a file that looks whole.
final class OutputFile {
    let path: String?
    private let temporary: String?
    private let fd: Int32
    private(set) var written = 0

    /// Opens `path` (nil or `-`: stdout). Throws a CtlFailure when the file cannot be created.
    init(path: String?) throws {
        guard let path, path != "-" else {
            self.path = nil
            temporary = nil
            fd = STDOUT_FILENO
            return
        }
        let temp = "\(path).partial-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CtlFailure.failed("cannot create \(path) (\(String(cString: strerror(errno)))); check the folder exists and is writable.")
        }
        self.path = path
        temporary = temp
        self.fd = fd
    }

    var isStdout: Bool { path == nil }

    /// Human name for messages.
    var name: String { path ?? "stdout" }

    func write(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        let ok = bytes.withUnsafeBufferPointer { Terminal.writeAll($0, to: fd) }
        guard ok else {
            let why = String(cString: strerror(errno))
            abandon()
            throw CtlFailure.failed("cannot write to \(name) (\(why)).")
        }
        written += bytes.count
    }

    /// Makes the file appear under its name.
    func commit() throws {
        guard let temporary, let path else { return }
        guard fsync(fd) == 0, close(fd) == 0, rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw CtlFailure.failed("cannot finish \(path) (\(why)).")
        }
    }

    /// Removes the unfinished file.
    func abandon() {
        guard let temporary else { return }
        close(fd)
        unlink(temporary)
    }
}

/// A progress line on stderr, only when stderr is a terminal: redrawn in
/// place, cleared when done.
struct ProgressLine {
    let enabled = Terminal.stderrIsTTY

    func show(_ text: String) {
        guard enabled else { return }
        Terminal.write("\r\u{1B}[K\(text)", to: STDERR_FILENO)
    }

    func clear() {
        guard enabled else { return }
        Terminal.write("\r\u{1B}[K", to: STDERR_FILENO)
    }
}
