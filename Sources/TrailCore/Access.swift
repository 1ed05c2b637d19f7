/// A right over a namespace (contract §10). Each implies the ones below it:
/// `admin` implies `write`, `write` implies `read`.
public enum AccessRight: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    case read = 1
    case write = 2
    case admin = 3

    public static func < (a: AccessRight, b: AccessRight) -> Bool { a.rawValue < b.rawValue }

    /// `read`, `write` or `admin`: the config's key and `data.right`.
    public var description: String {
        switch self {
        case .read: "read"
        case .write: "write"
        case .admin: "admin"
        }
    }
}

/// Who a rule grants a right to, with names already looked up in the
/// system's user and group databases (the server does that: no I/O here).
public enum Principal: Equatable, Hashable, Sendable {
    case uid(UInt32)
    case gid(UInt32)
    /// `*`: any peer.
    case anyone

    /// Whether `peer` is this principal.
    public func includes(_ peer: PeerIdentity) -> Bool {
        switch self {
        case let .uid(uid): peer.uid == uid
        case let .gid(gid): peer.gids.contains(gid)
        case .anyone: true
        }
    }
}

/// A peer of the socket as the access rules see it: its uid (SO_PEERCRED)
/// and every group it is in (its primary gid and the system's group
/// database), with its user name for messages.
public struct PeerIdentity: Sendable, Equatable {
    public var uid: UInt32
    public var gids: Set<UInt32>
    public var name: String?

    public init(uid: UInt32, gids: Set<UInt32>, name: String?) {
        self.uid = uid
        self.gids = gids
        self.name = name
    }

    /// `user alice (uid 1001)`, or `uid 1001` for a uid without a name.
    public var description: String {
        name.map { "user \($0) (uid \(uid))" } ?? "uid \(uid)"
    }
}

/// A namespace pattern of an access rule: `*` matches any run of
/// characters, `?` exactly one; everything else matches itself.
public struct NamespaceGlob: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    private let pieces: [UInt8]

    public init(_ pattern: String) {
        self.pattern = pattern
        pieces = Array(pattern.utf8)
    }

    public var description: String { pattern }

    /// Whether `ns` matches: iterative, with one backtrack point for the last `*`.
    public func matches(_ ns: String) -> Bool {
        let text = Array(ns.utf8)
        var p = 0, t = 0
        var star: Int?, resume = 0
        while t < text.count {
            if p < pieces.count, pieces[p] == UInt8(ascii: "?") || pieces[p] == text[t] && pieces[p] != UInt8(ascii: "*") {
                p += 1
                t += 1
            } else if p < pieces.count, pieces[p] == UInt8(ascii: "*") {
                star = p
                resume = t
                p += 1
            } else if let s = star {
                p = s + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pieces.count, pieces[p] == UInt8(ascii: "*") { p += 1 }
        return p == pieces.count
    }
}

/// One entry of the config's `access` list: who holds which right over the
/// namespaces its glob matches.
public struct AccessRule: Sendable, Equatable {
    public var ns: NamespaceGlob
    public var read: [Principal]
    public var write: [Principal]
    public var admin: [Principal]

    public init(ns: NamespaceGlob, read: [Principal] = [], write: [Principal] = [], admin: [Principal] = []) {
        self.ns = ns
        self.read = read
        self.write = write
        self.admin = admin
    }

    /// The strongest right this rule gives `peer`, if any.
    public func right(of peer: PeerIdentity) -> AccessRight? {
        if admin.contains(where: { $0.includes(peer) }) { return .admin }
        if write.contains(where: { $0.includes(peer) }) { return .write }
        if read.contains(where: { $0.includes(peer) }) { return .read }
        return nil
    }
}

/// The access rules in force (contract §10). Without rules (`open`) every
/// peer holds every right; with them, the first rule whose glob matches a
/// namespace decides for it, and a namespace no rule matches is closed. The
/// daemon's own uid and root hold every right either way.
public struct AccessPolicy: Sendable, Equatable {
    /// nil: the config has no `access` key.
    public let rules: [AccessRule]?
    /// The daemon's uid.
    public let owner: UInt32

    public init(rules: [AccessRule]?, owner: UInt32) {
        self.rules = rules
        self.owner = owner
    }

    /// Every peer may do everything.
    public var isOpen: Bool { rules == nil }

    /// Whether `uid` holds every right whatever the rules say.
    public func isPrivileged(_ uid: UInt32) -> Bool { uid == 0 || uid == owner }

    /// The strongest right `peer` holds over `ns`, or nil for none.
    public func right(of peer: PeerIdentity, in ns: String) -> AccessRight? {
        guard let rules, !isPrivileged(peer.uid) else { return .admin }
        return rules.first { $0.ns.matches(ns) }?.right(of: peer)
    }

    /// Throws `permissionDenied` unless `peer` holds `right` over `ns`.
    public func require(_ right: AccessRight, in ns: String, by peer: PeerIdentity) throws(TrailError) {
        guard let held = self.right(of: peer, in: ns), held >= right else {
            throw .permissionDenied(ns: ns, right: right, peer: peer.description)
        }
    }
}
