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
        var ledger: ListenerLedger?
        var pause = 0.25
        while !Task.isCancelled {
            do {
                let connection = try await connector.connect(settings: PostgresConnection.serverTimeouts(after: statementTimeout))
                pause = 0.25
                defer { connection.closeDetached() }
                try await connection.listen(on: WriteSignal.channel) { notifications in
                    // Listening from here on: what commits now is signalled;
                    // what committed before is in the log.
                    let top = try await highestSeq(on: connection)
                    if var known = ledger {
                        try await catchUp(&known, through: top, watching: watching(), deliver: deliver, missed: missed)
                        ledger = known
                    } else {
                        ledger = ListenerLedger(settle: settle, top: top)
                    }
                    ledger?.mark(top, at: Self.clock())
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            // Ends (throwing) when the connection stops answering.
                            while true {
                                try await Task.sleep(for: heartbeat)
                                _ = try await highestSeq(on: connection)
                            }
                        }
                        for try await notification in notifications {
                            guard let signal = WriteSignal(notification.payload), signal.daemon != daemon else { continue }
                            var known = ledger!
                            known.mark(signal.last, at: Self.clock())
                            known.settle(at: Self.clock())
                            defer { ledger = known }
                            // A failed read ends the connection: what it would have sent
                            // is caught up from the log when the listener is back.
                            try await forward(signal, ledger: &known, watching: watching(), deliver: deliver)
                        }
                        group.cancelAll()
                    }
                }
            } catch {
                if Task.isCancelled { break }
                // Lost now: what settled while it was up was delivered.
                ledger?.settle(at: Self.clock())
                logger.warning("listening for other daemons' writes failed; watchers catch up when it is back",
                               metadata: ["database": "\(connector.location.redacted)",
                                          "error": "\(PostgresFailure.from(error, location: connector.location))"])
            }
            try? await Task.sleep(for: .seconds(pause))
            pause = min(pause * 2, 5)
        }
    }

    /// The write log's highest seq, on the listening connection itself.
    private func highestSeq(on connection: PostgresConnection) async throws -> Int64 {
        let rows = try await connection.query("SELECT coalesce(max(seq), 0) FROM write_log",
                                              timeout: TimeAmount(statementTimeout), logger: logger).get()
        for row in rows { return try row.decode(Int64.self) }
        return 0
    }

    /// The events of one signal's rows, those not delivered yet.
    private func forward(_ signal: WriteSignal, ledger: inout ListenerLedger, watching: Set<String>,
                         deliver: @Sendable (StoreEvent) -> Void) async throws {
        var from = signal.first
        while from <= signal.last {
            let start = from
            let page = try await read { try await $0.loggedEvents(from: start, through: signal.last, me: daemon, daemon: signal.daemon,
                                                                   namespaces: watching, limit: Self.pageRows) }
            hand(page.events, live: true, ledger: &ledger, deliver: deliver)
            guard !page.complete, let last = page.lastRead else { return }
            from = last + 1
        }
    }

    /// After the connection was down: the rows above the ledger's floor, up
    /// to `top`, that are not delivered yet; or a gap when there are more
    /// than `catchUpLimit`.
    private func catchUp(_ ledger: inout ListenerLedger, through top: Int64, watching: Set<String>,
                         deliver: @Sendable (StoreEvent) -> Void, missed: @Sendable (EventGap) -> Void) async throws {
        let first = ledger.floor + 1
        guard first <= top else { return }
        guard !watching.isEmpty else {
            // Nobody to send them to: a watcher that comes later starts from here.
            ledger.skip(through: top)
            return
        }
        let page = try await read { try await $0.loggedEvents(from: first, through: top, me: daemon, namespaces: watching, limit: catchUpLimit) }
        if page.complete {
            hand(page.events, live: false, ledger: &ledger, deliver: deliver)
            logger.info("caught up on other daemons' writes after the listening connection was back",
                        metadata: ["from": "\(first)", "through": "\(top)", "events": "\(page.events.count)"])
            return
        }
        let namespaces = try await read { try await $0.loggedNamespaces(from: first, through: top, me: daemon, namespaces: watching) }
        ledger.skip(through: top)
        missed(EventGap(first: first, last: top, namespaces: namespaces))
        logger.warning("too many of other daemons' writes to catch up on; watchers are told of the gap",
                       metadata: ["from": "\(first)", "through": "\(top)", "limit": "\(catchUpLimit)"])
    }

    private func hand(_ events: [StoreEvent], live: Bool, ledger: inout ListenerLedger, deliver: @Sendable (StoreEvent) -> Void) {
        var previous: Int64?
        for event in events {
            guard let seq = event.seq else { continue }
            // The notes of one evaporation share their row's seq.
            guard seq == previous || (live ? ledger.isUnsent(seq) : ledger.isNew(seq)) else { continue }
            ledger.deliver(seq)
            previous = seq
            deliver(event)
        }
    }

    private func read<T: Sendable>(_ body: @Sendable (PostgresReads) async throws -> T) async throws -> T {
        try await pool.withConnection { connection in
            try await body(PostgresReads(connection: connection, logger: logger, contested: contested, timeout: pool.statementTimeout))
        }
    }

    private static func clock() -> Double { ProcessInfo.processInfo.systemUptime }
}
