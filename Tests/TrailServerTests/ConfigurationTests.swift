import Foundation
import Testing
import TrailPostgres
@testable import TrailServer

@Suite("Daemon configuration")
struct ConfigurationTests {
    @Test("socket path: TRAIL_SOCKET, then XDG_RUNTIME_DIR, then /tmp/trail-UID")
    func socketDefaults() {
        #expect(DaemonConfiguration.defaultSocketPath(environment: ["TRAIL_SOCKET": "/x/s.sock", "XDG_RUNTIME_DIR": "/run/u"]) == "/x/s.sock")
        #expect(DaemonConfiguration.defaultSocketPath(environment: ["XDG_RUNTIME_DIR": "/run/u"]) == "/run/u/trail/traild.sock")
        #expect(DaemonConfiguration.defaultSocketPath(environment: [:]) == "/tmp/trail-\(getuid())/traild.sock")
        #expect(DaemonConfiguration.defaultDataDir(environment: ["XDG_DATA_HOME": "/d"]) == "/d/trail")
        #expect(DaemonConfiguration.defaultDataDir(environment: ["HOME": "/h"]) == "/h/.local/share/trail")
    }

    @Test("store locations")
    func stores() throws {
        #expect(try StoreLocation("sqlite:/a/b.db") == .sqlite(path: "/a/b.db"))
        let pg = try StoreLocation("postgres://u:secret@h/db")
        #expect(pg == .postgres(try PostgresLocation(parsing: "postgres://u:secret@h/db")))
        #expect(pg.description == "postgres://u@h:5432/db")
        #expect(try StoreLocation("postgresql://u@h:6543/db").description == "postgres://u@h:6543/db")
        #expect(throws: ConfigurationError.self) { try StoreLocation("postgres://u@h") }
        #expect(throws: ConfigurationError.self) { try StoreLocation("mysql://x") }
        #expect(throws: ConfigurationError.self) { try StoreLocation("sqlite:") }
    }

    @Test("config file keys apply; unknown keys and bad types are refused")
    func configFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trail-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let good = dir.appendingPathComponent("good.json")
        try #"{"socket": "/s/t.sock", "data_dir": "/data", "max_frame_bytes": 4096, "log_level": "debug", "compaction_interval_s": 0, "compaction_batch": 50, "rebase_after_half_lives": 8}"#.write(to: good, atomically: true, encoding: .utf8)
        var c = DaemonConfiguration(environment: [:])
        try c.apply(configFile: good.path)
        #expect(c.socketPath == "/s/t.sock" && c.dataDir == "/data" && c.store == .sqlite(path: "/data/trail.db"))
        #expect(c.maxFrameBytes == 4096 && c.logLevel == "debug")
        #expect(c.compactionInterval == 0 && c.compaction.batch == 50 && c.compaction.rebaseBound == 8)
        let bad = dir.appendingPathComponent("bad.json")
        try #"{"sockett": "/s"}"#.write(to: bad, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try c.apply(configFile: bad.path) }
        try #"{"socket": 5}"#.write(to: bad, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try c.apply(configFile: bad.path) }
        try #"{"compaction_interval_s": -1}"#.write(to: bad, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try c.apply(configFile: bad.path) }
        try #"{"compaction_batch": "many"}"#.write(to: bad, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try c.apply(configFile: bad.path) }
        #expect(throws: ConfigurationError.self) { try c.apply(configFile: dir.appendingPathComponent("missing").path) }
    }

    @Test("an instance lock is exclusive and dies with its holder")
    func lock() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trail-lock-\(UUID().uuidString)").path
        var first: InstanceLock? = try InstanceLock(path: path, what: "test")
        #expect(throws: ConfigurationError.self) { try InstanceLock(path: path, what: "test") }
        _ = first
        first = nil
        #expect(throws: Never.self) { try InstanceLock(path: path, what: "test") }
    }
}
