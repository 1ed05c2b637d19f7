import NIOCore
import Synchronization
import TrailCore
import TrailProtocol

/// The watch subscriptions of every connection, and the fan-out of events to
/// them once a write has committed. Under access rules an event reaches a
/// subscription only while its peer may read the namespace: rules made
/// stricter by SIGHUP stop the events of a watch made before.
final class EventHub: Sendable {
    private struct Subscription {
        var ns: String
        var tags: [String]
        var peer: Peer
        var lookup = PeerLookup()
        var connection: ObjectIdentifier { peer.connection }
        var channel: any Channel { peer.channel }
    }

    private let subscriptions = Mutex<[String: Subscription]>([:])
    private let counter = Atomic<UInt64>(0)
    private let access: AccessControl

    init(access: AccessControl) { self.access = access }

    /// Registers a subscription for `peer`'s connection; returns its id.
    func watch(ns: String, tags: [String], peer: Peer) -> String {
        let id = "s\(counter.add(1, ordering: .relaxed).newValue)"
        subscriptions.withLock { $0[id] = Subscription(ns: ns, tags: tags, peer: peer) }
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

    /// Drops every subscription of a closed connection.
    func closed(connection: ObjectIdentifier) {
        subscriptions.withLock { subs in subs = subs.filter { $0.value.connection != connection } }
    }

    /// Whether any subscription watches namespace `ns`.
    func watches(ns: String) -> Bool {
        subscriptions.withLock { subs in subs.values.contains { $0.ns == ns } }
    }

    /// Sends `event` about `note` to every matching subscription.
    func publish(_ event: String, note: Note, extra: JSONObject = [:]) {
        let rules = access.current
        let targets = subscriptions.withLock { subs in
            var targets: [(id: String, channel: any Channel)] = []
            for (id, sub) in subs where sub.ns == note.ns && sub.tags.allSatisfy(note.tags.contains) {
                if !rules.policy.isOpen {
                    let peer = subs[id]!.lookup.identity(of: sub.peer, generation: rules.generation)
                    guard rules.policy.right(of: peer, in: note.ns) != nil else { continue }
                }
                targets.append((id, sub.channel))
            }
            return targets
        }
        guard !targets.isEmpty else { return }
        let noteJSON = Wire.note(note)
        for target in targets {
            var params: JSONObject = ["subscription": .string(target.id), "event": .string(event), "note": noteJSON]
            for member in extra { params[member.key] = member.value }
            target.channel.writeAndFlush(Outgoing.json(RPCResponse.notification(method: TrailMethod.event, params: params)), promise: nil)
        }
    }
}
