import Foundation
import Glibc
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import TrailCore
import TrailPostgres
import TrailProtocol
import TrailSQLite
import TrailStore
import UnixSignals

/// The daemon as a `Service`: takes its locks, opens the store, listens on
/// the Unix socket, and on graceful shutdown stops reading, lets queued
/// writes commit, answers them, closes the store and removes the socket.
public final class TrailDaemon: Service {
    private let config: DaemonConfiguration
    private let logger: Logger
    private let ready: @Sendable (String) -> Void
    private let children = ChannelRegistry()
    private let registry: PrometheusCollectorRegistry?
    /// The HTTP listener's token, made at start.
    private let httpToken = HTTPToken()
    /// Where the token is written: beside the socket, 0600.
    private var httpTokenPath: String { config.socketPath + ".http-token" }

    /// `ready` is called with a one-line message once the socket listens.
    /// `registry` is where swift-metrics was bootstrapped to (for /metrics).
    public init(config: DaemonConfiguration, logger: Logger, registry: PrometheusCollectorRegistry? = nil,
                ready: @escaping @Sendable (String) -> Void) {
        self.config = config
        self.registry = registry
        self.logger = logger
        self.ready = ready
    }

    public func run() async throws {
        let socketURL = URL(fileURLWithPath: config.socketPath)
        let socketDir = socketURL.deletingLastPathComponent().path
        try makeDirectory(config.dataDir, mode: 0o700)
        let createdSocketDir = try makeDirectory(socketDir, mode: socketFolderMode)
        let dataLock = try InstanceLock(path: config.dataDir + "/traild.lock", what: "the data dir \(config.dataDir)")
        let socketLock = try InstanceLock(path: config.socketPath + ".lock", what: "the socket \(config.socketPath)")
        // We hold the socket's lock, so a socket file still there is a dead daemon's.
        if FileManager.default.fileExists(atPath: config.socketPath) {
            logger.notice("replacing a stale socket left by a daemon that did not stop cleanly", metadata: ["socket": "\(config.socketPath)"])
            unlink(config.socketPath)
        }

        let store: any TrailStore
        switch config.store {
        case let .sqlite(path):
            store = try SQLiteStore(path: path, packDirectory: config.dataDir + "/packs", fault: CompactionFault.fromEnvironment())
        case let .postgres(location):
            // Connecting and migrating block: on NIO's thread pool, not an event loop.
            let daemon = "\(ProcessInfo.processInfo.hostName):\(getpid())"
            do {
                let catchUp = config.watchCatchUpRows
                store = try await NIOThreadPool.singleton.runIfActive {
                    try PostgresStore(location: location, daemon: daemon, catchUpLimit: catchUp)
                }
            } catch let error as TrailError {
                // The failure's own sentence, not the wrapper a client gets ("retry later"): traild stops here.
                let why = if case let .storageUnavailable(why) = error { why } else { error.message }
                throw ConfigurationError.invalid("cannot open the PostgreSQL store, so traild stops: \(why)")
            }
        }
        let recall = loadRecall(store: store)
        let indexer = (try? recall.get()).map { Indexer(recall: $0, threads: config.embeddingThreads) }
        let access = AccessControl(config.access)
        let dispatcher = Dispatcher(store: store, maxFrameBytes: config.maxFrameBytes, compaction: config.compaction, recall: recall,
                                    access: access, watchBacklogBytes: config.watchBacklogBytes,
                                    metrics: DaemonMetrics(registry: config.http == nil ? nil : registry))
        indexer?.start()
        // Packs left by a crash between writing a pack and committing its index go now.
        _ = try? await store.write(.sweepPacks, by: Writer(agent: "traild"))
        let group = MultiThreadedEventLoopGroup.singleton
        let maxFrame = config.maxFrameBytes
        let maxConnections = config.maxConnections
        let server: any Channel
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer { [children] channel in
                    // The registry holds this one too: beyond the limit it is told why and closed.
                    if children.add(channel) > maxConnections {
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(ConnectionRefusal(limit: maxConnections))
                        }
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        let ops = channel.pipeline.syncOperations
                        try ops.addHandler(ByteToMessageHandler(LineFrameDecoder(maxBytes: maxFrame)))
                        try ops.addHandler(JSONRPCCodec(maxFrameBytes: maxFrame))
                        try ops.addHandler(RequestDispatcher(dispatcher: dispatcher))
                    }
                }
                .bind(unixDomainSocketPath: config.socketPath)
                .get()
        } catch {
            await store.close()
            throw ConfigurationError.invalid("cannot listen on \(config.socketPath) (\(error)); check the path and its folder")
        }
        do {
            try setSocketPermissions(folderIsOurs: createdSocketDir)
        } catch {
            try? await server.close()
            await store.close()
            throw error
        }
        let web: (any Channel)?
        do {
            web = try await startHTTP(dispatcher: dispatcher, group: group)
        } catch {
            try? await server.close()
            await store.close()
            throw error
        }
        // Trapped before the ready line, so a SIGHUP right after it never stops the daemon.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let reloads = Task { [logger, config] in await Self.reloadAccess(on: hangups, config: config, access: access, logger: logger) }
        logger.info("listening", metadata: [
            "socket": "\(config.socketPath)", "store": "\(config.store)",
            "socket_mode": "\(String(config.effectiveSocketMode, radix: 8))",
            "access": "\(config.access.rules.map { "\($0.count) rules" } ?? "open to every peer that can connect")",
        ])
        let semantic = (try? recall.get()).map { $0.model } ?? "off"
        let httpURL = web?.localAddress.map {
            " http=http://\(HTTPAddress(host: config.http?.host ?? "127.0.0.1", port: $0.port ?? 0))/?token=\(httpToken.value)"
        } ?? ""
        ready("traild ready socket=\(config.socketPath) store=\(config.store) semantic=\(semantic)\(httpURL) pid=\(getpid())")

        // Runs until SIGTERM/SIGINT (the service group's graceful shutdown),
        // compacting in the background every `compactionInterval` seconds.
        let background = Task { [logger, config] in
            guard config.compactionInterval > 0 else { return }
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(config.compactionInterval))
                if Task.isCancelled { break }
                do {
                    // A namespace another daemon compacts now is left to it.
                    let reports = try await dispatcher.compactor.compact(waitForOthers: false)
                    let evaporated = reports.reduce(0) { $0 + $1.evaporated }
                    logger.info("compacted", metadata: ["namespaces": "\(reports.count)", "evaporated": "\(evaporated)"])
                } catch {
                    logger.error("background compaction failed: \((error as? TrailError)?.message ?? "\(error)")")
                }
            }
        }
        try? await gracefulShutdown()
        background.cancel()
        reloads.cancel()

        logger.info("shutting down: finishing queued writes")
        try? await server.close()
        try? await web?.close()
        if web != nil { unlink(httpTokenPath) }
        let open = children.all
        for child in open { _ = try? await child.setOption(ChannelOptions.autoRead, value: false).get() }
        indexer?.stop()
        await store.close()
        // Each connection writes the answers of its last requests, then closes.
        await withTaskGroup(of: Void.self) { group in
            for child in open { group.addTask { await Self.drain(child, within: Self.drainLimit) } }
        }
        for child in open { try? await child.close() }
        unlink(config.socketPath)
        withExtendedLifetime((dataLock, socketLock)) {}
        logger.info("stopped")
    }

    /// How long a stopping daemon waits for a connection to take the answers
    /// of its last requests (a peer that does not read is then cut off).
    static let drainLimit = TimeAmount.seconds(5)

    /// Asks `channel`'s `RequestDispatcher` to write what is in flight and
    /// close its output; returns when it has, or when the channel closed.
    private static func drain(_ channel: any Channel, within limit: TimeAmount) async {
        let done = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute {
            // Only an open channel with its handler in place answers the event
            // (one closed as over the connection limit never had it).
            if channel.isActive, (try? channel.pipeline.syncOperations.handler(type: RequestDispatcher.self)) != nil {
                channel.pipeline.fireUserInboundEventTriggered(RequestDispatcher.Drain(done: done, limit: limit))
            } else {
                done.succeed()
            }
        }
        try? await done.futureResult.get()
    }

    /// The embedding model, when it is there and not turned off; otherwise
    /// why not (logged once here, and said by every -32010).
    private func loadRecall(store: any TrailStore) -> Result<Recall, SemanticOff> {
        guard config.semantic else { return .failure(SemanticOff("recall by meaning is turned off in this daemon's configuration")) }
        let started = Date()
        switch Recall.load(directory: config.modelPath, store: store, logger: logger) {
        case let .success(recall):
            logger.info("recall by meaning is on", metadata: [
                "model": "\(recall.model)", "folder": "\(config.modelPath)",
                "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            ])
            return .success(recall)
        case let .failure(error):
            let why: String = if case .missing = error {
                "the embedding model is not installed in \(config.modelPath)"
            } else {
                "the embedding model in \(config.modelPath) cannot be used: \(error.description)"
            }
            logger.notice("recall by meaning is off: \(why); install it (`sudo apt install trail-model-minilm` with the Debian package, `make model` in the repository, or `python3 Daemon/fetch-model.py \(config.modelPath)`), then restart traild")
            return .failure(SemanticOff(why))
        }
    }

    /// Creates `path` with `mode` if it is missing; returns whether it did.
    @discardableResult
    private func makeDirectory(_ path: String, mode: mode_t) throws -> Bool {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw ConfigurationError.invalid("\(path) exists and is not a folder") }
            return false
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: Int(mode)])
        } catch {
            throw ConfigurationError.invalid("cannot create the folder \(path) (\(error.localizedDescription)); check its parent's permissions")
        }
        return true
    }

    /// The HTTP listener when the config asks for one: `/healthz` answers
    /// whether the store does (a cheap read of it).
    private func startHTTP(dispatcher: Dispatcher, group: any EventLoopGroup) async throws -> (any Channel)? {
        guard let address = config.http else { return nil }
        try httpToken.write(to: httpTokenPath)
        let store = dispatcher.store
        let scrape: @Sendable () async -> [UInt8] = { await dispatcher.metrics.scrape(dispatcher: dispatcher) }
        let api = MapAPI(dispatcher: dispatcher), token = httpToken
        let probe: @Sendable () async -> String? = {
            do {
                _ = try await store.lastCompaction(ns: nil)
                return nil
            } catch {
                return (error as? TrailError)?.message ?? "\(error)"
            }
        }
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(HTTPHandler(probe: probe, scrape: scrape, api: api, token: token))
                    }
                }
                .bind(host: address.host, port: address.port)
                .get()
        } catch {
            throw ConfigurationError.invalid("cannot listen for HTTP on \(address) (\(error)); choose another port or address")
        }
    }

    /// SIGHUP re-reads the config file's access rules; connections stay. A
    /// config that does not parse, or names a user or group that is not
    /// there, is logged and the rules in force stay.
    private static func reloadAccess(on hangups: UnixSignalsSequence, config: DaemonConfiguration, access: AccessControl,
                                     logger: Logger) async {
        for await _ in hangups {
            guard let path = config.configFile else {
                logger.notice("SIGHUP: traild was started without --config, so there are no access rules to re-read")
                continue
            }
            do {
                let policy = try DaemonConfiguration.accessRules(reReading: path)
                access.replace(with: policy)
                logger.notice("SIGHUP: access rules re-read", metadata: [
                    "config": "\(path)", "access": "\(policy.rules.map { "\($0.count) rules" } ?? "open to every peer that can connect")",
                ])
            } catch {
                logger.error("SIGHUP: the config was refused and the access rules in force stay: \(error.description)", metadata: ["config": "\(path)"])
            }
        }
    }

    /// The socket's folder: the owner's, and searchable by the group or
    /// by everyone when the socket is open to them.
    private var socketFolderMode: mode_t {
        let mode = config.effectiveSocketMode
        return 0o700 | (mode & 0o060 != 0 ? 0o050 : 0) | (mode & 0o006 != 0 ? 0o005 : 0)
    }

    /// `socket_mode` (0600 by default, 0660 with `socket_group`) and the
    /// socket's group; the folder gets the matching mode and group only when
    /// the daemon created it (an operator's folder keeps its own).
    private func setSocketPermissions(folderIsOurs: Bool) throws {
        var gid: gid_t = getgid()
        if let groupName = config.socketGroup {
            guard let found = SystemAccounts.gid(ofGroup: groupName) else {
                throw ConfigurationError.invalid("socket_group \(groupName.debugDescription) is not a group on this machine")
            }
            gid = found
        }
        if folderIsOurs {
            let dir = URL(fileURLWithPath: config.socketPath).deletingLastPathComponent().path
            chown(dir, getuid(), gid)
            chmod(dir, socketFolderMode)
        }
        chown(config.socketPath, getuid(), gid)
        chmod(config.socketPath, config.effectiveSocketMode)
    }
}

/// The open connections, so that shutdown can stop and close them.
final class ChannelRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    /// Adds `channel` until it closes; returns how many are open with it.
    @discardableResult
    func add(_ channel: any Channel) -> Int {
        let id = ObjectIdentifier(channel)
        let open = channels.withLock { channels -> Int in
            channels[id] = channel
            return channels.count
        }
        channel.closeFuture.whenComplete { [self] _ in _ = channels.withLock { $0.removeValue(forKey: id) } }
        return open
    }

    var all: [any Channel] { channels.withLock { Array($0.values) } }
}
