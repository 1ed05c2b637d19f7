import Foundation
import NIOCore
import Synchronization
import TrailCompactor
import TrailCore
import TrailProtocol
import TrailStore

/// What carrying out a call takes: a write queued on the store in arrival
/// order, a read of the store (on the event loop when it is bounded and the
/// store can read synchronously), or an answer known at once.
enum Plan: Sendable {
    case write(WriteRequest, Writer)
    /// A read of the store's async kind (a round trip to the database),
    /// answered as `inlineRead`'s are: a `sense` or `follow` without a
    /// `JSONValue` tree in between.
    case read(@Sendable () async throws(TrailError) -> ReadResult)
    /// A bounded read the connection answers on its own event loop, on the
    /// store's synchronous read: no hop to another thread and back.
    case inlineRead(@Sendable () throws(TrailError) -> ReadResult)
    /// A read of the store's synchronous kind that may walk much of it (a
    /// full-text or tag-filtered `sense`): run on NIO's blocking thread pool
    /// so it never holds up the event loop's other connections, then
    /// answered on the loop. Two thread hops, where the async path takes
    /// four (a task, the reader queue, the task again, the loop).
    case blockingRead(@Sendable () throws(TrailError) -> ReadResult)
    case immediate(Result<JSONValue, TrailError>)

    /// A read whose answer is a JSON value.
    static func readJSON(_ body: @escaping @Sendable () async throws(TrailError) -> JSONValue) -> Plan {
        .read { () async throws(TrailError) -> ReadResult in .json(try await body()) }
    }
}

/// What a read answers: a JSON value, or the notes of a `sense` or the
/// steps of a `follow`, which the codec writes without a `JSONValue` tree in
/// between (`JSONText.writeSuccess`).
enum ReadResult: Sendable {
    case json(JSONValue)
    case scoredNotes([ScoredNote])
    /// A `follow`'s steps, and the seed it answers with.
    case followed(FollowResult, seed: UInt64)

    /// The result as a JSON value: the shape `JSONText.writeSuccess` writes directly.
    var json: JSONValue {
        switch self {
        case let .json(value): value
        case let .scoredNotes(notes): .object(["notes": .array(notes.map(Wire.scored))])
        case let .followed(result, seed):
            .object(["from": .string(result.from.hex), "trails": .array(result.steps.map(Wire.step)), "seed": .int(Int(seed))])
        }
    }
}

/// Who is on the other end of a connection.
struct Peer: Sendable {
    var uid: UInt32?
    var gid: UInt32?
    var pid: Int32?
    var connection: ObjectIdentifier
    var channel: any Channel
    /// The room this connection's watch events may take before they are dropped.
    var backlog: EventBacklog
}

/// The rules a call was let through under and the peer they saw, for the
/// calls whose answer depends on them (`namespace.list`, `compact` without
/// `ns`). nil when every peer may do everything.
struct Grant: Sendable {
    var policy: AccessPolicy
    var peer: PeerIdentity
}

/// Turns calls into plans and write outcomes into results and events. Shared
/// by every connection; holds no per-connection state.
final class Dispatcher: Sendable {
    let store: any TrailStore
    let hub: EventHub
    /// The access rules in force (contract §10).
    let access: AccessControl
    /// What /metrics shows (off without an HTTP listener).
    let metrics: DaemonMetrics
    let startedAt = Date()
    let connections = Atomic<Int>(0)
    /// Queued writes beyond which new writes are answered `overloaded`.
    let maxQueuedWrites: Int
    /// Bytes of watch events one connection may have unwritten before its events are dropped.
    let watchBacklogBytes: Int

    /// The frame limit in force, reported by `trail.hello`.
    let maxFrameBytes: Int
    let compactor: Compactor
    /// Recall by meaning, or why there is none (for -32010's message).
    let recall: Result<Recall, SemanticOff>

    init(store: any TrailStore, maxFrameBytes: Int, compaction: CompactorSettings, maxQueuedWrites: Int = 100_000,
         recall: Result<Recall, SemanticOff> = .failure(SemanticOff("recall by meaning is turned off")),
         access: AccessControl = AccessControl(AccessPolicy(rules: nil, owner: getuid())),
         watchBacklogBytes: Int = DaemonConfiguration.defaultWatchBacklogBytes,
         metrics: DaemonMetrics = DaemonMetrics(registry: nil)) {
        self.watchBacklogBytes = watchBacklogBytes
        self.metrics = metrics
        self.store = store
        self.access = access
        hub = EventHub(access: access)
        self.maxFrameBytes = maxFrameBytes
        self.recall = recall
        let hub = self.hub
        let indexed = try? recall.get()
        // With the model, evaporations always report their notes: they leave the index.
        compactor = Compactor(store: store, settings: compaction, watching: { hub.watches(ns: $0) || indexed != nil },
                              releaseMemory: ProcessMemory.releaseFreed) { notes in
            indexed?.evaporated(notes)
            for note in notes { hub.publish("evaporated", note: note) }
        }
        self.maxQueuedWrites = maxQueuedWrites
        // Writes made through other daemons over the same database.
        store.forwardEvents(watching: { hub.namespaces }, to: { event in
            var extra: JSONObject = [:]
            if let from = event.trailFrom, let weight = event.trailWeight {
                extra["trail"] = .object(["from": .string(from.hex), "to": .string(event.note.id.hex), "weight": .double(weight)])
            }
            if let seq = event.seq { extra["seq"] = .int(Int(seq)) }
            hub.publish(event.event, note: event.note, extra: extra)
        }, missed: { hub.publish($0) })
    }

    func plan(_ call: Call, peer: Peer, grant: Grant? = nil) -> Plan {
        func writer(_ agent: String?) -> Writer { Writer(agent: agent, uid: peer.uid, pid: peer.pid) }
        let store = self.store
        switch call {
        case .hello:
            return .immediate(.success(.object([
                "server": "traild", "version": .string(TrailVersion.current), "protocol": 1,
                "store": .string(store.engine), "database": .string(store.database), "limits": Wire.limits(maxFrameBytes: maxFrameBytes), "defaults": Wire.defaults,
                "semantic": (try? recall.get())?.hello ?? .null,
            ])))
        case let .deposit(d, agent):
            guard let threshold = d.mergeSimilar else { return .write(.deposit(d), writer(agent)) }
            let recall: Recall
            switch self.recall.mapError({ TrailError.semanticUnavailable($0.why) }) {
            case let .success(r): recall = r
            case let .failure(refusal): return .immediate(.failure(refusal))
            }
            let who = writer(agent)
            return .readJSON { [self] () async throws(TrailError) -> JSONValue in
                guard !writesFull else { throw TrailError.overloaded }
                let merged = try await recall.merge(d, threshold: threshold, writer: who)
                return finish(merged.write, seq: merged.seq, mergeAsked: true, contests: merged.contests)
            }
        case let .reinforce(id, ns, delta, agent): return .write(.reinforce(id: id, ns: ns, delta: delta), writer(agent))
        case let .link(from, to, ns, delta, agent): return .write(.link(from: from, to: to, ns: ns, delta: delta), writer(agent))
        case let .retract(id, ns, reason, agent): return .write(.retract(id: id, ns: ns, reason: reason), writer(agent))
        case let .revive(id, ns, agent): return .write(.revive(id: id, ns: ns), writer(agent))
        case let .configure(change, agent): return .write(.configure(change), writer(agent))
        case let .get(id, ns):
            if let inline = store.inlineReads {
                return .inlineRead { () throws(TrailError) -> ReadResult in .json(Wire.details(try inline.getNow(id, ns: ns))) }
            }
            return .readJSON { () async throws(TrailError) -> JSONValue in
                Wire.details(try await store.get(id, ns: ns))
            }
        case let .sense(q):
            if q.similar != nil {
                switch recall.mapError({ TrailError.semanticUnavailable($0.why) }) {
                case let .success(recall):
                    return .readJSON { () async throws(TrailError) -> JSONValue in
                        .object(["notes": .array(try await recall.sense(q).map(Wire.scoredByMeaning))])
                    }
                case let .failure(refusal): return .immediate(.failure(refusal))
                }
            }
            if let inline = store.inlineReads {
                let read = { @Sendable () throws(TrailError) -> ReadResult in .scoredNotes(try inline.senseNow(q)) }
                // Words (FTS5) and tag filters can read far into the store: those go off the event loop.
                return q.words == nil && q.allTags.isEmpty && q.anyTags.isEmpty ? .inlineRead(read) : .blockingRead(read)
            }
            return .read { () async throws(TrailError) -> ReadResult in
                .scoredNotes(try await store.sense(q))
            }
        case let .follow(q):
            // At most `FollowReader.candidates` trails each way: bounded, so on the event loop.
            if let inline = store.inlineReads {
                return .inlineRead { () throws(TrailError) -> ReadResult in .followed(try inline.followNow(q), seed: q.seed) }
            }
            return .read { () async throws(TrailError) -> ReadResult in .followed(try await store.follow(q), seed: q.seed) }
        case let .stats(ns):
            return .readJSON { [self] () async throws(TrailError) -> JSONValue in
                let summary = try await store.summary(ns: ns)
                var o: JSONObject = ["ns": .string(ns)]
                Wire.counts(summary.counts, into: &o)
                o["total_weight"] = .double(summary.counts.totalWeight)
                o["store_bytes"] = .int(Int(store.storeBytes()))
                o["uptime_s"] = .double((Date().timeIntervalSince(startedAt) * 1000).rounded() / 1000)
                o["connections"] = .int(connections.load(ordering: .relaxed))
                o["watchers"] = .int(hub.count)
                o["events_dropped"] = .int(hub.dropped)
                o["archived_bytes"] = .int(summary.counts.archivedBytes)
                o["compression_ratio"] = summary.counts.archivedBytes > 0
                    ? .double(Double(summary.counts.archivedRawBytes) / Double(summary.counts.archivedBytes)) : .null
                o["compaction"] = try await store.lastCompaction(ns: ns).map(Wire.compaction) ?? .null
                o["embedding"] = (try? recall.get())?.stats(ns: ns, live: summary.counts.live + summary.counts.faded) ?? .null
                return .object(o)
            }
        case .listNamespaces:
            return .readJSON { () async throws(TrailError) -> JSONValue in
                let list = try await store.namespaces().filter { s in
                    grant.map { $0.policy.right(of: $0.peer, in: s.settings.name) != nil } ?? true
                }.map { s -> JSONValue in
                    var o = Wire.settings(s.settings)
                    Wire.counts(s.counts, into: &o)
                    return .object(o)
                }
                return .object(["namespaces": .array(list)])
            }
        case let .compact(ns):
            let compactor = self.compactor
            return .readJSON { () async throws(TrailError) -> JSONValue in
                if ns == nil, let grant {
                    // All namespaces: the peer must administer each (a namespace made meanwhile is compacted too).
                    for s in try await store.namespaces() {
                        try grant.policy.require(.admin, in: s.settings.name, by: grant.peer)
                    }
                }
                let started = Date()
                let reports = try await compactor.compact(ns: ns)
                return .object([
                    "ns": ns.map(JSONValue.string) ?? .null,
                    "evaporated": .int(reports.reduce(0) { $0 + $1.evaporated }),
                    "archived_bytes": .int(reports.reduce(0) { $0 + $1.archivedBytes }),
                    "ranked": .int(reports.reduce(0) { $0 + $1.ranked }),
                    "duration_ms": .int(Int(Date().timeIntervalSince(started) * 1000)),
                ])
            }
        case let .watch(ns, tags):
            let id = hub.watch(ns: ns, tags: tags, peer: peer)
            return .immediate(.success(.object(["subscription": .string(id)])))
        case let .export(ns, cursor, limit):
            return .readJSON { () async throws(TrailError) -> JSONValue in
                let page = try await store.export(ns: ns, after: cursor, limit: limit)
                var settings = Wire.settings(page.settings)
                settings["ns"] = nil
                return .object([
                    "ns": .string(ns), "settings": .object(settings), "exported_at": Wire.time(page.exportedAtMillis),
                    "records": .array(page.records.map(Wire.record)),
                    "cursor": page.cursor.map { .string(String($0)) } ?? .null,
                ])
            }
        case let .importRecords(ns, records, _, _, agent):
            // Staging is the connection's business (RequestDispatcher); what reaches here commits.
            return .write(.restore(ns: ns, records: records), writer(agent))
        case let .unwatch(sub):
            return hub.unwatch(sub, connection: peer.connection)
                ? .immediate(.success(.object(["ok": true])))
                : .immediate(.failure(.unknownSubscription(sub)))
        }
    }

    /// Whether the write queue is full: new writes are answered `overloaded`.
    var writesFull: Bool { store.pendingWrites >= maxQueuedWrites }

    /// The result of a committed write; also tells the watchers and the
    /// index. A deposit that asked `merge_similar` says whether it merged,
    /// and which near notes it contests when it was kept from a merge.
    func finish(_ outcome: WriteOutcome, seq: Int64? = nil, mergeAsked: Bool = false, contests: [NoteID] = []) -> JSONValue {
        (try? recall.get())?.observe(outcome)
        // Events carry their write-log row's seq.
        let logged: JSONObject = seq.map { ["seq": .int(Int($0))] } ?? [:]
        switch outcome {
        case let .merged(note, similarity):
            hub.publish("deposited", note: note, extra: logged)
            return .object(["id": .string(note.id.hex), "ns": .string(note.ns), "created": false,
                            "weight": .double(note.weight), "deposits": .int(note.deposits),
                            "merged": true, "similarity": .double(similarity)])
        case let .deposited(note, created):
            hub.publish("deposited", note: note, extra: logged)
            var o: JSONObject = ["id": .string(note.id.hex), "ns": .string(note.ns), "created": .bool(created),
                                 "weight": .double(note.weight), "deposits": .int(note.deposits)]
            if mergeAsked { o["merged"] = false }
            if !contests.isEmpty { o["contests"] = .array(contests.map { .string($0.hex) }) }
            return .object(o)
        case let .reinforced(note):
            hub.publish("reinforced", note: note, extra: logged)
            return .object(["id": .string(note.id.hex), "weight": .double(note.weight)])
        case let .linked(from, to, weight):
            let trail: JSONValue = .object(["from": .string(from.hex), "to": .string(to.id.hex), "weight": .double(weight)])
            var extra = logged
            extra["trail"] = trail
            hub.publish("linked", note: to, extra: extra)
            return trail
        case let .retracted(note):
            hub.publish("retracted", note: note, extra: logged)
            return .object(["id": .string(note.id.hex), "state": "retracted"])
        case let .revived(note):
            hub.publish("revived", note: note, extra: logged)
            return .object(["note": Wire.note(note)])
        case let .configured(settings):
            return .object(Wire.settings(settings))
        case let .restored(report):
            return .object(["ns": .string(report.ns), "notes": .int(report.notes), "created": .int(report.created),
                            "trails": .int(report.trails)])
        case .evaporated, .marked, .trailsDropped, .swept, .ranked, .rebased, .recorded, .textMaintained, .vectorsStored, .contestsRecorded:
            // The compactor's own writes: never the answer to a client's call.
            return .null
        }
    }
}

/// Why a daemon has no recall by meaning, for -32010's message.
struct SemanticOff: Error {
    let why: String
    init(_ why: String) { self.why = why }
}

/// The daemon's version, reported by `trail.hello`.
public enum TrailVersion {
    public static let current = "0.1.0"
}
