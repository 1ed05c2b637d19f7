import TrailStore
import GRDB
import Synchronization

/// Read-only connections for the reads answered on the caller's thread
/// (`InlineReads`): a connection is taken from a stack under a mutex, used
/// for one read transaction, and put back, so there are as many as there
/// were callers at once (in traild, one per event-loop thread and one per
/// thread of NIO's blocking pool).
///
/// `DatabasePool.unsafeRead` did the same job at several microseconds a
/// read: its reader pool takes a semaphore, a lock and a dispatch queue, and
/// builds a generic key path at run time on every checkout (in a profile of
/// `sense`, about a tenth of the daemon's time).
final class InlineReaders: Sendable {
    private let path: String
    private let configuration: Configuration
    private let idle = Mutex<[DatabaseQueue]>([])

    /// `configuration` is the store's (its pragmas); the connections are opened read-only.
    init(path: String, configuration: Configuration) {
        self.path = path
        var configuration = configuration
        configuration.readonly = true
        self.configuration = configuration
    }

    /// Runs `body` in one read transaction (cached `BEGIN` and `COMMIT`) on
    /// the calling thread.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        let connection = try idle.withLock { $0.popLast() } ?? DatabaseQueue(path: path, configuration: configuration)
        defer { idle.withLock { $0.append(connection) } }
        return try connection.inDatabase { db in
            try db.cachedStatement(sql: "BEGIN DEFERRED TRANSACTION").execute()
            do {
                let value = try body(db)
                try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
                return value
            } catch {
                try? db.cachedStatement(sql: "ROLLBACK TRANSACTION").execute()
                throw error
            }
        }
    }

    /// Closes the idle connections. One in use goes back to the stack when its
    /// read ends, and closes when the store is released.
    func close() {
        let connections = idle.withLock { stack in
            defer { stack.removeAll() }
            return stack
        }
        for connection in connections { try? connection.close() }
    }
}
