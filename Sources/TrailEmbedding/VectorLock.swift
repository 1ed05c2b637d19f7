#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a reader-writer lock: any number of readers at once, or
/// one writer alone.
///
/// On glibc the lock prefers writers: its default prefers readers, and a
/// steady stream of searches (each holding the lock for a whole scan) would
/// then starve inserts forever. The cost is that readers must not take the
/// lock again while holding it, which `read` never does.
final class VectorLock<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is touched only between lock and unlock of `lock`.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        #if canImport(Glibc)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        let status = pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        precondition(status == 0, "pthread_rwlock_init failed: \(status)")
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deinitialize(count: 1)
        lock.deallocate()
    }

    /// Runs `body` on the value under the read lock, beside other readers.
    func read<Result>(_ body: (Value) throws -> Result) rethrows -> Result {
        let status = pthread_rwlock_rdlock(lock)
        precondition(status == 0, "pthread_rwlock_rdlock failed: \(status)")
        defer { pthread_rwlock_unlock(lock) }
        return try body(value)
    }

    /// Runs `body` on the value under the write lock, alone.
    func write<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        let status = pthread_rwlock_wrlock(lock)
        precondition(status == 0, "pthread_rwlock_wrlock failed: \(status)")
        defer { pthread_rwlock_unlock(lock) }
        return try body(&value)
    }
}
