import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A reply of the Redis protocol (RESP2).
enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk(String?)
    case array([RESPValue]?)

    var int: Int? {
        switch self {
        case let .integer(n): n
        case let .bulk(s?): Int(s)
        default: nil
        }
    }

    var string: String? {
        switch self {
        case let .simple(s), let .bulk(s?): s
        default: nil
        }
    }
}

/// A small blocking Redis client over a Unix socket, for what redis-benchmark
/// cannot do: loading data sets in bulk, loading the function library,
/// reading INFO, and the evaporation loop of W7. Measured loads use
/// redis-benchmark itself.
final class RESPClient {
    private let fd: Int32
    private var input: [UInt8] = []
    private var position = 0

    /// Connects to the socket at `path`; throws when nothing listens there.
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchFailure("socket(2) failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw BenchFailure("the socket path \(path) is too long; give a shorter --work-dir")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw BenchFailure("cannot connect to Redis at \(path): \(why)")
        }
    }

    deinit { close(fd) }

    /// Sends one command and returns its reply; a Redis error reply throws.
    @discardableResult
    func call(_ args: [String]) throws -> RESPValue {
        let reply = try pipeline([args])[0]
        if case let .error(message) = reply { throw BenchFailure("Redis answered \(args.first ?? "") with: \(message)") }
        return reply
    }

    /// Sends every command before reading any reply (one write), then reads
    /// the replies in order.
    func pipeline(_ commands: [[String]]) throws -> [RESPValue] {
        var out: [UInt8] = []
        out.reserveCapacity(commands.count * 96)
        for command in commands { Self.encode(command, into: &out) }
        try writeAll(out)
        return try (0..<commands.count).map { _ in try readValue() }
    }

    /// Sends commands already encoded with `encode`, `count` of them, and
    /// checks that none was refused. For bulk loading.
    /// Every command must have a one-line reply (an integer or a status).
    func send(encoded: [UInt8], count: Int) throws {
        try writeAll(encoded)
        var seen = 0
        while seen < count {
            while seen < count, let end = input[position...].firstIndex(of: 10) {
                switch input[position] {
                case UInt8(ascii: "-"):
                    throw BenchFailure("Redis refused a load command: \(String(decoding: input[position..<end], as: UTF8.self))")
                case UInt8(ascii: ":"), UInt8(ascii: "+"):
                    break
                default:
                    throw BenchFailure("a load command got a reply of more than one line")
                }
                position = end + 1
                seen += 1
            }
            if seen < count { try fill() }
        }
    }

    static func encode(_ command: [String], into out: inout [UInt8]) {
        out.append(contentsOf: "*\(command.count)\r\n".utf8)
        for arg in command {
            let bytes = arg.utf8
            out.append(contentsOf: "$\(bytes.count)\r\n".utf8)
            out.append(contentsOf: bytes)
            out.append(13)
            out.append(10)
        }
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchFailure("writing to Redis failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    private func fill() throws {
        if position > 0 && position == input.count {
            input.removeAll(keepingCapacity: true)
            position = 0
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0, errno == EINTR { return }
        guard n > 0 else { throw BenchFailure("Redis closed the connection") }
        input.append(contentsOf: chunk[0..<n])
    }

    private func readLine() throws -> String {
        while true {
            if let end = input[position...].firstIndex(of: 10), end > position, input[end - 1] == 13 {
                let line = String(decoding: input[position..<(end - 1)], as: UTF8.self)
                position = end + 1
                return line
            }
            try fill()
        }
    }

    private func readValue() throws -> RESPValue {
        let line = try readLine()
        guard let kind = line.first else { throw BenchFailure("Redis sent an empty line") }
        let rest = String(line.dropFirst())
        switch kind {
        case "+": return .simple(rest)
        case "-": return .error(rest)
        case ":": return .integer(Int(rest) ?? 0)
        case "$":
            let n = Int(rest) ?? -1
            if n < 0 { return .bulk(nil) }
            while input.count - position < n + 2 { try fill() }
            let s = String(decoding: input[position..<(position + n)], as: UTF8.self)
            position += n + 2
            return .bulk(s)
        case "*":
            let n = Int(rest) ?? -1
            if n < 0 { return .array(nil) }
            return .array(try (0..<n).map { _ in try readValue() })
        default:
            throw BenchFailure("Redis sent a line this client does not read: \(line.prefix(80))")
        }
    }
}
