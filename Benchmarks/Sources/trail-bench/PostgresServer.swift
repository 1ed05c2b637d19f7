import Foundation
import TrailPostgres
#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL server of the postgres phase: a throwaway cluster that
/// this run makes in its work dir (the steps of tests/pgcluster.py: initdb,
/// the settings below, the role `trail` with CREATEDB; run as root, the
/// server runs as the `postgres` OS user), or a server named by
/// `--postgres-url`. Each part of the phase gets a fresh database of its own.
final class PostgresServer {
    /// postgresql.conf of the throwaway cluster. Durability as shipped
    /// (fsync, synchronous_commit and full_page_writes on: an acknowledged
    /// write is flushed to the WAL on disk); shared_buffers holds the whole
    /// 100k-note store; max_connections leaves room for two daemons (7
    /// connections each, Daemon/README.md) and this program.
    static let clusterSettings: [(String, String)] = [
        ("listen_addresses", "'127.0.0.1'"),
        ("max_connections", "100"),
        ("shared_buffers", "'256MB'"),
        ("fsync", "on"),
        ("synchronous_commit", "on"),
        ("full_page_writes", "on"),
        ("password_encryption", "'scram-sha-256'"),
        ("huge_pages", "off"),
        ("logging_collector", "off"),
        ("log_destination", "'stderr'"),
        ("log_line_prefix", "'%m [%p] %q%u@%d '"),
        ("log_timezone", "'UTC'"),
        ("timezone", "'UTC'"),
        ("lc_messages", "'C'"),
    ]

    /// What the report shows of the server (`SHOW` of each), whoever started it.
    static let reportedSettings = [
        "server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "commit_delay",
        "wal_level", "wal_buffers", "max_wal_size", "checkpoint_timeout", "shared_buffers", "work_mem",
        "max_connections", "autovacuum", "jit",
    ]

    static let user = "trail"
    private static let password = "trail-bench-pw"

    /// How the server was reached: "a throwaway cluster ..." or "--postgres-url".
    let origin: String
    /// The data directory (nil for a server named by URL).
    let dataDir: String?
    /// `SHOW` of `reportedSettings`, in that order.
    private(set) var settings: [(name: String, value: String)] = []
    private let child: ChildProcess?
    private let makeLocation: (String) throws -> (location: PostgresLocation, url: String)
    /// The superuser's link over the Unix socket (throwaway cluster only): CREATE DATABASE, CHECKPOINT.
    private var admin: PostgresLink?
    /// The link databases are made through when there is no superuser's.
    private var owner: PostgresLink?
    private var made: [String] = []
    /// A folder outside the work dir this run made for the data (removed at the end).
    private let outsideDir: String?
    private let keep: Bool

    private init(origin: String, dataDir: String?, child: ChildProcess?, outsideDir: String?, keep: Bool,
                 makeLocation: @escaping (String) throws -> (location: PostgresLocation, url: String)) {
        self.origin = origin
        self.dataDir = dataDir
        self.child = child
        self.outsideDir = outsideDir
        self.keep = keep
        self.makeLocation = makeLocation
    }

    /// The postmaster's pid (throwaway cluster only).
    var pid: pid_t? { child?.pid }

    var version: String { settings.first { $0.name == "server_version" }?.value ?? "unknown" }

    // MARK: starting

    /// Makes and starts a throwaway cluster under `dir` (or, when the
    /// `postgres` OS user cannot reach `dir`, under $TMPDIR), on a free port
    /// of 127.0.0.1.
    static func start(in dir: String, binaries: String?, keep: Bool, log: (String) -> Void) async throws -> PostgresServer {
        let bin = try binaries ?? newestBinaries()
        let runAs = try serverUser()
        var base = dir + "/postgres"
        var outside: String?
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        if let runAs {
            chown(base, runAs.uid, runAs.gid)
            if !(try reachable(base, as: runAs)) {
                // e.g. a work dir under pytest's 0700 tmp root: make one the server can reach, on the same filesystem if possible.
                try? FileManager.default.removeItem(atPath: base)
                let tmp = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
                var template = Array("\(tmp)/trail-bench-pg-XXXXXX".utf8CString)
                guard let madeDir = mkdtemp(&template) else { throw BenchFailure("cannot create a folder for PostgreSQL under \(tmp)") }
                base = String(cString: madeDir)
                outside = base
                chmod(base, 0o755)
                chown(base, runAs.uid, runAs.gid)
                guard try reachable(base, as: runAs) else {
                    throw BenchFailure("the postgres OS user cannot write \(dir) nor \(base); give --work-dir a folder it can reach")
                }
                log("the postgres OS user cannot reach \(dir): its data dir is \(base)")
            }
        }
        let data = base + "/data"
        let serverLog = base + "/server.log"
        func asServer(_ program: String, _ args: [String]) -> (String, [String]) {
            guard let runAs else { return (program, args) }
            return ("setpriv", ["--reuid=\(runAs.uid)", "--regid=\(runAs.gid)", "--init-groups", "--", program] + args)
        }
        let (initdb, initArgs) = asServer(bin + "/initdb", [
            "-D", data, "-U", "postgres", "--encoding=UTF8", "--no-locale", "--auth-local=trust",
            "--auth-host=scram-sha-256", "--no-sync", "--no-instructions",
        ])
        _ = try ChildProcess.output(initdb, initArgs, cwd: base)
        // Written in place (not atomically) so that the files keep their owner and mode.
        try """
            # written by trail-bench
            local   all       postgres                  trust
            local   all       all                       scram-sha-256
            host    all       all       127.0.0.1/32    scram-sha-256

            """.write(toFile: data + "/pg_hba.conf", atomically: false, encoding: .utf8)
        let port = try freePort()
        var conf = try String(contentsOfFile: data + "/postgresql.conf", encoding: .utf8)
        conf += "\n# --- trail-bench ---\n"
        for (name, value) in clusterSettings + [("port", String(port)), ("unix_socket_directories", "'\(base)'")] {
            conf += "\(name) = \(value)\n"
        }
        try conf.write(toFile: data + "/postgresql.conf", atomically: false, encoding: .utf8)

        let (program, args) = asServer(bin + "/postgres", ["-D", data])
        // The server changes to its data dir itself.
        let child = try ChildProcess.start("postgres", executable: program, arguments: args, log: serverLog)
        let server = PostgresServer(
            origin: "a throwaway cluster started by trail-bench (\(bin)/postgres\(runAs == nil ? "" : ", as the postgres OS user"))",
            dataDir: data, child: child, outsideDir: outside, keep: keep
        ) { database in
            let location = PostgresLocation(endpoint: .tcp(host: "127.0.0.1", port: port), user: user, password: password, database: database)
            return (location, "postgres://\(user):\(password)@127.0.0.1:\(port)/\(database)")
        }
        do {
            let superuser = PostgresLocation(endpoint: .unixSocket(directory: base, port: port), user: "postgres",
                                             password: nil, database: "postgres")
            let deadline = monoNanos() + 30_000_000_000
            while true {
                guard child.isRunning else {
                    let tail = (try? String(contentsOfFile: serverLog, encoding: .utf8))?.suffix(2000) ?? ""
                    throw BenchFailure("PostgreSQL exited before it accepted connections; its log (\(serverLog)) ends:\n\(tail)")
                }
                if let link = try? await PostgresLink.connect(superuser, name: "trail-bench-admin") {
                    server.admin = link
                    break
                }
                guard monoNanos() < deadline else { throw BenchFailure("PostgreSQL did not accept connections within 30 s; see \(serverLog)") }
                try await Task.sleep(for: .milliseconds(50))
            }
            try await server.admin!.run("CREATE ROLE \(user) LOGIN CREATEDB PASSWORD '\(password)'")
            try await server.readSettings(server.admin!)
        } catch {
            await server.stop()
            throw error
        }
        return server
    }

    /// A server named by URL; databases are made by its user (who needs CREATEDB)
    /// and dropped at the end unless `keep`.
    static func attach(url: String, keep: Bool) async throws -> PostgresServer {
        let base: PostgresLocation
        do {
            base = try PostgresLocation(parsing: url)
        } catch {
            throw BenchFailure("--postgres-url: \(error)")
        }
        let server = PostgresServer(origin: "the server named by --postgres-url (\(base.redacted))", dataDir: nil, child: nil,
                                    outsideDir: nil, keep: keep) { database in
            let other = try replacingDatabase(of: url, with: database)
            do {
                return (try PostgresLocation(parsing: other), other)
            } catch {
                throw BenchFailure("--postgres-url: \(error)")
            }
        }
        server.owner = try await PostgresLink.connect(base, name: "trail-bench-admin")
        try await server.readSettings(server.owner!)
        return server
    }

    // MARK: databases

    /// A fresh, empty database; returns where it is and its URL for `traild --store`.
    func createDatabase(_ name: String) async throws -> (location: PostgresLocation, url: String) {
        let unique = child == nil ? "\(name)_\(getpid())_\(made.count)" : name
        if let admin {
            try await admin.run("CREATE DATABASE \(unique) OWNER \(Self.user)")
        } else if let owner {
            try await owner.run("CREATE DATABASE \(unique)")
        }
        made.append(unique)
        return try makeLocation(unique)
    }

    /// Flushes what is dirty (after a load, so that no checkpoint of it runs
    /// during the timed reads); a no-op without the superuser's link.
    func checkpoint() async {
        try? await admin?.run("CHECKPOINT")
    }

    /// The server's processes (postmaster and its children), for CPU accounting; empty for a server named by URL.
    var processes: [pid_t] {
        guard let pid else { return [] }
        return [pid] + ProcessCPU.children(of: pid)
    }

    /// Stops a throwaway cluster at once (immediate shutdown: its data is
    /// thrown away) and removes what lives outside the work dir (unless
    /// `keep`); drops the databases made on a server named by URL (unless `keep`).
    func stop() async {
        await admin?.close()
        admin = nil
        if let owner {
            if !keep {
                for name in made { try? await owner.run("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
            }
            await owner.close()
            self.owner = nil
        }
        if let child {
            if child.isRunning { kill(child.pid, SIGQUIT) }
            child.stop()
        }
        if let outsideDir, !keep { try? FileManager.default.removeItem(atPath: outsideDir) }
    }

    private func readSettings(_ link: PostgresLink) async throws {
        var out: [(String, String)] = []
        for name in Self.reportedSettings {
            let value = try await link.rows("SELECT current_setting(\(name))").first.map { try $0[0].decode(String.self) }
            out.append((name, value ?? "?"))
        }
        settings = out
    }

    // MARK: helpers

    private struct ServerUser {
        var uid: uid_t
        var gid: gid_t
    }

    /// Run as root, the server runs as `postgres` (it refuses root).
    private static func serverUser() throws -> ServerUser? {
        guard geteuid() == 0 else { return nil }
        guard let entry = getpwnam("postgres") else {
            throw BenchFailure("running as root, the PostgreSQL server needs the postgres OS user (Debian's postgresql package makes it)")
        }
        return ServerUser(uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    private static func reachable(_ dir: String, as user: ServerUser) throws -> Bool {
        (try? ChildProcess.output("setpriv", ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--init-groups", "--", "test", "-w", dir], cwd: "/")) != nil
    }

    /// The newest /usr/lib/postgresql/VERSION/bin with a server (Debian's layout).
    static func newestBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/postgres") && FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/initdb") }
            .sorted { (Double($0) ?? 0) < (Double($1) ?? 0) }
        guard let newest = versions.last else {
            throw BenchFailure("no PostgreSQL server in \(root)/*/bin: install Debian's postgresql package (make system-deps), or give --postgres-bin or --postgres-url")
        }
        return "\(root)/\(newest)/bin"
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchFailure("socket failed: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw BenchFailure("cannot bind a port: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `postgres://...@host:port/DB?...` with another database.
    static func replacingDatabase(of url: String, with database: String) throws -> String {
        guard let scheme = url.range(of: "://") else { throw BenchFailure("--postgres-url must start with postgres://") }
        let afterScheme = url[scheme.upperBound...]
        // The path starts at the first "/" after the last "@" (a password may hold "/" only percent-encoded).
        let authorityStart = afterScheme.lastIndex(of: "@") ?? afterScheme.startIndex
        guard let slash = afterScheme[authorityStart...].firstIndex(of: "/") else {
            throw BenchFailure("--postgres-url has no database: postgres://USER:PASSWORD@HOST:PORT/DB")
        }
        let query = afterScheme[slash...].firstIndex(of: "?").map { String(afterScheme[$0...]) } ?? ""
        return String(url[..<slash]) + "/" + database + query
    }
}
