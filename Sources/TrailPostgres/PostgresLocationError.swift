/// Why a `--store postgres://...` URL could not be read.
///
/// Each message is one sentence that says what was wrong and what to write
/// instead. No message quotes the URL itself, which may hold a password.
public enum PostgresLocationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text does not start with `postgres://` or `postgresql://`.
    case notPostgresURL
    /// There is no `USER@` before the host.
    case missingUser
    /// `USER` is empty (as in `postgres://@host/db` or `postgres://:pw@host/db`).
    case emptyUser
    /// Neither the URL nor a `host=` parameter names a server.
    case missingHost
    /// There is no `/DB` after the host, or it is empty.
    case missingDatabase
    /// The database name holds a `/` that is not percent-encoded.
    case badDatabase
    /// The port is not a number from 1 to 65535 (the text as written).
    case badPort(String)
    /// A `%` is not followed by two hex digits, or the bytes are not UTF-8 (the part's name).
    case badPercentEncoding(part: String)
    /// The host is written in brackets but is not a closed `[IPv6]`.
    case badHost
    /// A query parameter other than `host` and `sslmode` (its name).
    case unknownParameter(String)
    /// A query parameter given twice (its name).
    case duplicateParameter(String)
    /// A query item without `=`, or with an empty name or value.
    case badParameter
    /// `sslmode` other than `disable` (the value as written).
    case unsupportedSSLMode(String)
    /// The URL has a `#fragment`.
    case fragment

    public var description: String {
        switch self {
        case .notPostgresURL:
            "The store URL must start with postgres:// or postgresql://; write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DB."
        case .missingUser:
            "The store URL names no user; write it before the host, as postgres://USER[:PASSWORD]@HOST[:PORT]/DB."
        case .emptyUser:
            "The store URL has an empty user name; write one before the @, as postgres://USER[:PASSWORD]@HOST[:PORT]/DB."
        case .missingHost:
            "The store URL names no host; write one after the @, or add ?host=/socket/dir for a Unix-socket server."
        case .missingDatabase:
            "The store URL names no database; end it with /DB, as postgres://USER@HOST[:PORT]/DB."
        case .badDatabase:
            "The database name in the store URL contains a /; percent-encode it as %2F, or name the database after a single /."
        case let .badPort(text):
            "The port \(text.debugDescription) in the store URL is not a number from 1 to 65535; write the server's port, or leave it out for 5432."
        case let .badPercentEncoding(part):
            "The \(part) in the store URL has a % not followed by two hex digits of UTF-8; write a literal % as %25."
        case .badHost:
            "The host in the store URL opens a [ that does not close; write an IPv6 address as [::1] or [::1]:5432."
        case let .unknownParameter(name):
            if name == "port" {
                "The store URL parameter port is not supported; write the port after the host, as postgres://USER@:5433/DB?host=/socket/dir."
            } else {
                "The store URL parameter \(name.debugDescription) is not supported; use only host=/socket/dir and sslmode=disable."
            }
        case let .duplicateParameter(name):
            "The store URL gives the parameter \(name.debugDescription) twice; keep one."
        case .badParameter:
            "The store URL has a query item that is not NAME=VALUE; write parameters as ?host=/socket/dir&sslmode=disable."
        case let .unsupportedSSLMode(mode):
            "The store URL asks for sslmode=\(mode), but traild connects to PostgreSQL without TLS; use sslmode=disable (or leave it out) and a Unix socket or trusted network."
        case .fragment:
            "The store URL has a #fragment; remove it, and percent-encode a # in a password as %23."
        }
    }
}
