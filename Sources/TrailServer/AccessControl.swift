import Synchronization
import TrailCore

/// The access rules in force, replaced whole when SIGHUP re-reads the
/// config. Each replacement has a new generation, so that a connection
/// knows to look its peer's groups up again.
final class AccessControl: Sendable {
    struct Snapshot: Sendable {
        var policy: AccessPolicy
        var generation: Int
    }

    private let state: Mutex<Snapshot>

    init(_ policy: AccessPolicy) { state = Mutex(Snapshot(policy: policy, generation: 0)) }

    var current: Snapshot { state.withLock { $0 } }

    func replace(with policy: AccessPolicy) {
        state.withLock { $0 = Snapshot(policy: policy, generation: $0.generation + 1) }
    }
}

/// One connection's peer as the rules see it, looked up in the user and
/// group databases when first needed under a set of rules and again after
/// the rules change (so SIGHUP also picks up changed group memberships).
struct PeerLookup {
    private var cached: (generation: Int, identity: PeerIdentity)?

    /// The identity of `peer` under the rules of `generation`.
    mutating func identity(of peer: Peer, generation: Int) -> PeerIdentity {
        if let cached, cached.generation == generation { return cached.identity }
        // Credentials unknown (never seen on a Unix socket): a peer only `*` covers.
        let identity = peer.uid.map { SystemAccounts.identity(uid: $0, gid: peer.gid) }
            ?? PeerIdentity(uid: UInt32.max, gids: [], name: nil)
        cached = (generation, identity)
        return identity
    }
}
