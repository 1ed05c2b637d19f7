import Foundation
import Glibc

/// The HTTP listener's token (issue 15): random, made at start, written
/// 0600 beside the socket and printed in the ready line's URL. It stands for
/// the daemon's owner: it opens the pages and JSON that show note bodies.
struct HTTPToken: Sendable {
    let value: String

    /// 32 random bytes, as hex.
    init() {
        var rng = SystemRandomNumberGenerator()
        value = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }

    /// Whether `presented` is the token, in time that does not depend on where they differ.
    func matches(_ presented: String) -> Bool {
        let a = Array(value.utf8), b = Array(presented.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    /// Writes the token to `path`, readable by the owner alone.
    func write(to path: String) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConfigurationError.invalid("cannot write the HTTP token to \(path) (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let line = value + "\n"
        _ = line.withCString { Glibc.write(fd, $0, strlen($0)) }
    }
}
