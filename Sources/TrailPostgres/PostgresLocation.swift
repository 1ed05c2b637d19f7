/// Where the PostgreSQL store lives: the `--store` URL, read once.
///
/// Accepted forms (contract §9), with every part percent-decoded:
///
///     postgres://USER[:PASSWORD]@HOST[:PORT]/DB
///     postgresql://USER[:PASSWORD]@HOST[:PORT]/DB
///     postgres://USER[:PASSWORD]@[:PORT]/DB?host=/socket/dir      (Unix socket)
///     postgres://USER[:PASSWORD]@%2Fsocket%2Fdir[:PORT]/DB         (Unix socket, libpq's other spelling)
///     ...?sslmode=verify-full&sslrootcert=/etc/trail/db-ca.pem    (TLS, `PostgresTLS`)
///
/// A host that starts with `/` is the directory of a Unix-socket server: the
/// connection goes to `DIR/.s.PGSQL.PORT`, as libpq does. `host=` in the query
/// overrides the host before it. The port defaults to 5432. `sslmode` and
/// `sslrootcert` say how TLS is used (`PostgresTLS`); any other query
/// parameter is refused rather than silently ignored.
///
/// `description`, `debugDescription`, `redacted` and `dump` never show the
/// password: a location is safe to log and to put in error messages.
public struct PostgresLocation: Sendable, Hashable {
    /// How to reach the server.
    public enum Endpoint: Sendable, Hashable {
        /// A TCP server (`host` is a name, an IPv4 or an IPv6 address without brackets).
        case tcp(host: String, port: Int)
        /// A Unix-socket server whose socket is `directory/.s.PGSQL.port`.
        case unixSocket(directory: String, port: Int)

        /// The port, which also names a Unix socket's file.
        public var port: Int {
            switch self {
            case let .tcp(_, port), let .unixSocket(_, port): port
            }
        }

        /// The socket file a Unix-socket endpoint connects to; nil for TCP.
        public var socketPath: String? {
            guard case let .unixSocket(directory, port) = self else { return nil }
            let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
            return (dir == "/" ? "" : dir) + "/.s.PGSQL.\(port)"
        }
    }

    /// The default PostgreSQL port.
    public static let defaultPort = 5432

    /// The server.
    public let endpoint: Endpoint
    /// The role to log in as.
    public let user: String
    /// The password, if the URL has one. Internal so that it cannot leak
    /// through a caller's log line; the connector is the only reader.
    let password: String?
    /// The database to open.
    public let database: String
    /// TLS to the server (TCP only).
    public let tls: PostgresTLS

    /// Builds a location from its parts (tests and callers that do not start from a URL).
    public init(endpoint: Endpoint, user: String, password: String?, database: String, tls: PostgresTLS = .disable) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Reads a `postgres://` or `postgresql://` URL.
    ///
    /// Costs one pass over the text. Throws `PostgresLocationError` naming
    /// what is missing or malformed (never quoting the password).
    public init(parsing url: String) throws(PostgresLocationError) {
        // The scheme is case-insensitive (RFC 3986 §3.1); nothing else is.
        var rest: Substring
        let lowered = url.lowercased()
        if lowered.hasPrefix("postgres://") {
            rest = url.dropFirst("postgres://".count)
        } else if lowered.hasPrefix("postgresql://") {
            rest = url.dropFirst("postgresql://".count)
        } else {
            throw .notPostgresURL
        }
        if rest.contains("#") { throw .fragment }

        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }

        // The last @ ends the user info, so an unencoded @ in a password still reads as meant.
        guard let at = rest.lastIndex(of: "@") else { throw .missingUser }
        let userInfo = rest[..<at]
        let hostPort = rest[rest.index(after: at)...]

        let rawUser: Substring
        var password: String? = nil
        if let colon = userInfo.firstIndex(of: ":") {
            rawUser = userInfo[..<colon]
            password = try Self.decode(userInfo[userInfo.index(after: colon)...], part: "password")
        } else {
            rawUser = userInfo
        }
        let user = try Self.decode(rawUser, part: "user")
        if user.isEmpty { throw .emptyUser }

        var (host, port) = try Self.splitHostPort(hostPort)

        guard let path, !path.isEmpty else { throw .missingDatabase }
        if path.contains("/") { throw .badDatabase }
        let database = try Self.decode(path, part: "database")
        if database.isEmpty { throw .missingDatabase }

        var seen: Set<String> = []
        var sslmode: String? = nil
        var sslrootcert: String? = nil
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let eq = item.firstIndex(of: "=") else { throw .badParameter }
            let name = try Self.decode(item[..<eq], part: "parameter name")
            let value = try Self.decode(item[item.index(after: eq)...], part: "parameter \(name)")
            if name.isEmpty || value.isEmpty { throw .badParameter }
            guard seen.insert(name).inserted else { throw .duplicateParameter(name) }
            switch name {
            case "host": host = value
            case "sslmode": sslmode = value
            case "sslrootcert": sslrootcert = value
            default: throw .unknownParameter(name)
            }
        }
        let tls = try PostgresTLS(sslmode: sslmode, sslrootcert: sslrootcert)

        guard !host.isEmpty else { throw .missingHost }
        let endpoint: Endpoint = host.hasPrefix("/")
            ? .unixSocket(directory: host, port: port)
            : .tcp(host: host, port: port)
        self.init(endpoint: endpoint, user: user, password: password, database: database, tls: tls)
    }

    /// The URL without its password, e.g. `postgres://trail@127.0.0.1:5432/trail`,
    /// `postgres://trail@:5432/trail?host=/run/postgresql` or
    /// `postgres://trail@db1:5432/trail?sslmode=verify-full&sslrootcert=/etc/trail/ca.pem`.
    /// Parsing it gives this location back, less the password.
    public var redacted: String {
        let user = Self.encode(self.user)
        let db = Self.encode(database)
        var parameters: [String] = []
        let base: String
        switch endpoint {
        case let .tcp(host, port):
            let h = host.contains(":") ? "[\(host)]" : Self.encode(host)
            base = "postgres://\(user)@\(h):\(port)/\(db)"
        case let .unixSocket(directory, port):
            base = "postgres://\(user)@:\(port)/\(db)"
            parameters.append("host=\(Self.encode(directory, keeping: "/"))")
        }
        if tls != .disable {
            parameters.append("sslmode=\(tls.sslmode)")
            if let roots = tls.roots { parameters.append("sslrootcert=\(Self.encode(roots.parameter, keeping: "/"))") }
        }
        return parameters.isEmpty ? base : base + "?" + parameters.joined(separator: "&")
    }

    // MARK: - Reading the parts

    /// `host`, `host:port`, `[v6]`, `[v6]:port`, `:port` or nothing; the host percent-decoded.
    private static func splitHostPort(_ text: Substring) throws(PostgresLocationError) -> (String, Int) {
        var hostText: Substring
        var portText: Substring? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badHost }
            hostText = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .badHost }
                portText = after.dropFirst()
            }
            if hostText.isEmpty { throw .badHost }
        } else if let colon = text.lastIndex(of: ":") {
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            hostText = text
        }
        var port = defaultPort
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let p = Int(portText), (1...65535).contains(p) else { throw .badPort(String(portText)) }
            port = p
        }
        return (try decode(hostText, part: "host"), port)
    }

    /// Percent-decodes `text` as UTF-8; `+` stays `+` (libpq's reading, not a form's).
    private static func decode(_ text: Substring, part: String) throws(PostgresLocationError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = text.utf8.makeIterator()
        while let b = it.next() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else {
                throw .badPercentEncoding(part: part)
            }
            bytes.append(h << 4 | l)
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .badPercentEncoding(part: part) }
        return s
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Percent-encodes all but RFC 3986's unreserved characters (and those in `keeping`).
    private static func encode(_ text: String, keeping: String = "") -> String {
        let keep = Set(keeping.utf8)
        var out = ""
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                if keep.contains(b) {
                    out.unicodeScalars.append(Unicode.Scalar(b))
                } else {
                    let hex = Array("0123456789ABCDEF".unicodeScalars)
                    out.unicodeScalars.append("%")
                    out.unicodeScalars.append(hex[Int(b >> 4)])
                    out.unicodeScalars.append(hex[Int(b & 0xF)])
                }
            }
        }
        return out
    }
}

extension PostgresLocation: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The redacted URL.
    public var description: String { redacted }
    /// The redacted URL.
    public var debugDescription: String { redacted }
    /// `dump` and debuggers show the parts less the password.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "endpoint": endpoint, "user": user, "database": database, "tls": tls,
            "password": password == nil ? "none" : "<redacted>",
        ], displayStyle: .struct)
    }
}
