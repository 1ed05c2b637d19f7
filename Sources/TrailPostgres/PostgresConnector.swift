import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// Opens connections to one `PostgresLocation`, with a connect timeout, and
/// turns every failure into a `PostgresFailure` that names the redacted location.
///
/// A connector holds no connection: it is a recipe, cheap to copy and share.
/// Connections run on a shared `MultiThreadedEventLoopGroup` (the process-wide
/// singleton unless told otherwise), never one group per connection.
public struct PostgresConnector: Sendable {
    /// How long opening a connection may take, TCP or socket connect plus
    /// startup and authentication, unless the caller says otherwise.
    public static let defaultConnectTimeout: Duration = .seconds(5)

    /// The database.
    public let location: PostgresLocation
    /// The bound on opening one connection.
    public let connectTimeout: Duration
    /// Where connections run.
    public let eventLoopGroup: MultiThreadedEventLoopGroup
    /// `application_name` sent at startup: what `pg_stat_activity` shows for our sessions.
    public private(set) var applicationName: String
    /// postgres-nio logs connection events into this.
    public let logger: Logger

    /// TLS as the location asks for it, made once (the CA file read then), or
    /// why it cannot be: every connect throws that.
    private let tls: Result<PostgresConnection.Configuration.TLS, PostgresFailure>

    /// Numbers connections in postgres-nio's log metadata; process-wide so ids never repeat.
    private static let nextID = Atomic<Int>(0)

    /// - Parameters:
    ///   - location: the database.
    ///   - connectTimeout: the bound on opening one connection (default: the
    ///     URL's `connect_timeout`, else 5 s).
    ///   - eventLoopGroup: where connections run (default: the process-wide singleton).
    ///   - applicationName: shown in `pg_stat_activity` (default `traild`).
    ///   - logger: for postgres-nio's connection events.
    public init(
        location: PostgresLocation,
        connectTimeout: Duration? = nil,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        applicationName: String = "traild",
        logger: Logger = Logger(label: "trail.postgres")
    ) {
        self.location = location
        self.connectTimeout = connectTimeout ?? location.timeouts.connect ?? Self.defaultConnectTimeout
        self.eventLoopGroup = eventLoopGroup
        self.applicationName = applicationName
        self.logger = logger
        do {
            tls = .success(try location.tls.connectionTLS(at: location.redacted))
        } catch {
            tls = .failure(error)
        }
    }

    /// The same recipe under another `application_name`, sharing this one's
    /// TLS context (the CA file is not read again).
    public func named(_ applicationName: String) -> PostgresConnector {
        var copy = self
        copy.applicationName = applicationName
        return copy
    }

    /// Opens a connection from async code.
    ///
    /// Costs one connect and one startup round trip or three (SCRAM), per
    /// server tried; cancelling the task abandons the attempt. The location's
    /// servers are tried in order; with `target_session_attrs` read-write or
    /// primary, one more round trip asks each whether it is writable, and a
    /// standby is passed over. Throws `PostgresFailure`: `.unavailable` when
    /// no server can be used now (unreachable in `connectTimeout`, read-only),
    /// `.refused` when every server turns us away (password, role, database,
    /// TLS). With one server, its own failure.
    ///
    /// - Parameter settings: run-time parameters sent in the startup packet,
    ///   e.g. `("statement_timeout", "12s")`; they hold for the whole session.
    /// - Parameter loop: the event loop the connection runs on (default: the
    ///   group's next); a read made from that loop then needs no thread hop.
    public func connect(settings: [(String, String)] = [], on loop: (any EventLoop)? = nil) async throws(PostgresFailure) -> PostgresConnection {
        do {
            return try await connectFuture(settings: settings, on: loop).get()
        } catch {
            throw error as? PostgresFailure ?? failure(connecting: error)
        }
    }

    /// Opens a connection and returns its future, failed with a `PostgresFailure`
    /// (see `connect(settings:)`); for code that blocks a thread of its own on
    /// it. Made of NIO futures only: it completes while every thread of Swift's
    /// concurrency pool is blocked waiting for it.
    public func connectFuture(settings: [(String, String)] = [], on loop: (any EventLoop)? = nil) -> EventLoopFuture<PostgresConnection> {
        attempt(0, failures: [], loop: loop ?? eventLoopGroup.next(), settings: settings)
    }

    /// Tries the location's servers from the `index`-th on.
    private func attempt(_ index: Int, failures: [PostgresFailure], loop: any EventLoop,
                         settings: [(String, String)]) -> EventLoopFuture<PostgresConnection> {
        guard index < location.endpoints.count else {
            return loop.makeFailedFuture(failures.count == 1 ? failures[0] : Self.noServer(failures, location: location))
        }
        let here = location.at(location.endpoints[index])
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try self.configuration(for: here, settings: settings)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let next = { @Sendable (failure: PostgresFailure) in
            self.attempt(index + 1, failures: failures + [failure], loop: loop, settings: settings)
        }
        return PostgresConnection.connect(
            on: loop, configuration: configuration, id: Self.nextID.add(1, ordering: .relaxed).newValue, logger: logger
        )
        .map { Result<PostgresConnection, PostgresFailure>.success($0) }
        .recover { .failure(Self.failure(connecting: $0, location: here)) }
        .flatMap { opened in
            switch opened {
            case let .failure(failure):
                return next(failure)
            case let .success(connection):
                return self.notWritable(connection, at: here).flatMap { standby in
                    guard let standby else { return loop.makeSucceededFuture(connection) }
                    connection.closeDetached()
                    return next(standby)
                }
            }
        }
    }

    /// Why `connection` does not suit `target_session_attrs` (a standby, or
    /// read-only sessions), or nil when it does (always, for `any`).
    private func notWritable(_ connection: PostgresConnection, at here: PostgresLocation) -> EventLoopFuture<PostgresFailure?> {
        let sql: PostgresQuery, wanted: String, what: String
        switch location.targetSession {
        case .any: return connection.eventLoop.makeSucceededFuture(nil)
        case .readWrite: (sql, wanted, what) = ("SHOW transaction_read_only", "off", "its sessions are read-only (a standby, or default_transaction_read_only)")
        case .primary: (sql, wanted, what) = ("SELECT pg_is_in_recovery()::text", "false", "it is a standby (in recovery)")
        }
        return connection.query(sql, timeout: TimeAmount(connectTimeout), logger: logger).map { result -> PostgresFailure? in
            let value = result.rows.first.flatMap { row in row.first.flatMap { try? $0.decode(String.self) } }
            return value == wanted ? nil : .unavailable("The database at \(here.redacted) is not writable: \(what); traild tries the URL's other hosts, and this one again at the next connect.")
        }
        .recover { PostgresFailure.from($0, location: here) }
    }

    /// The failure of a connect that tried several servers: `.refused` when
    /// every one refused, else `.unavailable`; the message gives each one's.
    private static func noServer(_ failures: [PostgresFailure], location: PostgresLocation) -> PostgresFailure {
        let each = failures.map { "\($0)".trimmingSuffix(".") }.joined(separator: " / ")
        let message = "None of the \(failures.count) hosts of the store URL could be used (target_session_attrs=\(location.targetSession.rawValue)): \(each)."
        let refused = failures.allSatisfy { if case .refused = $0 { true } else { false } }
        return refused ? .refused(message) : .unavailable(message)
    }

    /// Sorts a failure to open a connection: whatever the server says no to at
    /// startup is `.refused` (it will not change by retrying), except "shutting
    /// down / starting up / too many connections", which stay `.unavailable`.
    func failure(connecting error: any Error) -> PostgresFailure {
        Self.failure(connecting: error, location: location)
    }

    private static func failure(connecting error: any Error, location: PostgresLocation) -> PostgresFailure {
        switch PostgresFailure.from(error, location: location) {
        case let .sql(state, message):
            .refused("The database at \(location.redacted) refused the connection (SQLSTATE \(state): \(message)); fix the store URL or the server's configuration.")
        case .conflict:
            .unavailable("The database at \(location.redacted) could not open a session; retry.")
        case let other:
            other
        }
    }

    /// postgres-nio's configuration: TLS as the location asks (TCP only, as
    /// libpq), our timeout and startup settings.
    func configuration(for here: PostgresLocation, settings: [(String, String)]) throws(PostgresFailure) -> PostgresConnection.Configuration {
        var config: PostgresConnection.Configuration
        switch here.endpoint {
        case let .tcp(host, port):
            config = .init(host: host, port: port, username: here.user, password: here.password,
                           database: here.database, tls: try tls.get())
        case .unixSocket:
            config = .init(unixSocketPath: here.endpoint.socketPath!, username: here.user,
                           password: here.password, database: here.database)
        }
        config.options.connectTimeout = TimeAmount(connectTimeout)
        config.options.additionalStartupParameters = [("application_name", applicationName)] + settings
        return config
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

extension PostgresConnection {
    /// Closes the connection without waiting, keeping it alive until the channel
    /// is closed: postgres-nio asserts (debug builds) that a connection is closed
    /// before it is deinitialised, and the last reference is often ours.
    func closeDetached() {
        close().whenComplete { _ in withExtendedLifetime(self) {} }
    }
}
