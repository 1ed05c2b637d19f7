import Testing
import TrailCore
@testable import TrailProtocol

@Suite("What each method needs of the access rules (contract §10)")
struct AccessNeedTests {
    static let id = String(repeating: "ab", count: 32)

    @Test("read, write and admin methods, and the ones that need nothing",
          arguments: [
              ("trail.hello", [:], AccessNeed.nothing),
              ("trail.unwatch", ["subscription": "s1"], .nothing),
              ("trail.namespace.list", [:], .readableOnly),
              ("trail.compact", [:], .adminEverywhere),
              ("trail.compact", ["ns": "team-a"], .right(.admin, ns: "team-a")),
              ("trail.namespace.configure", ["ns": "team-a", "half_life_s": 60], .right(.admin, ns: "team-a")),
              ("trail.get", ["id": .string(id), "ns": "n"], .right(.read, ns: "n")),
              ("trail.sense", ["ns": "n"], .right(.read, ns: "n")),
              ("trail.sense", [:], .right(.read, ns: "default")),
              ("trail.follow", ["from": .string(id), "ns": "n"], .right(.read, ns: "n")),
              ("trail.stats", ["ns": "n"], .right(.read, ns: "n")),
              ("trail.watch", ["ns": "n"], .right(.read, ns: "n")),
              ("trail.export", ["ns": "n"], .right(.read, ns: "n")),
              ("trail.deposit", ["body": "b", "ns": "n"], .right(.write, ns: "n")),
              ("trail.reinforce", ["id": .string(id), "ns": "n"], .right(.write, ns: "n")),
              ("trail.link", ["from": .string(id), "to": .string(id), "ns": "n"], .right(.write, ns: "n")),
              ("trail.retract", ["id": .string(id), "reason": "wrong", "ns": "n"], .right(.write, ns: "n")),
              ("trail.revive", ["id": .string(id), "ns": "n"], .right(.write, ns: "n")),
              ("trail.import", ["ns": "n", "records": .array([])], .right(.write, ns: "n")),
          ] as [(String, JSONObject, AccessNeed)])
    func needs(method: String, params: JSONObject, need: AccessNeed) throws {
        let call = try Call(method: method, params: params, agent: nil)
        #expect(call.accessNeed == need)
    }

    @Test("every method of the contract is covered above")
    func everyMethod() {
        // The table above names each; a new method must say what it needs (the switch in accessNeed is exhaustive).
        #expect(TrailMethod.allCases.count == 17)
    }

    @Test("a refusal's data names the namespace and the right")
    func refusalData() {
        let error = RPCError(TrailError.permissionDenied(ns: "team-a", right: .admin, peer: "uid 5"))
        #expect(error.code == -32003)
        #expect(error.data == ["reason": "permission_denied", "ns": "team-a", "right": "admin"])
    }
}
