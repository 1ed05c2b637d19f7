import Foundation

/// With `--perf DIR`: records the machine with `perf record -a -g` while a
/// trail workload runs, and writes traild's flat profile
/// (`perf report --pid PID --no-children --sort symbol`) as `DIR/NAME.txt`
/// and its time by thread and library as `DIR/NAME.threads.txt`, beside
/// `DIR/NAME.data`.
/// The figures of a profiled run are lower than an unprofiled one's
/// (sampling costs some of the 2 cores); use it to see where time goes.
struct Profiler: Sendable {
    let dir: String
    let perf: String

    init(dir: String, perf: String = "perf") throws {
        self.dir = dir
        self.perf = try ChildProcess.resolve(perf)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    /// Runs `body` while perf samples `pid`: for `seconds`, or (nil) until
    /// `body` returns.
    func around<T>(_ name: String, pid: pid_t, seconds: Double?, _ body: () async throws -> T) async throws -> T {
        let data = "\(dir)/\(name).data"
        // System-wide, then filtered to traild: `perf record -p` follows only
        // the threads that exist when it starts, and libdispatch starts and
        // ends its worker threads as the load changes.
        var arguments = ["record", "-a", "-g", "-F", "999", "-o", data]
        if let seconds { arguments += ["--", "sleep", String(format: "%.2f", seconds)] }
        let recorder = try ChildProcess.start("perf", executable: perf, arguments: arguments, log: "\(dir)/\(name).log")
        let value: T
        do {
            value = try await body()
        } catch {
            recorder.stop()
            throw error
        }
        if seconds == nil { kill(recorder.pid, SIGINT) }
        recorder.waitForExit()
        let report = try ChildProcess.output(perf, [
            "report", "-i", data, "--pid", String(pid), "--no-children", "--sort", "symbol", "--stdio", "-g", "none",
            "--percent-limit", "0.3",
        ])
        let threads = try ChildProcess.output(perf, [
            "report", "-i", data, "--pid", String(pid), "--no-children", "--sort", "comm,dso", "--stdio", "-g", "none",
            "--percent-limit", "0.5",
        ])
        try report.write(toFile: "\(dir)/\(name).txt", atomically: true, encoding: .utf8)
        try threads.write(toFile: "\(dir)/\(name).threads.txt", atomically: true, encoding: .utf8)
        return value
    }
}
