import CTrailKernels

/// How traild asks glibc's allocator to keep its resident set near what it
/// uses (issue 25, "Memory at 1M").
///
/// Loading a million stored vectors allocates and frees some 1.5 GB in
/// pieces of 1.5 KB on several threads. With glibc's defaults (up to eight
/// arenas per core, and a threshold for mapping large blocks that rises as
/// they are freed) that left tens of MiB free but resident in arenas: at
/// 100,000 vectors (measured with the product codes of branch pq-codes),
/// 135 MB of anonymous memory after the load, of which
/// 77 MB in use. With two arenas and large blocks always mapped (and so
/// returned when freed), 82 MB; `releaseFreed` after the load gives back what
/// is left. Elsewhere (other C libraries) both do nothing.
///
/// The two arenas cost durable writes about 10 % (threads wait for an
/// arena), measured; without them the meaning benchmark's peak at 1M was
/// 344 MiB against 284 (docs/decisions.md, "Memory at 1M with recall by
/// meaning").
public enum ProcessMemory {
    /// Arenas glibc may make: threads beyond share them.
    static let arenas: Int32 = 2
    /// Blocks at least this large are mapped on their own, and unmapped when freed.
    static let mapThreshold: Int32 = 128 * 1024

    /// Sets the allocator's policy; call first thing, before threads start.
    public static func configure() {
        trail_malloc_configure(arenas, mapThreshold)
    }

    /// Returns the free pages of every arena to the system (after a load
    /// that allocated much and kept little).
    public static func releaseFreed() {
        trail_malloc_release()
    }
}
