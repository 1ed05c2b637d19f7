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
    public let applicationName: String
    /// postgres-nio logs connection events into this.
    public let logger: Logger

    /// TLS as the location asks for it, made once (the CA file read then), or
    /// why it cannot be: every connect throws that.
    private let tls: Result<PostgresConnection.Configuration.TLS, PostgresFailure>

    /// Numbers connections in postgres-nio's log metadata; process-wide so ids never repeat.
    private static let nextID = Atomic<Int>(0)

    /// - Parameters:
    ///   - location: the database.
    ///   - connectTimeout: the bound on opening one connection (default 5 s).
    ///   - eventLoopGroup: where connections run (default: the process-wide singleton).
    ///   - applicationName: shown in `pg_stat_activity` (default `traild`).
    ///   - logger: for postgres-nio's connection events.
    public init(
        location: PostgresLocation,
        connectTimeout: Duration = PostgresConnector.defaultConnectTimeout,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        applicationName: String = "traild",
        logger: Logger = Logger(label: "trail.postgres")
    ) {
        self.location = location
        self.connectTimeout = connectTimeout
        self.eventLoopGroup = eventLoopGroup
        self.applicationName = applicationName
        self.logger = logger
        do {
            tls = .success(try location.tls.connectionTLS(at: location.redacted))
        } catch {
            tls = .failure(error)
        }
    }

    /// Opens a connection from async code.
    ///
    /// Costs one connect and one startup round trip or three (SCRAM); cancelling
    /// the task abandons the attempt. Throws `PostgresFailure`: `.unavailable`
    /// when the server cannot be reached in `connectTimeout`, `.refused` when it
    /// turns us away (password, role, database, TLS).
    ///
    /// - Parameter settings: run-time parameters sent in the startup packet,
    ///   e.g. `("statement_timeout", "12s")`; they hold for the whole session.
    public func connect(settings: [(String, String)] = []) async throws(PostgresFailure) -> PostgresConnection {
        let configuration = try configuration(settings: settings)
        do {
            return try await PostgresConnection.connect(
                on: eventLoopGroup.next(), configuration: configuration,
                id: Self.nextID.add(1, ordering: .relaxed).newValue, logger: logger)
        } catch {
            throw failure(connecting: error)
        }
    }

    /// Opens a connection and returns its future, failed with a `PostgresFailure`
    /// (see `connect(settings:)`); for code that blocks a thread of its own on it.
    public func connectFuture(settings: [(String, String)] = []) -> EventLoopFuture<PostgresConnection> {
        let location = self.location
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try self.configuration(settings: settings)
        } catch {
            return eventLoopGroup.next().makeFailedFuture(error)
        }
        return PostgresConnection.connect(
            on: eventLoopGroup.next(), configuration: configuration,
            id: Self.nextID.add(1, ordering: .relaxed).newValue, logger: logger
        ).flatMapErrorThrowing { error in
            throw Self.failure(connecting: error, location: location)
        }
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
    func configuration(settings: [(String, String)]) throws(PostgresFailure) -> PostgresConnection.Configuration {
        var config: PostgresConnection.Configuration
        switch location.endpoint {
        case let .tcp(host, port):
            config = .init(host: host, port: port, username: location.user, password: location.password,
                           database: location.database, tls: try tls.get())
        case .unixSocket:
            config = .init(unixSocketPath: location.endpoint.socketPath!, username: location.user,
                           password: location.password, database: location.database)
        }
        config.options.connectTimeout = TimeAmount(connectTimeout)
        config.options.additionalStartupParameters = [("application_name", applicationName)] + settings
        return config
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
