import Foundation
import NIOHTTP1
import TrailCore
import TrailProtocol
import TrailStore

/// An HTTP answer: status, body and its type.
struct HTTPAnswer: Sendable {
    var status: HTTPResponseStatus
    var body: [UInt8]
    var contentType: String

    static func json(_ value: JSONValue, _ status: HTTPResponseStatus = .ok) -> HTTPAnswer {
        HTTPAnswer(status: status, body: JSONWriter.bytes(value), contentType: "application/json")
    }

    /// A refusal as `{"error": {code, message, data}}`, the socket's error object.
    static func failure(_ error: TrailError) -> HTTPAnswer {
        let status: HTTPResponseStatus = switch error {
        case .unknownNote: .notFound
        case .invalidParams, .invalidNamespace, .ambiguousID: .badRequest
        case .semanticUnavailable: .notImplemented
        case .overloaded, .storageUnavailable, .storageDamaged: .serviceUnavailable
        default: .internalServerError
        }
        return json(.object(["error": RPCError(error).json]), status)
    }
}

/// The JSON the trail map reads (issue 15), behind the listener's token:
/// `GET /api/namespaces`, `/api/graph?ns=&limit=` (the strongest notes and
/// the trails between them), `/api/note?ns=&id=` (a note, its trails and
/// history), `/api/search?ns=&q=` (words) or `&similar=` (meaning). Reads
/// only, through the same store calls as the socket's methods.
struct MapAPI: Sendable {
    let dispatcher: Dispatcher

    /// Most notes a graph shows.
    static let maxGraphNotes = 500

    func answer(path: String, query: [String: String]) async -> HTTPAnswer {
        do {
            switch path {
            case "/api/namespaces": return .json(try await namespaces())
            case "/api/graph": return .json(try await graph(query))
            case "/api/note": return .json(try await note(query))
            case "/api/search": return .json(try await search(query))
            default: return HTTPAnswer(status: .notFound, body: Array("no such page: \(path)\n".utf8), contentType: "text/plain; charset=utf-8")
            }
        } catch {
            return .failure(error)
        }
    }

    private func namespaces() async throws(TrailError) -> JSONValue {
        let list = try await dispatcher.store.namespaces().map { s -> JSONValue in
            var o = Wire.settings(s.settings)
            Wire.counts(s.counts, into: &o)
            return .object(o)
        }
        return .object(["namespaces": .array(list), "semantic": (try? dispatcher.recall.get())?.hello ?? .null])
    }

    private func graph(_ query: [String: String]) async throws(TrailError) -> JSONValue {
        let ns = try Self.namespace(query)
        let limit = try Self.int(query, "limit", default: 60, in: 1...Self.maxGraphNotes)
        let notes = try await dispatcher.store.sense(SenseQuery(ns: ns, limit: limit))
        let shown = Set(notes.map(\.note.id))
        var edges: [JSONValue] = []
        for scored in notes {
            let out = try await dispatcher.store.follow(FollowQuery(from: try IDPrefix(scored.note.id.hex, field: "id"), ns: ns, direction: .forward, limit: 50))
            for step in out.steps where shown.contains(step.to) {
                edges.append(.object(["from": .string(scored.note.id.hex), "to": .string(step.to.hex), "weight": .double(step.weight)]))
            }
        }
        // Contests between notes shown (contract §8), each pair once: the page draws them apart from trails.
        var contests: [JSONValue] = []
        for scored in notes {
            for other in scored.note.contestedBy where shown.contains(other) && scored.note.id < other {
                contests.append(.object(["a": .string(scored.note.id.hex), "b": .string(other.hex)]))
            }
        }
        return .object(["ns": .string(ns), "notes": .array(notes.map(Wire.scored)), "trails": .array(edges), "contests": .array(contests)])
    }

    private func note(_ query: [String: String]) async throws(TrailError) -> JSONValue {
        let ns = try Self.namespace(query)
        guard let text = query["id"] else { throw .invalidParams(field: "id", message: "id is required: give a note's id or a prefix of it.") }
        return Wire.details(try await dispatcher.store.get(try IDPrefix(text, field: "id"), ns: ns))
    }

    private func search(_ query: [String: String]) async throws(TrailError) -> JSONValue {
        let ns = try Self.namespace(query)
        let limit = try Self.int(query, "limit", default: 20, in: 1...Limits.maxLimit)
        if let similar = query["similar"] {
            guard !similar.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw .invalidParams(field: "similar", message: "similar must not be blank: give the meaning to look for.")
            }
            let recall = try dispatcher.recall.mapError { TrailError.semanticUnavailable($0.why) }.get()
            return .object(["notes": .array(try await recall.sense(SenseQuery(ns: ns, limit: limit, similar: similar)).map(Wire.scoredByMeaning))])
        }
        guard let q = query["q"] else { throw .invalidParams(field: "q", message: "q (words) or similar (a meaning) is required.") }
        let words = q.split(whereSeparator: \.isWhitespace).map(String.init)
        guard !words.isEmpty else { throw .invalidParams(field: "q", message: "q must hold at least one word.") }
        return .object(["notes": .array(try await dispatcher.store.sense(SenseQuery(ns: ns, words: words, limit: limit)).map(Wire.scored))])
    }

    private static func namespace(_ query: [String: String]) throws(TrailError) -> String {
        try Validate.namespace(query["ns"] ?? "default")
    }

    private static func int(_ query: [String: String], _ key: String, default value: Int, in range: ClosedRange<Int>) throws(TrailError) -> Int {
        guard let text = query[key] else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw .invalidParams(field: key, message: "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return n
    }
}
