import Metrics
import NIOCore
import NIOHTTP1
import Synchronization
import TrailCore
import TrailProtocol
import TrailStore

/// The watch subscriptions of every connection, and the fan-out of events to
/// them once a write has committed. Under access rules an event reaches a
/// subscription only while its peer may read the namespace: rules made
/// stricter by SIGHUP stop the events of a watch made before.
final class EventHub: Sendable {
    /// How a subscription's events are written to its connection.
    enum Format: Sendable {
        /// `trail.event` notifications on the socket's JSON-RPC connection.
        case notification
        /// Server-sent events on an HTTP response (the trail map): `event:
        /// trail`, `data:` the notification's params.
        case serverSent
    }

    private struct Subscription {
        var ns: String
        var tags: [String]
        var peer: Peer
        var format: Format = .notification
        var lookup = PeerLookup()
        /// Events dropped since the last one sent (the connection did not read).
        var dropped = 0
        var connection: ObjectIdentifier { peer.connection }
        var channel: any Channel { peer.channel }
    }

    private let subscriptions = Mutex<[String: Subscription]>([:])
    private let counter = Atomic<UInt64>(0)
    private let droppedTotal = Atomic<Int>(0)
    /// The same count in /metrics.
    private let droppedCounter = Metrics.Counter(label: "trail_watch_events_dropped_total")
    private let access: AccessControl

    init(access: AccessControl) { self.access = access }

    /// Registers a subscription for `peer`'s connection; returns its id.
    func watch(ns: String, tags: [String], peer: Peer, format: Format = .notification) -> String {
        let id = "s\(counter.add(1, ordering: .relaxed).newValue)"
        subscriptions.withLock { $0[id] = Subscription(ns: ns, tags: tags, peer: peer, format: format) }
        return id
    }

    /// Removes a subscription of this connection; false if it has none by that id.
    func unwatch(_ id: String, connection: ObjectIdentifier) -> Bool {
        subscriptions.withLock { subs in
            guard subs[id]?.connection == connection else { return false }
            subs[id] = nil
            return true
        }
    }

    /// Subscriptions open now.
    var count: Int { subscriptions.withLock { $0.count } }

    /// Events dropped since the daemon started, because their watcher's
    /// connection had a full backlog (`EventBacklog`).
    var dropped: Int { droppedTotal.load(ordering: .relaxed) }

    /// Drops every subscription of a closed connection.
    func closed(connection: ObjectIdentifier) {
        subscriptions.withLock { subs in subs = subs.filter { $0.value.connection != connection } }
    }

    /// The namespaces watched now.
    var namespaces: Set<String> {
        subscriptions.withLock { Set($0.values.map(\.ns)) }
    }

    /// Tells every subscription of `gap.namespaces` (that may still read
    /// it) that other daemons' writes from `gap.first` to `gap.last` could
    /// not be replayed: a `trail.gap` notification `{subscription, from,
    /// to}`. The watcher senses afresh.
    func publish(_ gap: EventGap) {
        let rules = access.current
        let targets = subscriptions.withLock { subs in
            subs.compactMap { (id, sub) -> (String, any Channel, Format)? in
                guard gap.namespaces.contains(sub.ns), Self.mayRead(sub.ns, id: id, in: &subs, rules: rules) else { return nil }
                return (id, sub.channel, sub.format)
            }
        }
        for (id, channel, format) in targets {
            let params: JSONObject = ["subscription": .string(id), "from": .int(Int(gap.first)), "to": .int(Int(gap.last))]
            Self.send(TrailMethod.gap, sse: "gap", params: params, to: channel, format: format, promise: nil)
        }
    }

    /// Whether subscription `id`'s peer may read `ns` under `rules` (its
    /// identity looked up once per rules generation).
    private static func mayRead(_ ns: String, id: String, in subs: inout [String: Subscription], rules: AccessControl.Snapshot) -> Bool {
        guard !rules.policy.isOpen, let sub = subs[id] else { return true }
        let peer = subs[id]!.lookup.identity(of: sub.peer, generation: rules.generation)
        return rules.policy.right(of: peer, in: ns) != nil
    }

    /// Writes a notification `method` with `params`: a JSON-RPC line on a
    /// socket, or a server-sent event named `sse` on the trail map's stream.
    private static func send(_ method: String, sse: String, params: JSONObject, to channel: any Channel, format: Format,
                             promise: EventLoopPromise<Void>?) {
        switch format {
        case .notification:
            channel.writeAndFlush(Outgoing.json(RPCResponse.notification(method: method, params: params)), promise: promise)
        case .serverSent:
            let text = "event: \(sse)\ndata: " + String(decoding: JSONWriter.bytes(.object(params)), as: UTF8.self) + "\n\n"
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(string: text))), promise: promise)
        }
    }

    /// Whether any subscription watches namespace `ns`.
    func watches(ns: String) -> Bool {
        subscriptions.withLock { subs in subs.values.contains { $0.ns == ns } }
    }

    /// Sends `event` about `note` to every matching subscription whose
    /// connection has room for it; for the others the event is dropped and
    /// counted, and their next event carries `dropped`: how many they missed.
    func publish(_ event: String, note: Note, extra: JSONObject = [:]) {
        let rules = access.current
        // What the event will take in memory until written: near its encoded size.
        let size = 512 + note.body.utf8.count + note.tags.reduce(0) { $0 + $1.utf8.count + 3 } + 70 * note.after.count
        let targets = subscriptions.withLock { subs in
            var targets: [(id: String, channel: any Channel, backlog: EventBacklog, missed: Int, format: Format)] = []
            for (id, sub) in subs where sub.ns == note.ns && sub.tags.allSatisfy(note.tags.contains) {
                guard Self.mayRead(note.ns, id: id, in: &subs, rules: rules) else { continue }
                guard sub.peer.backlog.reserve(size) else {
                    subs[id]!.dropped += 1
                    droppedTotal.add(1, ordering: .relaxed)
                    droppedCounter.increment()
                    continue
                }
                targets.append((id, sub.channel, sub.peer.backlog, sub.dropped, sub.format))
                subs[id]!.dropped = 0
            }
            return targets
        }
        guard !targets.isEmpty else { return }
        let noteJSON = Wire.note(note)
        for target in targets {
            var params: JSONObject = ["subscription": .string(target.id), "event": .string(event), "note": noteJSON]
            for member in extra { params[member.key] = member.value }
            if target.missed > 0 { params["dropped"] = .int(target.missed) }
            let written = target.channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { [backlog = target.backlog] _ in backlog.release(size) }
            Self.send(TrailMethod.event, sse: "trail", params: params, to: target.channel, format: target.format, promise: written)
        }
    }
}
