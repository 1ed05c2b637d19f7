import Foundation
import Testing
import TrailCore
import TrailProtocol
@testable import TrailClient

@Suite("Socket discovery")
struct SocketLocationTests {
    @Test("flag, then TRAIL_SOCKET, then XDG_RUNTIME_DIR, then /tmp/trail-UID; empty counts as unset")
    func order() {
        let env = ["TRAIL_SOCKET": "/e/s.sock", "XDG_RUNTIME_DIR": "/run/u"]
        #expect(SocketLocation.resolve(flag: "/f.sock", environment: env) == SocketLocation(path: "/f.sock", source: .flag))
        #expect(SocketLocation.resolve(flag: nil, environment: env) == SocketLocation(path: "/e/s.sock", source: .environment))
        #expect(SocketLocation.resolve(flag: "", environment: ["TRAIL_SOCKET": "", "XDG_RUNTIME_DIR": "/run/u"])
            == SocketLocation(path: "/run/u/trail/traild.sock", source: .runtimeDirectory))
        #expect(SocketLocation.resolve(flag: nil, environment: ["XDG_RUNTIME_DIR": ""], uid: 1234)
            == SocketLocation(path: "/tmp/trail-1234/traild.sock", source: .fallback))
    }

    @Test("a client whose own default has no socket uses the system daemon's, only then, and only if its folder is there")
    func system() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trail-sock-\(UUID().uuidString)")
        let own = dir.appendingPathComponent("u/trail/traild.sock").path
        let system = dir.appendingPathComponent("run/trail/traild.sock").path
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["XDG_RUNTIME_DIR": dir.appendingPathComponent("u").path]
        // Neither there: the user's own default (what a message tells them to start).
        #expect(SocketLocation.resolve(flag: nil, environment: env, system: system) == SocketLocation(path: own, source: .runtimeDirectory))
        try FileManager.default.createDirectory(atPath: (system as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // The folder decides (a stranger cannot see the socket in it, and should hear "permission denied" there).
        #expect(SocketLocation.resolve(flag: nil, environment: env, system: system) == SocketLocation(path: system, source: .system))
        #expect(FileManager.default.createFile(atPath: system, contents: nil))
        #expect(SocketLocation.resolve(flag: nil, environment: env, system: system) == SocketLocation(path: system, source: .system))
        #expect(SocketLocation.resolve(flag: nil, environment: env, system: system).origin.contains("system daemon"))
        // A flag, TRAIL_SOCKET, or a socket of the user's own win over it; traild passes no system socket.
        #expect(SocketLocation.resolve(flag: "/f.sock", environment: env, system: system).source == .flag)
        #expect(SocketLocation.resolve(flag: nil, environment: env.merging(["TRAIL_SOCKET": "/e.sock"]) { $1 }, system: system).source == .environment)
        #expect(SocketLocation.resolve(flag: nil, environment: env).source == .runtimeDirectory)
        try FileManager.default.createDirectory(atPath: (own as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: own, contents: nil))
        #expect(SocketLocation.resolve(flag: nil, environment: env, system: system) == SocketLocation(path: own, source: .runtimeDirectory))
    }
}

@Suite("Errors")
struct ErrorTests {
    @Test("every application code is named as the daemon names it")
    func names() {
        let samples: [TrailError] = [
            .invalidParams(field: nil, message: ""), .unknownNote(id: "", ns: ""), .noteTooLarge(size: 1, limit: 1),
            .permissionDenied(ns: "n", right: .write, peer: "uid 1"), .invalidNamespace(""), .overloaded, .storageUnavailable(""),
            .storageDamaged(file: "f", why: "w"), .ambiguousID(prefix: "", matches: []), .unknownSubscription(""),
            .retracted(id: "", retraction: Retraction(reason: "r", agent: nil, atMillis: 0)), .semanticUnavailable(""),
            .internal(""),
        ]
        for e in samples { #expect(TrailErrorCode(rawValue: e.code)?.name == e.reason) }
        #expect(TrailErrorCode.allCases.count == 15)
    }

    @Test("an rpc error's contract name prefers data.reason, then the code")
    func contractName() {
        let framed = TrailClientError(errorMember: .object(["code": -32600, "message": "too long", "data": .object(["reason": "frame_too_large"])]))
        #expect(framed.contractName == "frame_too_large")
        #expect(framed.errorCode == .invalidRequest)
        let bare = TrailClientError.rpc(code: -32007, message: "m", data: JSONObject())
        #expect(bare.contractName == "ambiguous_id")
        #expect(TrailClientError.rpc(code: -1, message: "m", data: JSONObject()).contractName == "error -1")
        #expect(TrailClientError.connectionClosed.contractName == nil)
        #expect(TrailClientError(errorMember: "nonsense") == .protocolViolation("an error member without an integer code"))
    }
}

@Suite("Requests")
struct RequestTests {
    @Test("optional params left at nil are not sent")
    func omitted() {
        #expect(SenseRequest().params.count == 0)
        let sense = SenseRequest(ns: "c", query: "sugar", tags: ["a"], anyTags: ["b", "c"], limit: 5, budgetBytes: 100,
                                 minWeight: 0.5, includeFaded: true)
        #expect(sense.params.keys == ["ns", "query", "tags", "any_tags", "limit", "budget_bytes", "min_weight", "include_faded"])
        #expect(DepositRequest(body: "x").params.keys == ["body"])
        #expect(DepositRequest(body: "x", force: true).params["force"] == true)
        #expect(FollowRequest(from: "abcdef12", direction: .both, seed: 42).params["seed"] == 42)
        #expect(ImportRequest(records: []).params.keys == ["records"])
    }
}

@Suite("CRC-32")
struct CRC32Tests {
    @Test("the standard check value")
    func check() {
        var c = CRC32()
        c.update(Array("123456789".utf8))
        #expect(c.hex == "cbf43926")
        var split = CRC32()
        split.update(Array("1234".utf8))
        split.update(Array("56789".utf8))
        #expect(split.value == c.value)
        #expect(CRC32().hex == "00000000")
    }
}

@Suite("Export file format")
struct ExportArchiveTests {
    func record(_ body: String, weight: Double = 1, trails: [(String, Double)] = [], state: String = "live") -> JSONValue {
        var o: JSONObject = [
            "id": .string(NoteID(body: body).hex), "body": .string(body), "tags": ["t"], "after": [],
            "weight": .double(weight), "rank": nil, "deposits": 1, "agent": nil, "state": .string(state),
            "created_at": "2026-11-25T21:00:00.000Z", "updated_at": "2026-11-25T21:00:00.000Z", "retraction": nil,
        ]
        o["trails"] = .array(trails.map { .object(["to": .string(NoteID(body: $0.0).hex), "weight": .double($0.1)]) })
        return .object(o)
    }

    func file(_ records: [JSONValue], count: Int? = nil, extra: [UInt8] = [], damage: ((inout [UInt8]) -> Void)? = nil) -> [UInt8] {
        let header = ExportArchive.Header(ns: "colony", exportedAt: "2026-11-25T21:00:01.000Z",
                                          settings: NamespaceConfig(name: "colony", halfLife: 3600, evaporateBelow: 0.05, maxNoteBytes: 4096))
        var bytes = ExportArchive.headerLine(header)
        for r in records { bytes += ExportArchive.recordLine(r) }
        var crc = CRC32()
        crc.update(bytes)
        damage?(&bytes)
        return bytes + ExportArchive.endLine(records: count ?? records.count, checksum: crc) + extra
    }

    @Test("a file reads back with its header and records")
    func roundTrip() throws {
        let records = [record("a", trails: [("b", 0.5)]), record("b", weight: 2)]
        let contents = try ExportArchive.read(file(records))
        #expect(contents.header.ns == "colony" && contents.header.settings.halfLife == 3600)
        #expect(contents.records.map(JSONWriter.bytes) == records.map(JSONWriter.bytes))
        #expect(contents.notes.map(\.note.body) == ["a", "b"] && contents.notes[0].note.ns == "colony")
        #expect(contents.notes[0].trails == [TrailEnd(to: NoteID(body: "b"), weight: 0.5)])
        #expect(try ExportArchive.read(file(records), into: "copy").notes[0].note.ns == "copy")
        #expect(try ExportArchive.read(file([])).records.isEmpty)
    }

    func refusal(_ bytes: [UInt8]) -> ExportArchiveError? {
        do {
            _ = try ExportArchive.read(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("truncation and damage are refused, naming the line")
    func refused() throws {
        let good = file([record("a"), record("b")])
        let lines = good.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let withoutEnd = Array(lines.prefix(3).joined(separator: [UInt8(ascii: "\n")])) + [UInt8(ascii: "\n")]
        #expect(refusal(withoutEnd)?.message.contains("truncated") == true)
        #expect(refusal(Array(good.dropLast(5)))?.message.contains("truncated") == true)
        #expect(refusal([])?.message == "the file is empty")
        #expect(refusal(file([record("a")], count: 2))?.line == 3)
        #expect(refusal(file([record("a")], extra: Array("{}\n".utf8)))?.message.contains("after the end") == true)
        #expect(refusal(file([record("a"), record("a")]))?.line == 3)
        let flipped = file([record("a", weight: 1.5)]) { bytes in
            let i = bytes.lastIndex(of: UInt8(ascii: "5"))!
            bytes[i] = UInt8(ascii: "6")
        }
        #expect(refusal(flipped)?.message.contains("checksum") == true)
        var forged = record("a")
        if case var .object(o) = forged { o["body"] = "b"; forged = .object(o) }
        #expect(refusal(file([forged]))?.line == 2)
        #expect(refusal(Array("{\"hello\":1}\n".utf8))?.message.contains("not a trail export") == true)
        #expect(refusal(Array("{\"trail_export\":2}\n".utf8))?.message.contains("newer") == true)
        #expect(refusal(Array("not json\n".utf8))?.line == 1)
    }

    /// Found by fuzz-export (issue 14): an end line whose count is beyond an
    /// Int (1e300, 1e19, -1e300) trapped converting it; a fractional count was
    /// refused only after the conversion. Each is a damaged file now.
    @Test("an end line with a huge, negative or fractional count is refused, not a crash")
    func hugeCount() throws {
        let good = file([record("a")])
        let header = Array(good.split(separator: UInt8(ascii: "\n"))[0]) + [UInt8(ascii: "\n")]
        for count in ["1e300", "1e19", "-1e300", "9223372036854775808", "1.5", "-0.5"] {
            let end = Array("{\"end\":true,\"records\":\(count),\"crc32\":\"00000000\"}\n".utf8)
            let error = refusal(header + end)
            #expect(error?.line == 2, "records \(count)")
            #expect(error?.message.contains("records but the file holds 0: it is damaged") == true, "records \(count): \(String(describing: error))")
        }
    }
}

@Suite("Trail graph")
struct TrailGraphTests {
    func rec(_ body: String, _ weight: Double, state: NoteState = .live, trails: [(String, Double)] = []) -> NoteRecord {
        NoteRecord(note: Note(id: NoteID(body: body), ns: "g", body: body, tags: [], after: [], weight: weight, rank: nil,
                              deposits: 1, agent: nil, state: state, createdAtMillis: 0, updatedAtMillis: 0,
                              retraction: state == .retracted ? Retraction(reason: "r", agent: nil, atMillis: 0) : nil),
                   trails: trails.map { TrailEnd(to: NoteID(body: $0.0), weight: $0.1) })
    }

    var records: [NoteRecord] {
        [rec("a", 3, trails: [("b", 2), ("c", 0.1), ("d", 1)]), rec("b", 1, trails: [("a", 0)]), rec("c", 0.01),
         rec("d", 0.5, state: .retracted)]
    }

    @Test("nodes heaviest first; edges only between kept notes, never of weight 0")
    func selection() {
        let g = TrailGraph(ns: "g", exportedAt: nil, records: records, evaporateBelow: 0.05, selection: .init())
        #expect(g.nodes.map(\.body) == ["a", "b", "c"])
        #expect(g.nodes[2].state == .faded)
        #expect(g.edges.map(\.weight) == [2, 0.1])
        #expect(g.totalNotes == 4 && g.totalTrails == 4)
        let all = TrailGraph(ns: "g", exportedAt: nil, records: records, evaporateBelow: 0.05,
                             selection: .init(states: [.live, .retracted, .archived]))
        #expect(all.edges.count == 3)
        let light = TrailGraph(ns: "g", exportedAt: nil, records: records, evaporateBelow: 0.05, selection: .init(minWeight: 0.5))
        #expect(light.nodes.map(\.body) == ["a", "b"] && light.edges.count == 1)
        let top = TrailGraph(ns: "g", exportedAt: nil, records: records, evaporateBelow: 0.05, selection: .init(limit: 1))
        #expect(top.nodes.count == 1 && top.edges.isEmpty)
    }

    @Test("DOT quotes labels and scales pen widths")
    func dot() {
        let g = TrailGraph(ns: "g", exportedAt: "t", records: [rec("say \"hi\" \\ now\nmore", 2, trails: [("x", 1)]), rec("x", 1)],
                           evaporateBelow: 0, selection: .init())
        let text = g.dot
        #expect(text.hasPrefix("digraph trail {"))
        #expect(text.contains(#"say \"hi\" \\ now…"#))
        #expect(text.contains("penwidth=5.00"))
        #expect(text.contains("-> \"\(NoteID(body: "x").hex)\" [penwidth=6.00"))
        #expect(g.json["edges"]?.array?.count == 1)
    }
}

@Suite("Events")
struct EventModelTests {
    static let note = Wire.note(Note(id: NoteID(body: "x"), ns: "default", body: "x", tags: [], after: [], weight: 1, rank: nil,
                                     deposits: 1, agent: nil, state: .live, createdAtMillis: 0, updatedAtMillis: 0, retraction: nil))

    @Test("an event after a gap says how many were dropped; others say 0")
    func dropped() throws {
        let gap = try TrailEvent(params: ["subscription": "s1", "event": "deposited", "note": Self.note, "dropped": 3412])
        #expect(gap.dropped == 3412 && gap.kind == .deposited)
        let plain = try TrailEvent(params: ["subscription": "s1", "event": "deposited", "note": Self.note])
        #expect(plain.dropped == 0)
        #expect(throws: WireDecodingError.self) {
            try TrailEvent(params: ["subscription": "s1", "event": "deposited", "note": Self.note, "dropped": "many"])
        }
    }
}
