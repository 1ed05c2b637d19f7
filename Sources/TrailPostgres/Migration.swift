/// One numbered step of a database schema: applied once per database, in one
/// transaction, and never edited after it shipped (add the next one instead).
public struct Migration: Sendable, Hashable {
    /// Its place in the order; versions only grow.
    public let version: Int
    /// What it does, in a few words; recorded beside the version and checked
    /// on every start, so that a renumbered or swapped migration is noticed.
    public let name: String
    /// One or more SQL statements separated by `;` (see `SQLScript` for what
    /// the split understands).
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}
