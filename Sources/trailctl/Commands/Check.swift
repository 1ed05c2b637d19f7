import ArgumentParser
import Foundation
import TrailPostgres
import TrailProtocol
import TrailSQLite
import TrailStore

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a store's files and report what is damaged.",
        discussion: """
        Works on the store directly, not through the daemon, which may go on running (the \
        database is opened read-only). SQLite: SQLite's integrity check (--quick: quick_check), \
        then every archive pack frame by frame, then every archived note against the frame its \
        row names. PostgreSQL: the schema's version, every archive block and the notes in it, \
        and the indexes with amcheck when the extension is installed.

        Exit codes: 0 the store is sound (info findings may be printed); 4 damage found (each \
        finding names its file or object); 3 the store cannot be opened or reached; 2 usage.

        Examples:
          trailctl check --data-dir /var/lib/trail
          trailctl check --store postgres://trail@db/trail --json
        """)

    @OptionGroup var store: StoreOptions

    @Flag(name: .long, help: "SQLite: PRAGMA quick_check instead of integrity_check (no index-to-table cross-check; faster).")
    var quick = false

    func run() async throws {
        let location = try store.resolve()
        let quick = self.quick
        let result = await Task.detached { () -> Result<StoreCheckReport, StoreCheckFailure> in
            switch location {
            case let .sqlite(path, packs): Result { () throws(StoreCheckFailure) in try SQLiteCheck.run(path: path, packDirectory: packs, quick: quick) }
            case let .postgres(postgres): Result { () throws(StoreCheckFailure) in try PostgresCheck.run(location: postgres) }
            }
        }.value
        let report: StoreCheckReport
        switch result {
        case let .success(r): report = r
        case let .failure(failure): throw CtlFailure(code: CtlFailure.unreachable, message: "cannot check the store: \(failure.description)")
        }
        if store.json {
            Terminal.printOut(String(decoding: JSONWriter.bytes(Self.json(report)), as: UTF8.self))
        } else {
            for line in Self.lines(report, .forStdout) { Terminal.printOut(line) }
        }
        if !report.sound { throw CtlFailure(code: CtlFailure.damageFound, message: "") }
    }

    /// The report as `--json` prints it (Schemas/trailctl.check.json).
    static func json(_ report: StoreCheckReport) -> JSONValue {
        var checked = JSONObject()
        for (name, count) in report.checked { checked[name] = .int(count) }
        return .object([
            "store": .string(report.store), "engine": .string(report.engine), "sound": .bool(report.sound),
            "checked": .object(checked),
            "findings": .array(report.findings.map {
                .object(["severity": .string($0.severity.rawValue), "object": .string($0.object), "message": .string($0.message)])
            }),
        ])
    }

    static func lines(_ report: StoreCheckReport, _ p: Painter) -> [String] {
        var lines = ["\(report.store): " + (report.sound ? p.paint("sound", .green) : p.paint("DAMAGED", .red))]
        lines.append("checked: " + report.checked.map { "\($0.1) \($0.0.replacingOccurrences(of: "_", with: " "))" }.joined(separator: ", "))
        for f in report.findings {
            lines.append("\(f.severity == .damage ? p.paint("damage", .red) : p.paint("info", .dim))  \(f.object): \(f.message)")
        }
        return lines
    }
}
