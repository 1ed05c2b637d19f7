import Foundation
import Logging
import NIOCore
import PostgresNIO
import TrailCore
import TrailStore

/// Hands a daemon's watchers the writes other daemons commit to the same
/// database: `LISTEN trail_events` on a connection of its own (named
/// `traild-listen`), and for each signal (`WriteSignal`) the events of the
/// write-log rows it names. While that connection is down nothing arrives;
/// when it is back, the listener catches up from the write log
/// (`ListenerLedger`: each event once, a note's events in order). A
/// catch-up of more than `catchUpLimit` rows is not replayed: the watchers
/// of the namespaces concerned get a gap with its range instead.
///
/// The listening connection is asked for the log's highest seq every
/// `heartbeat`: a connection that no longer answers (a silent partition)
/// is replaced within a statement timeout, rather than listened to in vain.
struct EventListener: Sendable {
    let connector: PostgresConnector
    let pool: ReadPool
    let daemon: String
    let logger: Logger
    let contested: ContestedNamespaces
    let statementTimeout: Duration
    /// Rows a catch-up replays at most.
    let catchUpLimit: Int
    /// Rows one signal's read takes at once.
    static let pageRows = 1_000

    var heartbeat: Duration { min(.seconds(5), statementTimeout / 2) }
    /// `ListenerLedger.settle`: a transaction's statements and COMMIT are
    /// each bounded by the server's statement timeout (the client's + 2 s),
    /// its idle time by half the client's; twice the client's timeout and
    /// 5 s more covers them and a signal's way to the listener.
    var settle: Double {
        let t = statementTimeout * 2 + .seconds(5)
        return Double(t.components.seconds) + Double(t.components.attoseconds) / 1e18
    }

    /// Listens until cancelled, reconnecting at once, then after 0.25 s,
    /// 0.5 s, ... up to 5 s between tries.
    func run(watching: @escaping @Sendable () -> Set<String>, deliver: @escaping @Sendable (StoreEvent) -> Void,
             missed: @escaping @Sendable (EventGap) -> Void) async {
        let book = ListenerBook(settle: settle)
        var pause = 0.25
        while !Task.isCancelled {
            do {
                // Where the watchers' business starts: the log's end when
                // the daemon begins to forward, read once. Every listening
                // connection, the first too, catches up from there, so a
                // write committed before the first connection got to listen
                // (it may be cut before it reads the log's end) is not lost.
                if !book.isOpened { book.open(top: try await logEnd()) }
                let connection = try await connect()
                pause = 0.25
                try await session(on: connection, book: book, watching: watching, deliver: deliver, missed: missed)
            } catch {
                if Task.isCancelled { break }
                let why = (error as? ListeningEnded)?.description ?? "\(PostgresFailure.from(error, location: connector.location))"
                logger.warning("listening for other daemons' writes failed; watchers catch up when it is back",
                               metadata: ["database": "\(connector.location.redacted)", "error": "\(why)"])
            }
            try? await Task.sleep(for: .seconds(pause))
            pause = min(pause * 2, 5)
        }
    }

    /// A new listening connection, or a failure within every host's connect
    /// timeout and a statement timeout more: the listener never waits on a
    /// connect that does not end (a connection that comes too late is closed).
    private func connect() async throws -> PostgresConnection {
        let limit = connector.connectTimeout * connector.location.endpoints.count + statementTimeout
        let loop = connector.eventLoopGroup.next()
        let answer = loop.makePromise(of: PostgresConnection.self)
        let opening = connector.connectFuture(settings: PostgresConnection.serverTimeouts(after: statementTimeout))
        let timer = loop.scheduleTask(in: TimeAmount(limit)) {
            answer.fail(PostgresFailure.unavailable("Opening the listening connection to the database at \(connector.location.redacted) did not end within \(limit)."))
        }
        // The first of the two wins (a second completion is a no-op in NIO).
        answer.completeWith(opening)
        answer.futureResult.whenComplete { _ in timer.cancel() }
        answer.futureResult.whenFailure { _ in opening.whenSuccess { $0.closeDetached() } }
        return try await answer.futureResult.get()
    }

    /// One listening connection's life: ends (throwing) when the connection
    /// closes, stops answering the heartbeat, or a read fails.
    ///
    /// postgres-nio's `listen(on:)` may never return when the connection dies
    /// while LISTEN is in flight (its continuation is dropped with the
    /// channel), and cancelling it cannot help then. So the listening runs
    /// in a task of its own, raced against the connection's close and the
    /// heartbeat; when either wins, the connection is closed and the task
    /// left to end when it may. The book refuses what such a task hands it
    /// after its turn (`ListenerBook.end`).
    private func session(on connection: PostgresConnection, book: ListenerBook,
                         watching: @escaping @Sendable () -> Set<String>, deliver: @escaping @Sendable (StoreEvent) -> Void,
                         missed: @escaping @Sendable (EventGap) -> Void) async throws {
        let turn = book.begin()
        let ended = FirstEnd()
        let listening = Task {
            do {
                try await listen(on: connection, turn: turn, book: book, watching: watching, deliver: deliver, missed: missed)
                ended.end(ListeningEnded(why: .notificationsEnded))
            } catch {
                ended.end(error)
            }
        }
        let began = ContinuousClock.now
        let beating = Task {
            do {
                while true {
                    try await Task.sleep(for: heartbeat)
                    let top = try await highestSeq(on: connection)
                    if book.isListening(turn) {
                        book.mark(turn, top, at: Self.clock())
                    } else if ContinuousClock.now - began > statementTimeout {
                        // A connection that answers but never got to listen.
                        throw ListeningEnded(why: .neverListened)
                    }
                }
            } catch {
                ended.end(error)
            }
        }
        // The listening task ends with the close's cause when it can; a
        // fifth of a second later the close ends the session anyway.
        connection.closeFuture.whenComplete { _ in
            connection.eventLoop.scheduleTask(in: .milliseconds(200)) { ended.end(ListeningEnded(why: .closed)) }
        }
        defer {
            listening.cancel()
            beating.cancel()
            connection.closeDetached()
            // Lost now: what settled while it was up was delivered.
            book.end(turn, at: Self.clock())
        }
        try await ended.wait()
    }

    /// LISTEN, catch up on what was missed while no connection listened,
    /// then forward each signal's events.
    private func listen(on connection: PostgresConnection, turn: Int, book: ListenerBook,
                        watching: @escaping @Sendable () -> Set<String>, deliver: @escaping @Sendable (StoreEvent) -> Void,
                        missed: @escaping @Sendable (EventGap) -> Void) async throws {
        try await connection.listen(on: WriteSignal.channel) { notifications in
            // Listening from here on: what commits now is signalled; what
            // committed before is in the log.
            let top = try await highestSeq(on: connection)
            if let floor = book.start(turn, top: top, at: Self.clock()) {
                try await catchUp(from: floor + 1, through: top, turn: turn, book: book, watching: watching(),
                                  deliver: deliver, missed: missed)
            }
            for try await notification in notifications {
                guard let signal = WriteSignal(notification.payload), signal.daemon != daemon else { continue }
                book.mark(turn, signal.last, at: Self.clock())
                // A failed read ends the connection: what it would have sent
                // is caught up from the log when the listener is back.
                try await forward(signal, turn: turn, book: book, watching: watching(), deliver: deliver)
            }
        }
    }

    /// The write log's highest seq, on the listening connection itself.
    private func highestSeq(on connection: PostgresConnection) async throws -> Int64 {
        let rows = try await connection.query("SELECT coalesce(max(seq), 0) FROM write_log",
                                              timeout: TimeAmount(statementTimeout), logger: logger).get()
        for row in rows { return try row.decode(Int64.self) }
        return 0
    }

    /// The write log's highest seq, on a connection of the pool.
    private func logEnd() async throws -> Int64 {
        try await read { reads in
            try await reads.rows("SELECT coalesce(max(seq), 0) FROM write_log").first.map { try $0[0].decode(Int64.self) } ?? 0
        }
    }

    /// The events of one signal's rows, those not delivered yet.
    private func forward(_ signal: WriteSignal, turn: Int, book: ListenerBook, watching: Set<String>,
                         deliver: @Sendable (StoreEvent) -> Void) async throws {
        var from = signal.first
        while from <= signal.last {
            let start = from
            let page = try await read { try await $0.loggedEvents(from: start, through: signal.last, me: daemon, daemon: signal.daemon,
                                                                   namespaces: watching, limit: Self.pageRows) }
            try book.hand(page.events, live: true, turn: turn, deliver: deliver)
            guard !page.complete, let last = page.lastRead else { return }
            from = last + 1
        }
    }

    /// After no connection listened: the rows from `first` (above the
    /// book's floor) to `top` that are not delivered yet; or a gap when
    /// there are more than `catchUpLimit`.
    private func catchUp(from first: Int64, through top: Int64, turn: Int, book: ListenerBook, watching: Set<String>,
                         deliver: @Sendable (StoreEvent) -> Void, missed: @Sendable (EventGap) -> Void) async throws {
        guard first <= top else { return }
        guard !watching.isEmpty else {
            // Nobody to send them to: a watcher that comes later starts from here.
            try book.skip(through: top, turn: turn)
            return
        }
        let page = try await read { try await $0.loggedEvents(from: first, through: top, me: daemon, namespaces: watching, limit: catchUpLimit) }
        if page.complete {
            try book.hand(page.events, live: false, turn: turn, deliver: deliver)
            logger.info("caught up on other daemons' writes after the listening connection was back",
                        metadata: ["from": "\(first)", "through": "\(top)", "events": "\(page.events.count)"])
            return
        }
        let namespaces = try await read { try await $0.loggedNamespaces(from: first, through: top, me: daemon, namespaces: watching) }
        try book.skip(through: top, turn: turn)
        missed(EventGap(first: first, last: top, namespaces: namespaces))
        logger.warning("too many of other daemons' writes to catch up on; watchers are told of the gap",
                       metadata: ["from": "\(first)", "through": "\(top)", "limit": "\(catchUpLimit)"])
    }

    private func read<T: Sendable>(_ body: @Sendable (PostgresReads) async throws -> T) async throws -> T {
        try await pool.withConnection { connection in
            try await body(PostgresReads(connection: connection, logger: logger, contested: contested, timeout: pool.statementTimeout))
        }
    }

    private static func clock() -> Double { ProcessInfo.processInfo.systemUptime }
}
