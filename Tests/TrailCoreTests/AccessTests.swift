import Testing
@testable import TrailCore

@Suite("Access rules")
struct AccessTests {
    @Test("globs: * any run, ? one character, the rest itself",
          arguments: [
              ("*", "default", true), ("*", "a", true), ("team-*", "team-a", true), ("team-*", "team-", true),
              ("team-*", "team", false), ("team-*", "xteam-a", false), ("t?am", "team", true), ("t?am", "tam", false),
              ("*-log", "build-log", true), ("*-log", "build-logs", false), ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false),
              ("a*b*c", "abcbc", true), ("default", "default", true), ("default", "default2", false), ("**", "x", true),
              ("?*", "", false), ("*?", "a", true), ("a.b", "a.b", true), ("a.b", "axb", false),
          ])
    func globs(pattern: String, ns: String, matches: Bool) {
        #expect(NamespaceGlob(pattern).matches(ns) == matches, "\(pattern) vs \(ns)")
    }

    let alice = PeerIdentity(uid: 1001, gids: [1001, 500], name: "alice")
    let bob = PeerIdentity(uid: 1002, gids: [1002, 500], name: "bob")
    let carol = PeerIdentity(uid: 1003, gids: [1003], name: "carol")

    /// The contract's example, with the agents group as gid 500 and alice as uid 1001.
    var policy: AccessPolicy {
        AccessPolicy(rules: [
            AccessRule(ns: NamespaceGlob("team-*"), read: [.gid(500)], write: [.gid(500)], admin: [.uid(1001)]),
            AccessRule(ns: NamespaceGlob("*"), read: [.anyone]),
        ], owner: 4242)
    }

    /// The error `body` throws, or nil.
    func refusal(_ body: () throws(TrailError) -> Void) -> TrailError? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    @Test("the first matching rule decides; admin implies write implies read")
    func firstRuleDecides() throws {
        #expect(policy.right(of: alice, in: "team-a") == .admin)
        #expect(policy.right(of: bob, in: "team-a") == .write)
        #expect(policy.right(of: carol, in: "team-a") == nil)
        #expect(policy.right(of: carol, in: "default") == .read)
        try policy.require(.read, in: "team-a", by: alice)
        try policy.require(.write, in: "team-a", by: alice)
        try policy.require(.read, in: "team-a", by: bob)
        #expect(refusal { () throws(TrailError) in try policy.require(.admin, in: "team-a", by: bob) }
            == .permissionDenied(ns: "team-a", right: .admin, peer: "user bob (uid 1002)"))
        #expect(refusal { () throws(TrailError) in try policy.require(.write, in: "default", by: carol) }
            == .permissionDenied(ns: "default", right: .write, peer: "user carol (uid 1003)"))
    }

    @Test("the daemon's uid and root hold every right; no access key opens everything; no matching rule closes")
    func privilegedAndOpen() {
        let owner = PeerIdentity(uid: 4242, gids: [], name: nil)
        let root = PeerIdentity(uid: 0, gids: [0], name: "root")
        let closed = AccessPolicy(rules: [], owner: 4242)
        #expect(closed.right(of: owner, in: "x") == .admin && closed.right(of: root, in: "x") == .admin)
        #expect(closed.right(of: alice, in: "x") == nil)
        let open = AccessPolicy(rules: nil, owner: 4242)
        #expect(open.isOpen && open.right(of: carol, in: "anything") == .admin)
        let teamOnly = AccessPolicy(rules: [AccessRule(ns: NamespaceGlob("team-*"), read: [.anyone])], owner: 4242)
        #expect(teamOnly.right(of: alice, in: "default") == nil)
    }

    @Test("the refusal names the peer, the namespace and the right, and says what to do")
    func refusalMessage() {
        let error = TrailError.permissionDenied(ns: "team-a", right: .write, peer: "uid 77")
        #expect(error.code == -32003 && error.reason == "permission_denied")
        #expect(error.message.hasPrefix("Uid 77 lacks the write right in namespace team-a;"))
    }
}
