import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Reads what the table says about the machine, from /proc and uname.
enum Machine {
    static var cpu: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        let model = text.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        return model ?? "unknown"
    }

    static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    static var memoryGiB: Double { Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30) }

    static var kernel: String {
        var u = utsname()
        uname(&u)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))"
    }

    /// The filesystem type and device that hold `path` (the longest mount point above it).
    static func filesystem(of path: String) -> String {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return "unknown" }
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var best: (point: String, text: String)?
        for line in mounts.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 3 else { continue }
            let point = String(f[1])
            let inside = point == "/" || real == point || real.hasPrefix(point + "/")
            if inside && point.count >= (best?.point.count ?? -1) { best = (point, "\(f[2]) on \(f[0])") }
        }
        return best?.text ?? "unknown"
    }

    static var loadAverage: String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
    }

    /// The first line a command prints, or nil when it cannot run.
    static func firstLine(_ executable: String, _ args: [String]) -> String? {
        (try? ChildProcess.output(executable, args))?.split(separator: "\n").first.map(String.init)
    }

    /// "7.0.15" from `redis-server --version` ("Redis server v=7.0.15 sha=...").
    static func redisVersion(_ executable: String) -> String {
        guard let line = firstLine(executable, ["--version"]),
              let v = line.split(separator: " ").first(where: { $0.hasPrefix("v=") }) else { return "unknown" }
        return String(v.dropFirst(2))
    }

    /// The SQLite library this program (and traild) links.
    static var sqliteVersion: String {
        (try? DatabaseQueue().read { try String.fetchOne($0, sql: "SELECT sqlite_version()") }) ?? "unknown"
    }

    static var commit: String? {
        guard let sha = firstLine("git", ["rev-parse", "--short", "HEAD"]) else { return nil }
        let dirty = (try? ChildProcess.output("git", ["status", "--porcelain", "--untracked-files=no"]))?.isEmpty == false
        return dirty ? sha + " (with uncommitted changes)" : sha
    }
}
