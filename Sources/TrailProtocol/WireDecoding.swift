import Foundation
import TrailCore

/// A result that does not have the shape docs/protocol.md gives it: names the
/// member at fault by its path (`result.notes[3].weight`) and what it should be.
public struct WireDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var expected: String

    public init(path: String, expected: String) {
        self.path = path
        self.expected = expected
    }

    public var description: String { "\(path) should be \(expected)" }
}

/// Typed, checked access to the members of one JSON object of a result, the
/// reading side of `Wire`. A member set to `null` counts as absent, as in
/// requests. Every failure names the member's path.
public struct WireObject: Sendable {
    public let members: JSONObject
    /// Where this object sits in the result, for error messages.
    public let path: String

    /// Wraps `value`, which must be an object.
    public init(_ value: JSONValue, path: String) throws(WireDecodingError) {
        guard case let .object(o) = value else { throw WireDecodingError(path: path, expected: "an object") }
        self.members = o
        self.path = path
    }

    func at(_ key: String) -> String { "\(path).\(key)" }

    /// The member, or nil when it is absent or `null`.
    public subscript(key: String) -> JSONValue? {
        guard let v = members[key], v != .null else { return nil }
        return v
    }

    public func optionalString(_ key: String) throws(WireDecodingError) -> String? {
        guard let v = self[key] else { return nil }
        guard case let .string(s) = v else { throw WireDecodingError(path: at(key), expected: "a string") }
        return s
    }

    public func string(_ key: String) throws(WireDecodingError) -> String {
        guard let s = try optionalString(key) else { throw WireDecodingError(path: at(key), expected: "a string") }
        return s
    }

    public func optionalDouble(_ key: String) throws(WireDecodingError) -> Double? {
        guard let v = self[key] else { return nil }
        guard let d = v.number else { throw WireDecodingError(path: at(key), expected: "a number") }
        return d
    }

    public func double(_ key: String) throws(WireDecodingError) -> Double {
        guard let d = try optionalDouble(key) else { throw WireDecodingError(path: at(key), expected: "a number") }
        return d
    }

    public func optionalInt(_ key: String) throws(WireDecodingError) -> Int? {
        guard let v = self[key] else { return nil }
        switch v {
        case let .int(i): return i
        case let .double(d) where d == d.rounded() && abs(d) < 9.0e15: return Int(d)
        default: throw WireDecodingError(path: at(key), expected: "a whole number")
        }
    }

    public func int(_ key: String) throws(WireDecodingError) -> Int {
        guard let i = try optionalInt(key) else { throw WireDecodingError(path: at(key), expected: "a whole number") }
        return i
    }

    public func optionalBool(_ key: String) throws(WireDecodingError) -> Bool? {
        guard let v = self[key] else { return nil }
        guard case let .bool(b) = v else { throw WireDecodingError(path: at(key), expected: "true or false") }
        return b
    }

    public func bool(_ key: String) throws(WireDecodingError) -> Bool {
        guard let b = try optionalBool(key) else { throw WireDecodingError(path: at(key), expected: "true or false") }
        return b
    }

    /// An array member; absent is an empty array.
    public func array(_ key: String) throws(WireDecodingError) -> [JSONValue] {
        guard let v = self[key] else { return [] }
        guard case let .array(a) = v else { throw WireDecodingError(path: at(key), expected: "an array") }
        return a
    }

    public func strings(_ key: String) throws(WireDecodingError) -> [String] {
        var out: [String] = []
        for (n, item) in try array(key).enumerated() {
            guard case let .string(s) = item else { throw WireDecodingError(path: "\(at(key))[\(n)]", expected: "a string") }
            out.append(s)
        }
        return out
    }

    public func optionalObject(_ key: String) throws(WireDecodingError) -> WireObject? {
        guard let v = self[key] else { return nil }
        return try WireObject(v, path: at(key))
    }

    public func object(_ key: String) throws(WireDecodingError) -> WireObject {
        guard let o = try optionalObject(key) else { throw WireDecodingError(path: at(key), expected: "an object") }
        return o
    }

    /// An array of objects, each wrapped with its own path.
    public func objects(_ key: String) throws(WireDecodingError) -> [WireObject] {
        var out: [WireObject] = []
        for (n, item) in try array(key).enumerated() { out.append(try WireObject(item, path: "\(at(key))[\(n)]")) }
        return out
    }

    /// A whole note id: 64 lowercase hex digits.
    public func id(_ key: String) throws(WireDecodingError) -> NoteID {
        try WireDecode.noteID(string(key), path: at(key))
    }

    public func ids(_ key: String) throws(WireDecodingError) -> [NoteID] {
        var out: [NoteID] = []
        for (n, s) in try strings(key).enumerated() { out.append(try WireDecode.noteID(s, path: "\(at(key))[\(n)]")) }
        return out
    }

    /// An RFC 3339 UTC time, as milliseconds since 1970.
    public func time(_ key: String) throws(WireDecodingError) -> Int64 {
        guard let t = WireDecode.millis(try string(key)) else {
            throw WireDecodingError(path: at(key), expected: "an RFC 3339 UTC time like 2026-11-22T23:59:59.123Z")
        }
        return t
    }
}

/// Reads the model back from the wire: the inverse of `Wire`.
public enum WireDecode {
    /// Checks that `text` is a whole id (64 lowercase hex digits).
    public static func noteID(_ text: String, path: String) throws(WireDecodingError) -> NoteID {
        let utf8 = text.utf8
        guard utf8.count == 64, utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw WireDecodingError(path: path, expected: "a note id of 64 lowercase hex digits")
        }
        return NoteID(trustedHex: text)
    }

    /// Milliseconds since 1970 of an RFC 3339 UTC time as the wire writes it.
    public static func millis(_ text: String) -> Int64? { Timestamp.parse(text) }

    public static func retraction(_ o: WireObject) throws(WireDecodingError) -> Retraction {
        Retraction(reason: try o.string("reason"), agent: try o.optionalString("agent"), atMillis: try o.time("at"))
    }

    /// A note object (docs/protocol.md, "The note object").
    public static func note(_ value: JSONValue, path: String = "note") throws(WireDecodingError) -> Note {
        try note(WireObject(value, path: path))
    }

    public static func note(_ o: WireObject) throws(WireDecodingError) -> Note {
        let stateText = try o.string("state")
        guard let state = NoteState(rawValue: stateText) else {
            throw WireDecodingError(path: o.at("state"), expected: "live, faded, archived or retracted")
        }
        var note = Note(
            id: try o.id("id"), ns: try o.string("ns"), body: try o.string("body"),
            tags: try o.strings("tags"), after: try o.ids("after"), weight: try o.double("weight"),
            rank: try o.optionalDouble("rank"), deposits: try o.int("deposits"), agent: try o.optionalString("agent"),
            state: state, createdAtMillis: try o.time("created_at"), updatedAtMillis: try o.time("updated_at"),
            retraction: try o.optionalObject("retraction").map { r throws(WireDecodingError) in try retraction(r) }
        )
        note.contestedBy = try o.ids("contested_by")
        return note
    }

    /// A note of a `sense` answer: a note object plus `score`.
    public static func scored(_ o: WireObject) throws(WireDecodingError) -> ScoredNote {
        ScoredNote(note: try note(o), score: try o.double("score"))
    }

    /// What `get` answers: `{note, trails, history}`. `trails` and `history`
    /// may be absent (a daemon older than the compactor), and read as empty.
    public static func details(_ o: WireObject) throws(WireDecodingError) -> NoteDetails {
        let n = try note(o.object("note"))
        var trails: [TrailLink] = []
        for t in try o.objects("trails") {
            guard let direction = TrailDirection(rawValue: try t.string("direction")), direction != .both else {
                throw WireDecodingError(path: t.at("direction"), expected: "forward or backward")
            }
            trails.append(TrailLink(other: try t.id("other"), weight: try t.double("weight"), direction: direction))
        }
        var history: [HistoryEntry] = []
        for h in try o.objects("history") {
            history.append(HistoryEntry(atMillis: try h.time("at"), op: try h.string("op"), agent: try h.optionalString("agent"),
                                        delta: try h.optionalDouble("delta"), detail: try h.optionalString("detail")))
        }
        return NoteDetails(note: n, trails: trails, history: history)
    }

    /// One trail of a `follow` answer: `{to, weight, direction, note}`.
    public static func step(_ o: WireObject) throws(WireDecodingError) -> TrailStep {
        let directionText = try o.optionalString("direction") ?? "forward"
        guard let direction = TrailDirection(rawValue: directionText) else {
            throw WireDecodingError(path: o.at("direction"), expected: "forward or backward")
        }
        return TrailStep(to: try o.id("to"), weight: try o.double("weight"), direction: direction,
                         note: try note(o.object("note")))
    }
}
