import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import TrailCore
import TrailStore

/// The PostgreSQL engine: several daemons, on one host or many, serve one
/// database (contract §9). Writes go through one connection of this daemon
/// in group-commit transactions (`PostgresCommit`, on a thread of its own);
/// reads through a small pool of connections (`ReadPool`). Every weight is
/// taken at the database's clock.
public final class PostgresStore: TrailStore {
    public let engine = PostgresEngine.name
    /// The database, as `trail.hello` and `trailctl status` name it (no password).
    public let location: PostgresLocation
    public var database: String { location.redacted }
    private let connector: PostgresConnector
    private let session: BlockingSession
    private let committer: GroupCommit<PostgresCommit>
    private let pool: ReadPool
    private let databaseBytes = Atomic<Int64>(0)
    /// Names this daemon in the write log and in the signals of its writes.
    private let daemon: String
    private let logger: Logger
    /// The namespaces whose notes `sense` and `get` look up contests for:
    /// read at start, grown before this daemon writes a contest, and read
    /// again in the background at most every second (other daemons record
    /// contests too), never on a read's path.
    private let contested = ContestedNamespaces()
    /// The task that listens for other daemons' writes, once asked to.
    private let listener = Mutex<Task<Void, Never>?>(nil)
    /// Identical senses in flight at once share a statement.
    private let senses = ReadCoalescer<SenseQuery, [ScoredNote]>()
    /// The most rows of other daemons' writes the listener replays after its
    /// connection was down; beyond, watchers get a gap (`EventListener`).
    public let catchUpLimit: Int

    /// Connects to the database at `location`, applies the schema's
    /// migrations (one daemon at a time) and makes sure the `default`
    /// namespace exists. `daemon` names this daemon in the write log.
    /// Blocks the calling thread (never call it on an event loop); throws
    /// `storageUnavailable` with a message that names the database (without
    /// its password) when it cannot be reached, refuses the login, or has
    /// no such database.
    public init(location: PostgresLocation, daemon: String, readConnections: Int = ReadPool.defaultSize,
                catchUpLimit: Int = 10_000, logger: Logger = Logger(label: "trail.postgres")) throws(TrailError) {
        self.location = location
        self.catchUpLimit = catchUpLimit
        self.daemon = WriteSignal.token(daemon)
        self.logger = logger
        connector = PostgresConnector(location: location, logger: logger)
        session = BlockingSession(connector: connector,
                                  statementTimeout: location.timeouts.statement ?? BlockingSession.defaultStatementTimeout)
        do {
            try session.connect()
            _ = try Migrations(PostgresSchema.migrations).apply(using: session)
            try session.begin()
            let now = try session.rows("SELECT extract(epoch FROM clock_timestamp())::float8")[0][0].decode(Double.self)
            _ = try PostgresWrites(db: session, now: now, writer: Writer(), daemon: daemon, state: TransactionState()).namespace("default")
            let withContests = try session.rows(PostgresQuery(unsafeSQL: PostgresReads.contestedNamespacesSQL)).map { try $0[0].decode(String.self) }
            try session.commit()
            contested.add(Set(withContests))
            _ = contested.claimRead(every: 0, at: ProcessInfo.processInfo.systemUptime)
        } catch {
            session.rollback()
            throw PostgresCommit.map(error)
        }
        committer = GroupCommit(PostgresCommit(session: session, daemon: daemon), label: "trail.postgres.commit")
        pool = ReadPool(connector: connector, size: readConnections,
                        statementTimeout: location.timeouts.statement ?? ReadPool.defaultStatementTimeout)
    }

    public func submit(_ write: WriteRequest, by writer: Writer,
                       completion: @escaping @Sendable (Result<Committed, TrailError>) -> Void) {
        for ns in write.contestedNamespaces { contested.add(ns) }
        committer.submit(write, by: writer, completion: completion)
    }

    public var pendingWrites: Int { committer.pending }

    public func get(_ id: IDPrefix, ns: String) async throws(TrailError) -> NoteDetails {
        await readContestedNamespacesIfDue()
        return try await read { try await $0.get(id, ns: ns) }
    }

    /// Identical senses made at once share one statement (`ReadCoalescer`:
    /// each runs after every call it answers arrived).
    public func sense(_ query: SenseQuery) async throws(TrailError) -> [ScoredNote] {
        await readContestedNamespacesIfDue()
        do {
            return try await senses.read(query) { () async throws(TrailError) -> [ScoredNote] in
                try await self.read { try await $0.sense(query) }
            }
        } catch {
            throw error as? TrailError ?? .internal("\(error)")
        }
    }

    /// Reads the namespaces with contests again when the last read is a
    /// second old: in a task of its own while it is under two seconds old
    /// (reads keep coming: none waits), before this read once it is older
    /// (the daemon was idle: one read pays a round trip). Either way a
    /// contest another daemon records shows here within two seconds.
    private func readContestedNamespacesIfDue() async {
        guard let age = contested.claimRead(every: 1, at: ProcessInfo.processInfo.systemUptime) else { return }
        let (contested, logger) = (self.contested, self.logger)
        let reading = Task {
            do throws(TrailError) {
                contested.add(try await self.read { try await $0.contestedNamespaces() })
            } catch {
                logger.debug("could not read the namespaces with contests; read again within a second", metadata: ["error": "\(error)"])
            }
        }
        if age >= 2 { await reading.value }
    }

    public func follow(_ query: FollowQuery) async throws(TrailError) -> FollowResult {
        try await read { try await $0.follow(query) }
    }

    public func summary(ns: String) async throws(TrailError) -> NamespaceSummary {
        try await read { reads in
            let size = try await reads.rows("SELECT pg_database_size(current_database())")[0][0].decode(Int64.self)
            self.databaseBytes.store(size, ordering: .relaxed)
            return try await reads.summary(ns: ns)
        }
    }

    public func namespaces() async throws(TrailError) -> [NamespaceSummary] {
        try await read { try await $0.namespaces() }
    }

    public func export(ns: String, after cursor: Int64?, limit: Int) async throws(TrailError) -> ExportPage {
        try await read { try await $0.export(ns: ns, after: cursor, limit: limit) }
    }

    public func fadedNotes(ns: String, batch size: Int) async throws(TrailError) -> [EvaporationBatch] {
        try await read { try await $0.fadedNotes(ns: ns, batch: size) }
    }

    public func rankGraph(ns: String) async throws(TrailError) -> RankGraph {
        try await read { try await $0.rankGraph(ns: ns) }
    }

    /// Holds a session-level advisory lock on `ns` (on a connection of its
    /// own, so that the lock goes with it if this daemon dies) while `body`
    /// compacts it.
    public func compacting<T: Sendable>(ns: String, wait: Bool,
                                        _ body: @Sendable () async throws(TrailError) -> T) async throws(TrailError) -> T? {
        let logger = connector.logger
        let connection: PostgresConnection
        do {
            connection = try await connector.connect()
        } catch {
            throw error.trailError
        }
        defer { connection.closeDetached() }
        do {
            let key = PostgresQuery(unsafeSQL: "SELECT \(wait ? "pg_advisory_lock" : "pg_try_advisory_lock")(hashtextextended('trail.compact:' || $1, 0))",
                                    binds: { var b = PostgresBindings(); b.append(ns); return b }())
            let rows = try await connection.query(key, logger: logger).get().rows
            if !wait, try rows.first?.decode(Bool.self) != true { return nil }
        } catch {
            throw PostgresCommit.map(PostgresFailure.from(error, location: location))
        }
        return try await body()
    }

    public func lastCompaction(ns: String?) async throws(TrailError) -> CompactionReport? {
        try await read { try await $0.lastCompaction(ns: ns) }
    }

    // MARK: vectors (recall by meaning, contract §8; the SQL is in PostgresVectors)

    public func vectors(model: String, after stamp: Int64, limit: Int) async throws(TrailError) -> [StoredVector] {
        try await read { try await $0.vectors(model: model, after: stamp, limit: limit) }
    }

    public func unembedded(model: String, after handle: Int64, limit: Int) async throws(TrailError) -> [UnembeddedNote] {
        try await read { try await $0.unembedded(model: model, after: handle, limit: limit) }
    }

    public func meaningRows(ns: String, _ keys: NoteKeys, model: String) async throws(TrailError) -> [MeaningRow] {
        try await read { try await $0.meaningRows(ns: ns, keys, model: model) }
    }

    public func settings(ns: String) async throws(TrailError) -> NamespaceSettings? {
        try await read { try await $0.clock(ns: ns).settings }
    }

    public func contestRows(ns: String, ids: [NoteID]) async throws(TrailError) -> [ContestRow] {
        await readContestedNamespacesIfDue()
        return try await read { try await $0.contestRows(ns: ns, ids: ids) }
    }

    /// Always: other daemons may deposit to the database and store vectors
    /// any time, whether or not they do.
    public var hasOtherWriters: Bool { true }

    /// True: a read is mostly a round trip to the server, and running it on
    /// the asking connection's event loop saves two thread hops each way.
    public var readsOnEventLoop: Bool { true }

    /// The database's size as the last `summary` read it (`pg_database_size`).
    public func storeBytes() -> Int64 {
        databaseBytes.load(ordering: .relaxed)
    }

    /// Hands the watchers other daemons' writes (`EventListener`: on a
    /// connection of its own, caught up from the write log after it was down).
    public func forwardEvents(watching: @escaping @Sendable () -> Set<String>, to deliver: @escaping @Sendable (StoreEvent) -> Void,
                              missed: @escaping @Sendable (EventGap) -> Void) {
        let listening = EventListener(connector: connector.named("traild-listen"), pool: pool, daemon: daemon, logger: logger,
                                      contested: contested, statementTimeout: pool.statementTimeout, catchUpLimit: catchUpLimit)
        let task = Task.detached { await listening.run(watching: watching, deliver: deliver, missed: missed) }
        listener.withLock { $0?.cancel(); $0 = task }
    }

    public func close() async {
        listener.withLock { $0?.cancel() }
        await committer.drain()
        await pool.close()
        let session = self.session
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            // Closing blocks: not on the caller's (possibly cooperative) thread.
            Thread.detachNewThread {
                session.close()
                done.resume()
            }
        }
    }

    /// Runs `body` on a connection of the pool, mapping every failure to a `TrailError`.
    private func read<T: Sendable>(_ body: @Sendable (PostgresReads) async throws -> T) async throws(TrailError) -> T {
        let (logger, timeout) = (connector.logger, pool.statementTimeout)
        do {
            return try await pool.withConnection { connection in
                try await body(PostgresReads(connection: connection, logger: logger, contested: contested, timeout: timeout))
            }
        } catch is StatementTimedOut {
            throw PostgresFailure.unavailable("The database at \(location.redacted) did not answer a read within \(timeout); traild closed that connection and opens another on demand.").trailError
        } catch {
            throw PostgresCommit.map(error)
        }
    }
}
