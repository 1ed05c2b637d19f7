import Foundation
import Glibc
import TrailCore

/// Reads the config's `access` list (contract §10) into an `AccessPolicy`,
/// looking names up in the system's user and group databases. A name that
/// is not there is refused: a rule that silently grants nothing is worse
/// than a daemon that says why it will not start (or keeps its rules on SIGHUP).
enum AccessConfiguration {
    /// `value` is the JSON of the `access` key; `path` is the config file, for messages.
    static func policy(from value: Any, path: String, owner: UInt32 = getuid()) throws(ConfigurationError) -> AccessPolicy {
        guard let list = value as? [Any] else {
            throw .invalid("access in \(path) must be a list of rules such as {\"ns\": \"team-*\", \"read\": [\"group:agents\"]}")
        }
        var rules: [AccessRule] = []
        for (index, item) in list.enumerated() {
            rules.append(try rule(item, number: index + 1, path: path))
        }
        return AccessPolicy(rules: rules, owner: owner)
    }

    private static func rule(_ item: Any, number: Int, path: String) throws(ConfigurationError) -> AccessRule {
        let at = "access rule \(number) in \(path)"
        guard let object = item as? [String: Any] else { throw .invalid("\(at) must be an object with ns and read, write or admin") }
        let known: Set = ["ns", "read", "write", "admin"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalid("\(at) has an unknown key \(unknown.debugDescription); a rule takes ns, read, write and admin")
        }
        guard let ns = object["ns"] as? String else { throw .invalid("\(at) needs ns, a namespace or a glob such as \"team-*\"") }
        guard isGlob(ns) else {
            throw .invalid("\(at) has ns \(ns.debugDescription); use namespace characters (a-z 0-9 . _ -) with * and ?")
        }
        func principals(_ key: String) throws(ConfigurationError) -> [Principal] {
            guard let raw = object[key] else { return [] }
            guard let names = raw as? [Any] else { throw .invalid("\(key) of \(at) must be a list such as [\"group:agents\", \"user:alice\"]") }
            var out: [Principal] = []
            for name in names {
                guard let text = name as? String else { throw .invalid("\(key) of \(at) must hold strings such as \"group:agents\"") }
                out.append(try principal(text, at: "\(key) of \(at)"))
            }
            return out
        }
        return AccessRule(ns: NamespaceGlob(ns), read: try principals("read"), write: try principals("write"), admin: try principals("admin"))
    }

    /// Namespace characters and the glob's `*` and `?`, 1 to 64 of them.
    private static func isGlob(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "*") || c == UInt8(ascii: "?")
        }
    }

    /// `user:NAME`, `uid:N`, `group:NAME`, `gid:N` or `*`.
    static func principal(_ text: String, at: String) throws(ConfigurationError) -> Principal {
        if text == "*" { return .anyone }
        guard let colon = text.firstIndex(of: ":") else {
            throw .invalid("\(at) has \(text.debugDescription); a principal is user:NAME, uid:N, group:NAME, gid:N or *")
        }
        let kind = text[..<colon], name = String(text[text.index(after: colon)...])
        switch kind {
        case "user":
            guard let uid = SystemAccounts.uid(ofUser: name) else { throw .invalid("\(at) names user:\(name), who is not a user on this machine") }
            return .uid(uid)
        case "group":
            guard let gid = SystemAccounts.gid(ofGroup: name) else { throw .invalid("\(at) names group:\(name), which is not a group on this machine") }
            return .gid(gid)
        case "uid", "gid":
            guard let n = UInt32(name) else { throw .invalid("\(at) has \(text.debugDescription); \(kind): takes a whole number") }
            return kind == "uid" ? .uid(n) : .gid(n)
        default:
            throw .invalid("\(at) has \(text.debugDescription); a principal is user:NAME, uid:N, group:NAME, gid:N or *")
        }
    }

    /// `socket_mode`: an octal string such as "0660"; read and write bits
    /// only, and the owner's read and write always.
    static func socketMode(_ value: Any, path: String) throws(ConfigurationError) -> mode_t {
        guard let text = value as? String, (3...4).contains(text.count), let mode = mode_t(text, radix: 8),
              mode & ~0o666 == 0, mode & 0o600 == 0o600 else {
            throw .invalid("socket_mode in \(path) must be an octal string of read and write bits with the owner's, such as \"0600\", \"0660\" or \"0666\"")
        }
        return mode
    }
}

/// Lookups in the system's user and group databases (NSS: /etc/passwd,
/// /etc/group, or whatever the host is set up with).
enum SystemAccounts {
    static func uid(ofUser name: String) -> UInt32? {
        withBuffer { pwd, buffer, size in
            var result: UnsafeMutablePointer<passwd>?
            return getpwnam_r(name, pwd, buffer, size, &result) == 0 && result != nil ? pwd.pointee.pw_uid : nil
        }
    }

    static func gid(ofGroup name: String) -> UInt32? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 1 << 16)
        return getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0 && result != nil ? entry.gr_gid : nil
    }

    /// The peer as the rules see it: its user name, and its groups from the
    /// group database (with the primary gid of its passwd entry and the gid
    /// the socket reported).
    static func identity(uid: UInt32, gid: UInt32?) -> PeerIdentity {
        let entry: (name: String, gid: gid_t)? = withBuffer { pwd, buffer, size in
            var result: UnsafeMutablePointer<passwd>?
            guard getpwuid_r(uid, pwd, buffer, size, &result) == 0, result != nil else { return nil }
            return (String(cString: pwd.pointee.pw_name), pwd.pointee.pw_gid)
        }
        var gids: Set<UInt32> = gid.map { [$0] } ?? []
        if let entry {
            gids.insert(entry.gid)
            var count: Int32 = 64
            var list = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(entry.name, entry.gid, &list, &count) == -1 {
                list = [gid_t](repeating: 0, count: Int(count))
                _ = getgrouplist(entry.name, entry.gid, &list, &count)
            }
            gids.formUnion(list.prefix(Int(max(0, count))))
        }
        return PeerIdentity(uid: uid, gids: gids, name: entry?.name)
    }

    private static func withBuffer<T>(_ body: (UnsafeMutablePointer<passwd>, UnsafeMutablePointer<CChar>, Int) -> T?) -> T? {
        var pwd = passwd()
        var buffer = [CChar](repeating: 0, count: 1 << 14)
        return buffer.withUnsafeMutableBufferPointer { b in body(&pwd, b.baseAddress!, b.count) }
    }
}
