import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The disk's sync rate: append 4 KiB to a file and `fdatasync` it, in a
/// loop, as a write-ahead log does for each commit (SQLite's WAL, Redis's
/// AOF). A durable store that syncs once per write can do no more writes per
/// second than this; group commit is how one does more.
enum FsyncProbe {
    /// Syncs per second over `seconds`, in a file in `dir` (the stores' filesystem).
    static func run(dir: String, seconds: Double) throws -> Double {
        let path = dir + "/fsync-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o600)
        guard fd >= 0 else { throw BenchFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer {
            close(fd)
            unlink(path)
        }
        let page = [UInt8](repeating: 0x61, count: 4096)
        let start = monoNanos()
        let stop = start + UInt64(seconds * 1e9)
        var syncs = 0
        var now = start
        while now < stop {
            let written = page.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            guard written == page.count, fdatasync(fd) == 0 else {
                throw BenchFailure("fsync probe failed: \(String(cString: strerror(errno)))")
            }
            syncs += 1
            now = monoNanos()
        }
        return Double(syncs) / (Double(now - start) / 1e9)
    }
}
