/// Where the HTTP listener binds (`--http ADDR:PORT`, config `http`):
/// `127.0.0.1:8377`, `[::1]:8377` or `localhost:8377`; port 0 takes a free
/// one (the ready line names it).
public struct HTTPAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reads `ADDR:PORT`; `what` names the flag or key for the message.
    public init(parsing text: String, what: String) throws(ConfigurationError) {
        let host: Substring, portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw Self.invalid(text, what) }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw Self.invalid(text, what) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(" "), let port = Int(portText), (0...65535).contains(port) else {
            throw Self.invalid(text, what)
        }
        self.init(host: String(host), port: port)
    }

    private static func invalid(_ text: String, _ what: String) -> ConfigurationError {
        .invalid("\(what) must be ADDR:PORT such as 127.0.0.1:8377 or [::1]:8377 (port 0 takes a free one), not \(text.debugDescription)")
    }

    /// Whether only this host can reach it.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// `host:port`, with IPv6 in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
