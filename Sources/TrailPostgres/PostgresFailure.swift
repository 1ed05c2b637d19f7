import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import TrailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything TrailPostgres fails with, sorted by what the caller should do.
///
/// Every associated message is one sentence saying what was wrong and what to
/// do. Messages name the database by its redacted location, never with the
/// password, and never hold the SQL text of a statement (a client may see them).
public enum PostgresFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The database cannot be reached right now (refused or lost connection,
    /// timeout, shutdown, too many connections, disk full, read-only): the
    /// daemon answers `storage_unavailable` and reconnects by itself.
    case unavailable(String)
    /// The server turned us away at the start in a way that retrying will not
    /// fix (bad password, unknown role, missing database, no TLS): the
    /// operator must change `--store` or the server.
    case refused(String)
    /// The transaction lost a race with another one (SQLSTATE 40001
    /// serialization failure, 40P01 deadlock; the code is given): the caller
    /// rolls back and runs it again.
    case conflict(sqlState: String)
    /// Any other error the server reported for a statement.
    case sql(sqlState: String, message: String)

    /// One sentence: what was wrong and what to do.
    public var description: String {
        switch self {
        case let .unavailable(message), let .refused(message): message
        case let .conflict(state):
            "The transaction conflicted with a concurrent one (SQLSTATE \(state)); roll it back and run it again."
        case let .sql(state, message):
            "PostgreSQL rejected a statement (SQLSTATE \(state): \(message)); this is a bug in traild or its schema, please report it with the daemon's log."
        }
    }

    /// The contract's error for this failure (SPEC §6): everything the database
    /// cannot do right now is `storage_unavailable`; a rejected statement is internal.
    public var trailError: TrailError {
        switch self {
        case let .unavailable(message), let .refused(message): .storageUnavailable(message)
        case .conflict: .storageUnavailable("a transaction kept conflicting with concurrent ones")
        case let .sql(state, message): .internal("PostgreSQL SQLSTATE \(state): \(message)")
        }
    }

    /// Sorts any error thrown by postgres-nio, NIO or this target.
    ///
    /// - Parameters:
    ///   - error: a `PSQLError`, a NIO channel or connect error, or a `PostgresFailure` (returned as is).
    ///   - location: names the database in messages (redacted).
    /// - Returns: `.unavailable` for anything meaning "cannot be reached now",
    ///   `.refused` for authentication and missing-database failures,
    ///   `.conflict` for 40001/40P01, `.sql` for other server errors.
    public static func from(_ error: any Error, location: PostgresLocation) -> PostgresFailure {
        let at = location.redacted
        if let tls = tlsFailure(error, at: at, location: location) { return tls }
        switch error {
        case let failure as PostgresFailure:
            return failure
        case let psql as PSQLError:
            return from(psql, at: at, location: location)
        case is CancellationError:
            return .unavailable("The call to the database at \(at) was cancelled; retry it.")
        case let decoding as PostgresDecodingError:
            // Not the server's fault: a column did not have the type the code expected.
            return .sql(sqlState: "22000", message: "column \(decoding.columnName) (\(decoding.postgresType)) did not decode as \(decoding.targetType)")
        default:
            return unreachable(at: at, location: location, cause: transportCause(error, location: location))
        }
    }

    // MARK: - PSQLError

    private static func from(_ error: PSQLError, at: String, location: PostgresLocation) -> PostgresFailure {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "XX000"
            // The primary message only: `detail` can quote row values, the query is never shown.
            let message = error.serverInfo?[.message] ?? "no message"
            return fromServer(state: state, message: message, at: at, location: location)
        case .connectionError:
            return unreachable(at: at, location: location, cause: transportCause(error.underlying, location: location))
        case .serverClosedConnection, .uncleanShutdown:
            return .unavailable("The database at \(at) closed the connection; traild reconnects by itself, check the server's log if it keeps happening.")
        case .clientClosedConnection, .poolClosed:
            // Also what a statement gets when it is sent just as the server ends the session.
            return .unavailable("The connection to the database at \(at) was closed before the statement completed; retry, traild reconnects by itself.")
        case .queryCancelled:
            return .unavailable("The statement on the database at \(at) was cancelled; retry it.")
        case .sslUnsupported:
            return .refused("The database at \(at) does not offer TLS, which sslmode=\(location.tls.sslmode) asks for; turn ssl on in its postgresql.conf, or use sslmode=disable only on a network no one else can read.")
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            return .refused("The database at \(at) and traild could not agree on TLS (\(error.code)); check the server's ssl settings and the store URL's sslmode.")
        case .authMechanismRequiresPassword:
            return .refused("The database at \(at) asks user \(location.user) for a password; put it in the store URL as postgres://USER:PASSWORD@HOST/DB.")
        case .unsupportedAuthMechanism:
            return .refused("The database at \(at) asks for an authentication method traild does not speak; use scram-sha-256, md5, password or trust in pg_hba.conf.")
        case .saslError:
            return .refused("SCRAM authentication with the database at \(at) failed for user \(location.user); check the password in the store URL.")
        case .tooManyParameters:
            return .sql(sqlState: "54000", message: "a statement has more than 65535 parameters")
        case .messageDecodingFailure, .unexpectedBackendMessage, .invalidCommandTag:
            return .unavailable("The database at \(at) sent a message traild could not read, so the connection was dropped; traild reconnects by itself, report it if it persists.")
        case .listenFailed, .unlistenFailed:
            return .unavailable("LISTEN on the database at \(at) failed; traild reconnects by itself.")
        default:
            return .unavailable("The database at \(at) failed (\(error.code)); traild reconnects by itself, check the server's log if it persists.")
        }
    }

    /// Sorts a server error by SQLSTATE (PostgreSQL manual, appendix A).
    static func fromServer(state: String, message: String, at: String, location: PostgresLocation) -> PostgresFailure {
        switch state {
        case "40001", "40P01":
            return .conflict(sqlState: state)
        case "28P01":
            return .refused("The database at \(at) rejected the password of user \(location.user) (\(message)); fix the password in the store URL.")
        case "28000" where message.contains("no encryption") && location.tls == .disable:
            return .refused("The database at \(at) takes only TLS connections from this host (\(message)); add sslmode=verify-full&sslrootcert=FILE (or sslmode=require) to the store URL.")
        case "28000":
            return .refused("The database at \(at) does not let user \(location.user) in (\(message)); check the user name in the store URL and pg_hba.conf.")
        case "3D000":
            return .refused("The database \(location.database) does not exist at \(at); create it (createdb -O \(location.user) \(location.database)) or fix the store URL.")
        case "57P01", "57P02", "57P03", "57P04", "57P05":
            // admin shutdown, crash shutdown, cannot connect now (starting/recovering), database dropped, idle session timeout.
            return .unavailable("The database at \(at) is shutting down, restarting or not yet accepting connections (SQLSTATE \(state)); traild reconnects by itself.")
        case "57014":
            // query_canceled: the server-side statement_timeout backstop, or an operator's pg_cancel_backend.
            return .unavailable("The database at \(at) cancelled a statement that ran too long (SQLSTATE 57014); retry, and check for lock waits or load on the server.")
        case "25006":
            return .unavailable("The database at \(at) is read-only (SQLSTATE 25006: a standby, or default_transaction_read_only); point the store URL at the primary.")
        default:
            break
        }
        switch state.prefix(2) {
        case "08":
            return .unavailable("The connection to the database at \(at) failed (SQLSTATE \(state): \(message)); traild reconnects by itself.")
        case "53":
            // insufficient resources: 53300 too many connections, 53100 disk full, 53200 out of memory.
            return .unavailable("The database at \(at) is out of resources (SQLSTATE \(state): \(message)); free connections, disk or memory on the server.")
        case "58":
            return .unavailable("The database at \(at) had a system error (SQLSTATE \(state): \(message)); check the server's disk and log.")
        default:
            return .sql(sqlState: state, message: message)
        }
    }

    // MARK: - TLS

    /// A TLS handshake that failed, wherever postgres-nio wraps it: the
    /// server's certificate not signed by `sslrootcert`, or not made out to
    /// the host. Retrying will not fix it: `.refused`. nil for other errors.
    static func tlsFailure(_ error: any Error, at: String, location: PostgresLocation) -> PostgresFailure? {
        var cause: (any Error)? = error
        for _ in 0..<4 {
            switch cause {
            case let psql as PSQLError:
                cause = psql.underlying
            case let connect as NIOConnectionError:
                cause = connect.connectionErrors.first?.error
            case let extra as NIOSSLExtraError where extra == .failedToValidateHostname:
                let host = if case let .tcp(host, _) = location.endpoint { host } else { "?" }
                return .refused("The database at \(at) presented a certificate that is not made out to \(host) (sslmode=verify-full checks the name); connect by a name or address in its subjectAltName, or use sslmode=verify-ca.")
            case let ssl as NIOSSLError:
                let why = "\(ssl)"
                let roots = location.tls.roots.map { "the CA in sslrootcert=\($0.parameter)" } ?? "a CA traild trusts"
                if why.contains("CERTIFICATE_VERIFY_FAILED") {
                    return .refused("The database at \(at) presented a certificate that \(roots) did not sign; point sslrootcert at the CA that signed the server's certificate.")
                }
                return .refused("The TLS handshake with the database at \(at) failed (\(why)); check the server's ssl settings and the store URL's sslmode and sslrootcert.")
            default:
                return nil
            }
        }
        return nil
    }

    // MARK: - Transport errors

    /// Why a connection could not be opened or was lost, in a few words, and whether
    /// that will not fix itself (a socket we may not open).
    private struct TransportCause {
        var words: String
        var permanent = false
    }

    private static func unreachable(at: String, location: PostgresLocation, cause: TransportCause) -> PostgresFailure {
        if cause.permanent {
            return .refused("The database at \(at) cannot be reached (\(cause.words)); fix the store URL or the socket's permissions.")
        }
        return .unavailable("The database at \(at) cannot be reached (\(cause.words)); check that PostgreSQL runs there and that the URL names it.")
    }

    private static func transportCause(_ error: (any Error)?, location: PostgresLocation) -> TransportCause {
        switch error {
        case let psql as PSQLError:
            return transportCause(psql.underlying, location: location)
        case let channel as ChannelError:
            switch channel {
            case let .connectTimeout(amount):
                return TransportCause(words: "no answer within \(seconds(amount)) s")
            case .eof, .ioOnClosedChannel, .alreadyClosed, .inputClosed, .outputClosed:
                return TransportCause(words: "connection lost")
            case .writeHostUnreachable:
                return TransportCause(words: "host unreachable")
            default:
                return TransportCause(words: "channel error \(channel)")
            }
        case let connect as NIOConnectionError:
            if connect.dnsAError != nil || connect.dnsAAAAError != nil, connect.connectionErrors.isEmpty {
                return TransportCause(words: "the host name does not resolve")
            }
            if let first = connect.connectionErrors.first {
                return transportCause(first.error, location: location)
            }
            return TransportCause(words: "no address to connect to")
        case let io as IOError:
            return errnoCause(io.errnoCode, location: location)
        case nil:
            return TransportCause(words: "connection lost")
        case let other?:
            return TransportCause(words: "\(type(of: other))")
        }
    }

    private static func errnoCause(_ code: CInt, location: PostgresLocation) -> TransportCause {
        let socket = location.endpoint.socketPath
        switch code {
        case ECONNREFUSED: return TransportCause(words: "connection refused")
        case ENOENT where socket != nil: return TransportCause(words: "no server socket at \(socket!)")
        case EACCES, EPERM: return TransportCause(words: "permission denied", permanent: true)
        case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN: return TransportCause(words: "host unreachable")
        case ETIMEDOUT: return TransportCause(words: "connect timed out")
        case ECONNRESET, EPIPE, ECONNABORTED: return TransportCause(words: "connection reset")
        default: return TransportCause(words: "\(String(cString: strerror(code))), errno \(code)")
        }
    }

    private static func seconds(_ amount: TimeAmount) -> String {
        let s = Double(amount.nanoseconds) / 1e9
        return s == s.rounded() ? String(Int(s)) : String(s)
    }
}
