/// Where the PostgreSQL store lives: the `--store` URL, read once.
///
/// Accepted forms (contract §9), with every part percent-decoded:
///
///     postgres://USER[:PASSWORD]@HOST[:PORT]/DB
///     postgresql://USER[:PASSWORD]@HOST[:PORT]/DB
///     postgres://USER[:PASSWORD]@[:PORT]/DB?host=/socket/dir      (Unix socket)
///     postgres://USER[:PASSWORD]@%2Fsocket%2Fdir[:PORT]/DB         (Unix socket, libpq's other spelling)
///     ...?sslmode=verify-full&sslrootcert=/etc/trail/db-ca.pem    (TLS, `PostgresTLS`)
///     postgres://USER[:PASSWORD]@HOST1[:PORT1],HOST2[:PORT2]/DB?target_session_attrs=read-write
///                                                       (several hosts: failover, as libpq)
///     ...?connect_timeout=5&statement_timeout=2s          (how long traild waits, `Timeouts`)
///
/// A host that starts with `/` is the directory of a Unix-socket server: the
/// connection goes to `DIR/.s.PGSQL.PORT`, as libpq does. `host=` in the query
/// overrides the host before it. The port defaults to 5432. `sslmode` and
/// `sslrootcert` say how TLS is used (`PostgresTLS`). Several hosts, comma
/// separated, are tried in order at each connect, the first that takes the
/// connection (and, with `target_session_attrs=read-write` or `primary`, is
/// writable) is used; any other query parameter is refused rather than
/// silently ignored.
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

    /// Which server of several a connection may use (`target_session_attrs`).
    public enum TargetSession: String, Sendable, Hashable {
        /// The first that takes the connection (libpq's default).
        case any
        /// The first whose sessions may write (`transaction_read_only` off).
        case readWrite = "read-write"
        /// The first that is not a standby (`pg_is_in_recovery()` false).
        case primary
    }

    /// How long traild waits for the server.
    public struct Timeouts: Sendable, Hashable {
        /// For a connection, each server of the list (`connect_timeout`,
        /// whole seconds as libpq). Nil: `PostgresConnector.defaultConnectTimeout`.
        public var connect: Duration?
        /// For one statement (`statement_timeout`, traild's own parameter,
        /// named after PostgreSQL's setting): past it traild answers
        /// `storage_unavailable`, closes that connection and opens another
        /// when next needed. Nil: the default of the session or pool.
        public var statement: Duration?
        public init(connect: Duration? = nil, statement: Duration? = nil) {
            self.connect = connect
            self.statement = statement
        }
    }

    /// The default PostgreSQL port.
    public static let defaultPort = 5432

    /// The servers, in the order they are tried (at least one).
    public let endpoints: [Endpoint]
    /// The first server (the only one, unless the URL lists several).
    public var endpoint: Endpoint { endpoints[0] }
    /// Which of the servers a connection may use.
    public let targetSession: TargetSession
    /// The role to log in as.
    public let user: String
    /// The password, if the URL has one. Internal so that it cannot leak
    /// through a caller's log line; the connector is the only reader.
    let password: String?
    /// The database to open.
    public let database: String
    /// TLS to the server (TCP only).
    public let tls: PostgresTLS
    /// How long traild waits for a connection and for a statement.
    public let timeouts: Timeouts

    /// Builds a location from its parts (tests and callers that do not start from a URL).
    public init(endpoint: Endpoint, user: String, password: String?, database: String, tls: PostgresTLS = .disable) {
        self.init(endpoints: [endpoint], user: user, password: password, database: database, tls: tls)
    }

    /// Builds a location of one or more servers from its parts.
    public init(endpoints: [Endpoint], user: String, password: String?, database: String, tls: PostgresTLS = .disable,
                targetSession: TargetSession = .any, timeouts: Timeouts = Timeouts()) {
        precondition(!endpoints.isEmpty, "a location names at least one server")
        self.endpoints = endpoints
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.targetSession = targetSession
        self.timeouts = timeouts
    }

    /// The same location with one of its servers only: what one connection
    /// attempt uses, and names in its messages.
    public func at(_ endpoint: Endpoint) -> PostgresLocation {
        PostgresLocation(endpoints: [endpoint], user: user, password: password, database: database, tls: tls,
                         targetSession: targetSession, timeouts: timeouts)
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

        var hostPorts = try hostPort.split(separator: ",", omittingEmptySubsequences: false).map(Self.splitHostPort)

        guard let path, !path.isEmpty else { throw .missingDatabase }
        if path.contains("/") { throw .badDatabase }
        let database = try Self.decode(path, part: "database")
        if database.isEmpty { throw .missingDatabase }

        var seen: Set<String> = []
        var sslmode: String? = nil
        var sslrootcert: String? = nil
        var target = TargetSession.any
        var timeouts = Timeouts()
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let eq = item.firstIndex(of: "=") else { throw .badParameter }
            let name = try Self.decode(item[..<eq], part: "parameter name")
            let value = try Self.decode(item[item.index(after: eq)...], part: "parameter \(name)")
            if name.isEmpty || value.isEmpty { throw .badParameter }
            guard seen.insert(name).inserted else { throw .duplicateParameter(name) }
            switch name {
            case "host":
                if value.contains(",") { throw .hostListInParameter }
                hostPorts = [(value, hostPorts.count == 1 ? hostPorts[0].1 : Self.defaultPort)]
            case "target_session_attrs":
                guard let t = TargetSession(rawValue: value) else { throw .unsupportedTargetSession(value) }
                target = t
            case "sslmode": sslmode = value
            case "sslrootcert": sslrootcert = value
            case "connect_timeout": timeouts.connect = try Self.connectTimeout(value)
            case "statement_timeout": timeouts.statement = try Self.statementTimeout(value)
            default: throw .unknownParameter(name)
            }
        }
        let tls = try PostgresTLS(sslmode: sslmode, sslrootcert: sslrootcert)

        let endpoints = try hostPorts.map { (host, port) throws(PostgresLocationError) -> Endpoint in
            guard !host.isEmpty else { throw .missingHost }
            return host.hasPrefix("/") ? .unixSocket(directory: host, port: port) : .tcp(host: host, port: port)
        }
        if endpoints.count > 1, endpoints.contains(where: { $0.socketPath != nil }) { throw .socketInHostList }
        self.init(endpoints: endpoints, user: user, password: password, database: database, tls: tls, targetSession: target,
                  timeouts: timeouts)
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
        case .tcp:
            let hosts = endpoints.map { e -> String in
                guard case let .tcp(host, port) = e else { return "" }
                return "\(host.contains(":") ? "[\(host)]" : Self.encode(host)):\(port)"
            }
            base = "postgres://\(user)@\(hosts.joined(separator: ","))/\(db)"
        case let .unixSocket(directory, port):
            base = "postgres://\(user)@:\(port)/\(db)"
            parameters.append("host=\(Self.encode(directory, keeping: "/"))")
        }
        if targetSession != .any { parameters.append("target_session_attrs=\(targetSession.rawValue)") }
        if tls != .disable {
            parameters.append("sslmode=\(tls.sslmode)")
            if let roots = tls.roots { parameters.append("sslrootcert=\(Self.encode(roots.parameter, keeping: "/"))") }
        }
        if let connect = timeouts.connect { parameters.append("connect_timeout=\(connect.components.seconds)") }
        if let statement = timeouts.statement { parameters.append("statement_timeout=\(statement.wholeMilliseconds)ms") }
        return parameters.isEmpty ? base : base + "?" + parameters.joined(separator: "&")
    }

    // MARK: - Reading the parts

    /// `connect_timeout`: whole seconds from 1 to 3600. libpq reads 0 as
    /// "wait for ever"; traild never waits for ever, so 0 is refused.
    private static func connectTimeout(_ text: String) throws(PostgresLocationError) -> Duration {
        guard let seconds = Int(text), (1...3600).contains(seconds) else {
            throw .badTimeout(parameter: "connect_timeout", value: text)
        }
        return .seconds(seconds)
    }

    /// `statement_timeout`: a whole number with `ms`, `s` or `min`, or bare
    /// (milliseconds, as PostgreSQL reads the setting), from 100 ms to 1 h.
    private static func statementTimeout(_ text: String) throws(PostgresLocationError) -> Duration {
        let units: [(suffix: String, ms: Int)] = [("ms", 1), ("min", 60_000), ("s", 1000)]
        let unit = units.first { text.hasSuffix($0.suffix) }
        guard let number = Int(text.dropLast(unit?.suffix.count ?? 0)), number >= 0,
              case let (ms, overflow) = number.multipliedReportingOverflow(by: unit?.ms ?? 1), !overflow,
              (100...3_600_000).contains(ms) else {
            throw .badTimeout(parameter: "statement_timeout", value: text)
        }
        return .milliseconds(ms)
    }

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
            "endpoints": endpoints, "user": user, "database": database, "tls": tls, "targetSession": targetSession,
            "password": password == nil ? "none" : "<redacted>",
        ], displayStyle: .struct)
    }
}
