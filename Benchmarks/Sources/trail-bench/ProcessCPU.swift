import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU time of processes (user + system, every thread, those that ended
/// included), to say how much of each system a workload used: traild, the
/// PostgreSQL server's processes, this program. Read from the kernel's CPU
/// clock of the process, in nanoseconds: /proc/PID/stat counts 10 ms ticks,
/// and a smoke run's 0.3 s of a server that spends 90 us a request is a
/// tick or two, which rounded to 0 now and then.
enum ProcessCPU {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Seconds of CPU `pid` has used so far (0 when it is gone).
    static func seconds(_ pid: pid_t) -> Double {
        var clock = clockid_t()
        var now = timespec()
        if clock_getcpuclockid(pid, &clock) == 0, clock_gettime(clock, &now) == 0 {
            return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        }
        // A process gone between listing and reading, or a kernel that
        // does not give another process's clock: the ticks, if any.
        guard let fields = stat(pid), fields.count > 12 else { return 0 }
        // After the command's ")": state is field 0, utime field 11, stime field 12.
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticksPerSecond
    }

    /// The summed CPU seconds of `pids`.
    static func seconds(_ pids: [pid_t]) -> Double {
        pids.reduce(0) { $0 + seconds($1) }
    }

    /// This process's CPU seconds.
    static var mine: Double { seconds(getpid()) }

    /// The processes whose parent is `parent` (a postmaster's backends and helpers).
    static func children(of parent: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let fields = stat(pid), fields.count > 1 else { return false }
            return pid_t(fields[1]) == parent
        }
    }

    /// The fields of /proc/PID/stat after the command name.
    private static func stat(_ pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}

/// CPU used by some processes between `start` and `stop`. The processes
/// are listed again at the end: one that started in between counts from 0,
/// one that ended in between is lost (a backend that came and went).
struct CPUWindow {
    private let pids: () -> [pid_t]
    private var startSeconds: [pid_t: Double] = [:]
    private var startTime: UInt64 = 0

    init(_ pids: @escaping () -> [pid_t]) {
        self.pids = pids
    }

    mutating func start() {
        startSeconds = Dictionary(pids().map { ($0, ProcessCPU.seconds($0)) }, uniquingKeysWith: { a, _ in a })
        startTime = monoNanos()
    }

    /// (CPU seconds, wall seconds) since `start`.
    func stop() -> (cpu: Double, wall: Double) {
        let cpu = pids().reduce(0.0) { $0 + max(0, ProcessCPU.seconds($1) - (startSeconds[$1] ?? 0)) }
        return (cpu, Double(monoNanos() - startTime) / 1e9)
    }
}
