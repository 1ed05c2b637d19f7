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
    /// A query parameter other than `host`, `sslmode` and `sslrootcert` (its name).
    case unknownParameter(String)
    /// A query parameter given twice (its name).
    case duplicateParameter(String)
    /// A query item without `=`, or with an empty name or value.
    case badParameter
    /// An `sslmode` that is not disable, prefer, require, verify-ca or verify-full (the value as written).
    case unsupportedSSLMode(String)
    /// `verify-ca` or `verify-full` (the mode) without `sslrootcert`.
    case rootCertificateMissing(String)
    /// `sslrootcert` naming a file, without an `sslmode`.
    case rootCertificateWithoutMode
    /// `sslrootcert` with `disable` or `prefer` (the mode), which check no certificate.
    case rootCertificateUnused(String)
    /// The URL has a `#fragment`.
    case fragment
    /// `host=` with a comma list (the list goes in the URL's authority).
    case hostListInParameter
    /// A Unix socket among several hosts.
    case socketInHostList
    /// A `target_session_attrs` other than any, read-write or primary (the value as written).
    case unsupportedTargetSession(String)
    /// A `connect_timeout` or `statement_timeout` that is not a time within its
    /// bounds (the parameter, the value as written).
    case badTimeout(parameter: String, value: String)

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
                "The store URL parameter \(name.debugDescription) is not supported; use only host, sslmode, sslrootcert, target_session_attrs, connect_timeout and statement_timeout."
            }
        case let .duplicateParameter(name):
            "The store URL gives the parameter \(name.debugDescription) twice; keep one."
        case .badParameter:
            "The store URL has a query item that is not NAME=VALUE; write parameters as ?host=/socket/dir&sslmode=disable."
        case let .unsupportedSSLMode(mode):
            "The store URL asks for sslmode=\(mode), which traild does not take; use disable, prefer, require, verify-ca or verify-full (with sslrootcert=FILE for the last two)."
        case let .rootCertificateMissing(mode):
            "The store URL asks for sslmode=\(mode) but names no certificate authority; add sslrootcert=FILE (the PEM of the CA that signed the server's certificate) or sslrootcert=system."
        case .rootCertificateWithoutMode:
            "The store URL names sslrootcert but no sslmode that checks it; add sslmode=verify-full (or verify-ca)."
        case let .rootCertificateUnused(mode):
            "The store URL names sslrootcert, which sslmode=\(mode) does not check; use sslmode=verify-full (or verify-ca), or leave sslrootcert out."
        case .hostListInParameter:
            "The store URL lists several hosts in host=; list them before the database instead, as postgres://USER@HOST1:PORT1,HOST2:PORT2/DB."
        case .socketInHostList:
            "The store URL lists a Unix socket among several hosts; list TCP hosts only, as postgres://USER@HOST1:PORT1,HOST2:PORT2/DB."
        case let .unsupportedTargetSession(value):
            "The store URL asks for target_session_attrs=\(value), which traild does not take; it writes, so use read-write (or primary, or any)."
        case let .badTimeout(parameter, value) where parameter == "connect_timeout":
            "The store URL asks for connect_timeout=\(value); write whole seconds from 1 to 3600, as libpq does (connect_timeout=5)."
        case let .badTimeout(parameter, value):
            "The store URL asks for \(parameter)=\(value); write a time from 100ms to 1h, as 2s, 500ms or 1min (a bare number is milliseconds, as in PostgreSQL)."
        case .fragment:
            "The store URL has a #fragment; remove it, and percent-encode a # in a password as %23."
        }
    }
}
