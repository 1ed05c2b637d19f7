import Foundation
import Testing
@testable import TrailCore

@Suite("Ids, validation, exploration, times")
struct ModelTests {
    @Test("id is the SHA-256 of the UTF-8 bytes, with no normalisation")
    func ids() {
        #expect(NoteID(body: "abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let composed = NoteID(body: "caf\u{e9}")
        let decomposed = NoteID(body: "cafe\u{301}")
        #expect(composed != decomposed)
        #expect(NoteID(body: "🐜 trail").hex.count == 64)
    }

    @Test("prefixes: 8 to 64 hex digits, lowered")
    func prefixes() throws {
        #expect(try IDPrefix("ABCDEF12", field: "id").hex == "abcdef12")
        #expect(throws: TrailError.self) { try IDPrefix("abc", field: "id") }
        #expect(throws: TrailError.self) { try IDPrefix("abcdefgh", field: "id") }
        #expect(throws: TrailError.self) { try IDPrefix(String(repeating: "a", count: 65), field: "id") }
        #expect(try IDPrefix(String(repeating: "a", count: 64), field: "id").isComplete)
    }

    @Test("names and tags follow the contract's patterns")
    func names() throws {
        #expect(try Validate.namespace("team-a.b_c") == "team-a.b_c")
        for bad in ["", "-a", "A", "a b", String(repeating: "a", count: 65), "é"] {
            #expect(throws: TrailError.invalidNamespace(bad)) { try Validate.namespace(bad) }
        }
        #expect(try Validate.tags(["b", "a:x/y", "b"], field: "tags") == ["a:x/y", "b"])
        #expect(throws: TrailError.self) { try Validate.tags(["Bad"], field: "tags") }
        #expect(throws: TrailError.self) { try Validate.tags((0..<17).map { "t\($0)" }, field: "tags") }
    }

    @Test("numbers are finite and bounded; strength is positive")
    func numbers() throws {
        #expect(try Validate.weight(-1e6, field: "delta") == -1e6)
        #expect(throws: TrailError.self) { try Validate.weight(1e6 + 1, field: "delta") }
        #expect(throws: TrailError.self) { try Validate.weight(.infinity, field: "delta") }
        #expect(throws: TrailError.self) { try Validate.strength(0, field: "strength") }
        #expect(try Validate.printable("agent-7", field: "agent", maxBytes: 128) == "agent-7")
        #expect(throws: TrailError.self) { try Validate.printable("a\u{7}b", field: "agent", maxBytes: 128) }
    }

    @Test("explore 0 is strongest first; a seed makes draws reproducible")
    func explore() {
        let w = [1.0, 5, 3, 0, 2]
        #expect(ExploreOrder.order(weights: w, explore: 0, seed: 1) == [1, 2, 4, 0, 3])
        #expect(ExploreOrder.order(weights: w, explore: 1, seed: 9) == ExploreOrder.order(weights: w, explore: 1, seed: 9))
        #expect(ExploreOrder.order(weights: w, explore: 1, seed: 9).last == 3)
    }

    @Test("explore 1 draws in proportion to weight")
    func exploreProportion() {
        let w = [3.0, 1.0]
        var firsts = 0
        let n = 20_000
        for seed in 0..<n where ExploreOrder.order(weights: w, explore: 1, seed: UInt64(seed)).first == 0 { firsts += 1 }
        #expect(abs(Double(firsts) / Double(n) - 0.75) < 0.02)
    }

    @Test("times are RFC 3339 UTC with milliseconds")
    func times() {
        #expect(Timestamp.rfc3339(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(millis: 1_795_478_399_123) == "2026-11-23T23:59:59.123Z")
        #expect(Timestamp.rfc3339(millis: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.rfc3339(millis: 951_782_400_007) == "2000-02-29T00:00:00.007Z")
        #expect(Timestamp.rfc3339(millis: 253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.rfc3339(millis: 253_402_300_800_000) == "10000-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(millis: -62_167_219_200_000) == "0000-01-01T00:00:00.000Z")
        // Every instant written reads back as itself.
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let millis = Int64(x >> 20) % 4_102_444_800_000  // 1970 to 2100
            #expect(Timestamp.parse(Timestamp.rfc3339(millis: millis)) == millis)
        }
    }

    /// An archived record's times come back from a pack file; a damaged one
    /// (re-compressed, so its checksum holds) with `createdAt` of Int64.min
    /// made `get` trap on `millis - 999` (issue 14, with the fuzz-pack harness).
    @Test("the extreme Int64 times are written without a trap")
    func extremeTimes() {
        let earliest = Timestamp.rfc3339(millis: .min)
        let latest = Timestamp.rfc3339(millis: .max)
        #expect(earliest.hasPrefix("-") && earliest.hasSuffix(".192Z"), "\(earliest)")
        #expect(latest.hasSuffix(".807Z"), "\(latest)")
        #expect(Timestamp.rfc3339(millis: -1000) == "1969-12-31T23:59:59.000Z")
        #expect(Timestamp.rfc3339(millis: -1001) == "1969-12-31T23:59:58.999Z")
    }

    @Test("every error maps to its contract code")
    func errorCodes() {
        let r = Retraction(reason: "x", agent: nil, atMillis: 0)
        let cases: [(TrailError, Int, String)] = [
            (.invalidParams(field: nil, message: "x is wrong; send y."), -32602, "invalid_params"),
            (.unknownNote(id: "", ns: ""), -32001, "unknown_note"),
            (.noteTooLarge(size: 1, limit: 0), -32002, "note_too_large"),
            (.permissionDenied(ns: "n", right: .read, peer: "uid 1"), -32003, "permission_denied"),
            (.invalidNamespace(""), -32004, "invalid_namespace"),
            (.overloaded, -32005, "overloaded"),
            (.storageUnavailable(""), -32006, "storage_unavailable"),
            (.storageDamaged(file: "/data/packs/a.zst", why: "it is missing"), -32006, "storage_unavailable"),
            (.ambiguousID(prefix: "", matches: []), -32007, "ambiguous_id"),
            (.unknownSubscription(""), -32008, "unknown_subscription"),
            (.retracted(id: "", retraction: r), -32009, "retracted"),
            (.internal(""), -32603, "internal"),
        ]
        for (error, code, reason) in cases {
            #expect(error.code == code)
            #expect(error.reason == reason)
            #expect(error.message.hasSuffix("."))
        }
    }
}
