import NIOCore
import Synchronization
import TrailCore
import TrailProtocol

/// The watch subscriptions of every connection, and the fan-out of events to
/// them once a write has committed.
final class EventHub: Sendable {
    private struct Subscription {
        var ns: String
        var tags: [String]
        var channel: any Channel
        var connection: ObjectIdentifier
    }

    private let subscriptions = Mutex<[String: Subscription]>([:])
    private let counter = Atomic<UInt64>(0)

    /// Registers a subscription for `channel`; returns its id.
    func watch(ns: String, tags: [String], channel: any Channel, connection: ObjectIdentifier) -> String {
        let id = "s\(counter.add(1, ordering: .relaxed).newValue)"
        subscriptions.withLock { $0[id] = Subscription(ns: ns, tags: tags, channel: channel, connection: connection) }
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
        let targets = subscriptions.withLock { subs in
            subs.filter { $0.value.ns == note.ns && $0.value.tags.allSatisfy(note.tags.contains) }
                .map { (id: $0.key, channel: $0.value.channel) }
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
