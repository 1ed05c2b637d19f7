import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A server this run started (traild or redis-server). Every child is
/// registered so that an interrupted run (Ctrl-C, SIGTERM) stops it too.
///
/// Started with posix_spawn, an empty signal mask and default signal
/// actions: the thread that starts it (a Swift concurrency or NIO thread)
/// blocks most signals, and a child would inherit that, so redis-server, for
/// one, would never see SIGTERM. Children start as they would from a shell.
final class ChildProcess: @unchecked Sendable {
    let name: String
    let pid: pid_t
    private let lock = Mutex<Int32?>(nil)
    /// The read end of the child's stdout, held open (never read after
    /// "ready") until it stops, so that a late line cannot raise SIGPIPE in it.
    private let stdoutFD = Mutex<Int32?>(nil)

    private init(name: String, pid: pid_t) {
        self.name = name
        self.pid = pid
    }

    /// Starts `executable` with its stderr (and stdout, after `readyWord`)
    /// going to `log`. With `readyWord`, returns once its stdout contains the
    /// word; throws if it exits first.
    static func start(_ name: String, executable: String, arguments: [String], log: String,
                      readyWord: String? = nil) throws -> ChildProcess {
        let path = try resolve(executable)
        let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw BenchFailure("cannot create \(log): \(String(cString: strerror(errno)))") }
        defer { close(logFD) }
        var pipeFDs: [Int32] = [-1, -1]
        if readyWord != nil {
            guard pipe(&pipeFDs) == 0 else { throw BenchFailure("pipe failed: \(String(cString: strerror(errno)))") }
            for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, readyWord == nil ? logFD : pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        if readyWord != nil { close(pipeFDs[1]) }
        guard status == 0 else {
            if readyWord != nil { close(pipeFDs[0]) }
            throw BenchFailure("cannot start \(path): \(String(cString: strerror(status)))")
        }
        let child = ChildProcess(name: name, pid: pid)
        ChildRegistry.shared.add(child)
        if let readyWord {
            child.stdoutFD.withLock { $0 = pipeFDs[0] }
            var seen: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: seen, as: UTF8.self).contains(readyWord) {
                let n = chunk.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    let code = child.waitForExit()
                    child.closeStdout()
                    ChildRegistry.shared.remove(child)
                    let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? ""
                    throw BenchFailure("\(name) exited (status \(code)) before it was ready; its log (\(log)) ends:\n\(tail)")
                }
                seen += chunk[0..<n]
            }
        }
        return child
    }

    /// True until the process has exited (and been reaped).
    var isRunning: Bool {
        lock.withLock { exit in
            if exit != nil { return false }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || r < 0 {
                exit = status
                return false
            }
            return true
        }
    }

    /// Waits for the process to exit; returns its wait status.
    @discardableResult
    func waitForExit() -> Int32 {
        while isRunning { usleep(5_000) }
        return lock.withLock { $0 ?? 0 }
    }

    /// Stops the process with SIGTERM (SIGKILL after 20 s) and waits for it.
    func stop() {
        defer {
            closeStdout()
            ChildRegistry.shared.remove(self)
        }
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while isRunning && Date() < deadline { usleep(5_000) }
        if isRunning { kill(pid, SIGKILL) }
        waitForExit()
    }

    private func closeStdout() {
        stdoutFD.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
    }

    /// The process's peak resident set (VmHWM), in KiB.
    var peakRSSKiB: Int? { Self.status(pid, field: "VmHWM:") }

    /// The process's resident set now (VmRSS), in KiB: its anonymous
    /// memory and the file pages it has mapped (traild maps up to 1 GiB of
    /// its SQLite store: pages the kernel can drop at will).
    var rssKiB: Int? { Self.status(pid, field: "VmRSS:") }

    /// The anonymous part of the resident set (RssAnon: heap, stacks), in KiB.
    var anonKiB: Int? { Self.status(pid, field: "RssAnon:") }

    /// Starts a new peak: VmHWM falls back to the current RSS.
    func resetPeakRSS() {
        try? "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)
    }

    private static func status(_ pid: Int32, field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field) {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// The full path of a program named on the command line or found on PATH.
    static func resolve(_ executable: String) throws -> String {
        if executable.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw BenchFailure("\(executable) is not an executable file; build it (swift build -c release) or give its path")
            }
            return executable
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw BenchFailure("\(executable) is not on PATH; install it (make system-deps installs redis-server and redis-tools) or give its path")
    }

    /// Runs a program to its end and returns its stdout; throws on a non-zero exit.
    static func output(_ executable: String, _ arguments: [String], cwd: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(executable))
        process.arguments = arguments
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes to their end before waiting, so a chatty program never blocks.
        let errorText = Mutex(Data())
        let errReader = Thread { errorText.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
        errReader.start()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while errReader.isExecuting { usleep(1000) }
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let why = errorText.withLock { String(decoding: $0, as: UTF8.self) }
            throw BenchFailure("\(executable) \(arguments.prefix(6).joined(separator: " ")) failed (status \(process.terminationStatus)): \(why.suffix(600))\(text.suffix(600))")
        }
        return text
    }
}

/// The children still running, stopped on SIGINT or SIGTERM before exiting.
final class ChildRegistry: Sendable {
    static let shared = ChildRegistry()
    private let children = Mutex<[ObjectIdentifier: ChildProcess]>([:])
    /// Set once, at the start of the run, before any other thread exists.
    nonisolated(unsafe) private var sources: [any DispatchSourceSignal] = []

    func add(_ child: ChildProcess) { children.withLock { $0[ObjectIdentifier(child)] = child } }
    func remove(_ child: ChildProcess) { _ = children.withLock { $0.removeValue(forKey: ObjectIdentifier(child)) } }

    /// Stops every child when the run is interrupted.
    func stopOnSignals() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                let all = children.withLock { Array($0.values) }
                for child in all { kill(child.pid, SIGKILL) }
                FileHandle.standardError.write(Data("trail-bench: interrupted; stopped \(all.count) server(s)\n".utf8))
                exit(130)
            }
            source.resume()
            sources.append(source)
        }
    }
}
