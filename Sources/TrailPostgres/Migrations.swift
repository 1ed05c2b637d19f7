import PostgresNIO

/// Brings a database's schema up to date: applies each numbered migration
/// exactly once per database, in order, each in a transaction of its own.
///
/// Several daemons may start at once against one database: every transaction
/// here first takes `pg_advisory_xact_lock(Migrations.lockKey)`, so they run one
/// after another, and each re-reads `trail_migration` under the lock, so a
/// migration another daemon applied meanwhile is skipped, not run twice. The
/// lock is released by the transaction's end, also when a daemon dies.
///
/// The record is the table
///
///     trail_migration(version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
///
/// A database that records a migration this list does not have (a newer
/// daemon migrated it), or under another name (a shipped migration was
/// renumbered or replaced), is refused: the schema is not what this code
/// expects, and guessing could damage it.
public struct Migrations: Sendable {
    /// The advisory lock key that serialises migrations: "trailmig" in ASCII.
    /// Fixed forever, so that daemons of every version agree on it.
    public static let lockKey: Int64 = 0x7472_6169_6C6D_6967

    /// The migrations, by ascending version.
    public let all: [Migration]

    /// - Parameter migrations: ascending, distinct, positive versions with
    ///   non-empty names (a precondition: the list is part of the program).
    public init(_ migrations: [Migration]) {
        for (a, b) in zip(migrations, migrations.dropFirst()) {
            precondition(a.version < b.version, "migrations must have ascending, distinct versions (\(a.version), \(b.version))")
        }
        precondition(migrations.allSatisfy { $0.version > 0 && !$0.name.isEmpty }, "migration versions are positive and names non-empty")
        self.all = migrations
    }

    /// The same, from `(version, name, sql)` tuples.
    public init(_ migrations: [(version: Int, name: String, sql: String)]) {
        self.init(migrations.map { Migration(version: $0.version, name: $0.name, sql: $0.sql) })
    }

    /// Applies the migrations the database does not have yet.
    ///
    /// Costs one short transaction when the database is up to date, plus one
    /// per migration applied. The session must not be inside a transaction,
    /// and its statement timeout must cover the longest migration statement
    /// and the wait for another daemon's migration (the lock is taken by a
    /// statement like any other).
    /// Throws `.refused` when the database's record disagrees with this list,
    /// `.sql` naming the migration when one of its statements fails (that
    /// migration is rolled back, earlier ones stay), `.unavailable` when the
    /// connection fails (rerun: nothing is half-applied).
    ///
    /// - Returns: the versions this call applied, ascending.
    @discardableResult
    public func apply(using session: BlockingSession) throws(PostgresFailure) -> [Int] {
        let at = session.connector.location.redacted
        let recorded = try transaction(session) { () throws(PostgresFailure) in try self.recorded(session) }
        let known = Dictionary(uniqueKeysWithValues: all.map { ($0.version, $0.name) })
        for (version, name) in recorded.sorted(by: { $0.key < $1.key }) {
            guard let ours = known[version] else {
                throw .refused("The database at \(at) has schema migration \(version) (\(name)), which this traild does not know; run a traild at least as new as the one that migrated it.")
            }
            guard ours == name else {
                throw .refused("The database at \(at) records schema migration \(version) as \(name.debugDescription) but this traild calls it \(ours.debugDescription); a shipped migration was changed, restore it and add a new one instead.")
            }
        }

        var applied: [Int] = []
        for migration in all where recorded[migration.version] == nil {
            let didApply = try transaction(session) { () throws(PostgresFailure) -> Bool in
                // Another daemon may have applied it between our read and this lock.
                var binds = PostgresBindings()
                binds.append(migration.version)
                guard try session.execute("SELECT 1 FROM trail_migration WHERE version = $1", binds).isEmpty else { return false }
                for statement in SQLScript.statements(migration.sql) {
                    do throws(PostgresFailure) {
                        try session.execute(statement)
                    } catch let .sql(state, message) {
                        throw .sql(sqlState: state, message: "schema migration \(migration.version) (\(migration.name)): \(message)")
                    }
                }
                var record = PostgresBindings()
                record.append(migration.version)
                record.append(migration.name)
                try session.execute("INSERT INTO trail_migration (version, name) VALUES ($1, $2)", record)
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    /// The versions and names in `trail_migration`, creating the table on first use.
    private func recorded(_ session: BlockingSession) throws(PostgresFailure) -> [Int: String] {
        // Under the advisory lock: two daemons racing on CREATE TABLE IF NOT
        // EXISTS could otherwise both try to create it (a unique violation on pg_type).
        try session.execute("""
            CREATE TABLE IF NOT EXISTS trail_migration (
                version int PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        var out: [Int: String] = [:]
        for row in try session.execute("SELECT version, name FROM trail_migration") {
            do {
                let (version, name) = try row.decode((Int, String).self)
                out[version] = name
            } catch {
                throw PostgresFailure.from(error, location: session.connector.location)
            }
        }
        return out
    }

    /// Runs `body` in a transaction that holds the migration lock; rolls back if it throws.
    private func transaction<T>(_ session: BlockingSession, _ body: () throws(PostgresFailure) -> T) throws(PostgresFailure) -> T {
        try session.begin()
        do {
            var key = PostgresBindings()
            key.append(Self.lockKey)
            try session.execute("SELECT pg_advisory_xact_lock($1)", key)
            let result = try body()
            try session.commit()
            return result
        } catch {
            session.rollback()
            throw error
        }
    }
}
