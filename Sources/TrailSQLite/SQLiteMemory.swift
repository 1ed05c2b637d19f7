/// How much memory the embedded engine's SQLite connections may keep: the
/// page cache of each, in KiB. traild's resident set at 1M notes is these
/// caches (the writer's and one per reader in use) plus its own heap.
enum SQLiteMemory {
    /// The writer's cache: index pages a burst of deposits walks again and again.
    static let writerCacheKiB = 32 * 1024
    /// A reader's cache: the top of the indexes and the hot notes. There are
    /// as many readers as reads at once (event loops, blocking-pool threads).
    static let readerCacheKiB = 32 * 1024

    static func cacheKiB(readOnly: Bool) -> Int { readOnly ? readerCacheKiB : writerCacheKiB }

    /// A reader's cache during the reads of recall by meaning (`readLight`):
    /// they walk stored vectors (1.5 KB each, read once at start and a few
    /// hundred a search, in no order), which a cache would keep at the
    /// expense of the pages other reads come back to. Shrinking a cache drops
    /// its pages beyond the new size; the old size comes back after.
    static let lightCacheKiB = 1024
}
