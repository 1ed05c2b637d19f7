import Foundation
import Glibc

/// An exclusive `flock` on a file, held for the life of the daemon: the
/// proof that no other `traild` uses the same socket or data dir. The lock
/// dies with the process, so a `kill -9` never leaves a stale lock behind.
final class InstanceLock: Sendable {
    let path: String
    private let fd: Int32

    /// Takes the lock or throws a message that says who holds it.
    init(path: String, what: String) throws(ConfigurationError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .invalid("cannot open the lock file \(path) (\(String(cString: strerror(errno)))); check the folder's permissions")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, 31, 0)
            let pid = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(fd)
            throw .invalid("another traild (pid \(pid)) already uses \(what); stop it first or choose another --socket and --data-dir (lock: \(path))")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    deinit {
        _ = ftruncate(fd, 0)
        close(fd)
    }
}
