import Foundation

/// With `--perf DIR`: records traild with `perf record -g` while a trail
/// workload runs, and writes `DIR/NAME.txt`, the flat profile
/// (`perf report --no-children --sort symbol`), beside `DIR/NAME.data`.
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
        var arguments = ["record", "-g", "-F", "999", "-p", String(pid), "-o", data]
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
            "report", "-i", data, "--no-children", "--sort", "symbol", "--stdio", "-g", "none", "--percent-limit", "0.3",
        ])
        try report.write(toFile: "\(dir)/\(name).txt", atomically: true, encoding: .utf8)
        return value
    }
}
