import Foundation
import GRDB
import Testing
import TrailCore
@testable import TrailSQLite
import TrailStore

/// The reads of recall by meaning walk stored vectors once and must not
/// fill a reader's page cache with them: they run with the cache held small,
/// and every reader has its full cache back after.
@Suite("Light reads")
struct LightReadTests {
    func cacheSize(_ db: Database) throws -> Int { try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? 0 }

    @Test("a light read runs with a small cache; readers have their full cache after, also when the read fails")
    func cacheComesBack() async throws {
        let f = try Fixture()
        for i in 0..<20 { try await f.deposit("note \(i)") }
        let inside = try await f.store.readLight { try self.cacheSize($0) }
        #expect(inside == -SQLiteMemory.lightCacheKiB)
        await #expect(throws: TrailError.self) {
            _ = try await f.store.readLight { db -> Int in
                _ = try Int.fetchOne(db, sql: "SELECT no_such_column FROM note")
                return 0
            }
        }
        // The reads of recall by meaning themselves, several at once so that several readers serve them.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    _ = try await f.store.meaningRows(ns: "default", .ids([NoteID(body: "note 1")]), model: "m")
                    _ = try await f.store.vectors(model: "m", after: 0, limit: 10)
                    _ = try await f.store.unembedded(model: "m", after: 0, limit: 10)
                }
            }
            try await group.waitForAll()
        }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try await f.store.read { try self.cacheSize($0) } } }
            for try await size in group { #expect(size == -SQLiteMemory.readerCacheKiB) }
        }
    }
}
