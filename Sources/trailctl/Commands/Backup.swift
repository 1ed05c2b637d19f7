import ArgumentParser
import Foundation
import TrailProtocol
import TrailSQLite
import TrailStore

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the store, consistently, while traild goes on writing.",
        discussion: """
        Works on the store's files directly (the daemon may be running). PATH becomes a data \
        dir: PATH/trail.db, a snapshot taken with SQLite's online backup API (every write \
        acknowledged before the backup began is in it), and PATH/packs, the archive packs that \
        snapshot's archived notes are in. Serve it with `traild --data-dir PATH`; check it with \
        `trailctl check --data-dir PATH`. PATH must not hold a store yet.

        For a PostgreSQL store use pg_dump (see Daemon/README.md): this command refuses it.

        Exit codes: 0 done; 1 the copy failed (nothing is left at PATH); 3 the store cannot \
        be opened; 2 usage (or a PostgreSQL store).

        Example:
          trailctl backup --data-dir /var/lib/trail /backup/trail-$(date +%F)
        """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The directory to copy into (created if absent; must hold no store).", valueName: "path"))
    var path: String

    func run() async throws {
        let (source, packs): (String, String)
        switch try store.resolve() {
        case .postgres:
            throw CtlFailure.usage("""
                trailctl backup copies an embedded (SQLite) store; for PostgreSQL use pg_dump, \
                e.g. `pg_dump -Fc -f trail.dump DBNAME`, which is consistent while daemons write (see Daemon/README.md)
                """)
        case let .sqlite(path, packDirectory): (source, packs) = (path, packDirectory)
        }
        guard FileManager.default.fileExists(atPath: source) else {
            throw CtlFailure(code: CtlFailure.unreachable, message: "there is no store at \(source); give traild's --data-dir or --store sqlite:PATH")
        }
        let destination = path
        // Tests only: hold the first snapshot this long before copying its packs.
        let pause = ProcessInfo.processInfo.environment["TRAIL_TEST_BACKUP_PAUSE"].flatMap(Double.init) ?? 0
        let result = await Task.detached { () -> Result<SQLiteBackup.Report, StoreCheckFailure> in
            Result { () throws(StoreCheckFailure) in
                try SQLiteBackup.run(path: source, packDirectory: packs, destination: destination, pauseBeforePacks: pause)
            }
        }.value
        let report: SQLiteBackup.Report
        switch result {
        case let .success(r): report = r
        case let .failure(failure): throw CtlFailure.failed("backup failed: \(failure.description)")
        }
        if store.json {
            let value: JSONValue = .object([
                "destination": .string(report.destination), "notes": .int(report.notes),
                "archived_notes": .int(report.archivedNotes), "packs": .int(report.packs),
                "bytes": .int(Int(report.bytes)), "seconds": .double(report.seconds), "retries": .int(report.retries),
            ])
            Terminal.printOut(String(decoding: JSONWriter.bytes(value), as: UTF8.self))
        } else {
            var d = Details()
            d.add("copied to", report.destination)
            d.add("notes", "\(report.notes) (\(report.archivedNotes) archived)")
            d.add("packs", String(report.packs))
            d.add("size", Format.bytes(Int(report.bytes)))
            d.add("took", Format.duration(report.seconds))
            for line in d.render(.forStdout) { Terminal.printOut(line) }
        }
    }
}
