import Foundation
import NIOCore
import TrailCore

/// SplitMix64: small, fast, and the same sequence on every machine.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A double in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// The Zipf draw of W2, the same for every system: a uniform `u` in [0, 1)
/// becomes the rank `floor((n + 1)^u) - 1` of an `n`-note hot set, so
/// `P(rank = k) = ln((k + 2)/(k + 1)) / ln(n + 1)`, a Zipf law of exponent 1
/// (rank 0 gets about 1/ln(n+1) of the draws: 11 % of 10,000 notes).
/// Redis's function library computes the same from redis-benchmark's
/// uniform `__rand_int__`.
@inline(__always)
func zipfRank(_ u: Double, n: Int) -> Int {
    min(n - 1, max(0, Int(pow(Double(n + 1), u)) - 1))
}

/// The words bodies are made of: 2,000 made-up words of two or three
/// syllables, so that one word of a query matches about 0.4 % of the notes
/// (a body holds eight).
enum Vocabulary {
    static let words: [String] = {
        let syllables = ["ka", "lo", "mi", "ren", "tor", "ple", "vas", "quin", "dro", "fel", "gus", "hap", "jet", "ko",
                         "lum", "nar", "os", "pim", "rud", "sel", "tam", "ub", "vin", "wex", "yor", "zal", "bri", "cor",
                         "dun", "eph", "gil", "hux"]
        var rng = SplitMix64(seed: 7)
        var seen = Set<String>()
        var out: [String] = []
        while out.count < 2000 {
            let n = 2 + Int(rng.next() % 2)
            let w = (0..<n).map { _ in syllables[Int(rng.next() % UInt64(syllables.count))] }.joined()
            if seen.insert(w).inserted { out.append(w) }
        }
        return out
    }()

    /// `count` words drawn with `rng`, joined by spaces.
    static func phrase(_ count: Int, _ rng: inout SplitMix64) -> String {
        var s = ""
        for k in 0..<count {
            if k > 0 { s += " " }
            s += words[Int(rng.next() % UInt64(words.count))]
        }
        return s
    }
}

/// One note of a generated data set. Every system gets the same notes:
/// traild and raw SQLite under the SHA-256 of the body, Redis under
/// `note:` and the index as 12 digits (redis-benchmark's `__rand_int__`).
struct GeneratedNote {
    var index: Int
    var body: String
    var weight: Double
    var tag: String
    /// Outgoing trails: (index of an earlier note, weight).
    var trails: [(to: Int, weight: Double)]
}

/// A data set: `name` makes its bodies (so ids) distinct from other sets'.
/// Note `i` weighs between 0.1 and 100 (log-uniform), or 0.01 (faded, under
/// the default evaporate_below of 0.05) when `fadedShare` picks it; it
/// carries the tag `t(i % 16)` and up to `trailsPerNote` trails to earlier
/// notes (so every chunk loaded in order only names notes already there).
/// With `proseBytes`, bodies are English-like notes of about that many bytes
/// (`Prose`) instead; with `weight`, every note weighs that.
struct Dataset {
    var name: String
    var fadedShare = 0.0
    var trailsPerNote = 3
    var proseBytes: Int?
    var weight: Double?
    private var ids: [String] = []

    init(name: String, fadedShare: Double = 0, trailsPerNote: Int = 3, proseBytes: Int? = nil, weight: Double? = nil) {
        self.name = name
        self.fadedShare = fadedShare
        self.trailsPerNote = trailsPerNote
        self.proseBytes = proseBytes
        self.weight = weight
    }

    func note(_ i: Int) -> GeneratedNote {
        var rng = SplitMix64(seed: UInt64(i) &* 0x2545_F491_4F6C_DD1D ^ UInt64(truncatingIfNeeded: name.hashValueStable))
        let body = proseBytes.map { Prose.note(i, bytes: $0, salt: name) } ?? "\(name) \(i): " + Vocabulary.phrase(8, &rng)
        let faded = rng.unit() < fadedShare
        let drawn = faded ? 0.01 : 0.1 * pow(1000, rng.unit())
        let weight = self.weight ?? drawn
        var trails: [(Int, Double)] = []
        if i > 0 {
            for _ in 0..<trailsPerNote {
                let j = Int(rng.next() % UInt64(i))
                let w = 0.5 + 2.5 * rng.unit()
                if !trails.contains(where: { $0.0 == j }) { trails.append((j, w)) }
            }
        }
        return GeneratedNote(index: i, body: body, weight: weight, tag: "t\(i % 16)", trails: trails)
    }

    /// The note id of note `i` (its body's SHA-256), cached.
    mutating func id(_ i: Int) -> String {
        while ids.count <= i { ids.append(NoteID(body: note(ids.count).body).hex) }
        return ids[i]
    }

    static func redisKey(_ i: Int) -> String {
        let digits = String(i)
        return "note:" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    /// One `trail.import` request holding notes `range`, applied at once.
    mutating func importRequest(ns: String, range: Range<Int>, id requestID: Int, at time: String, into buffer: inout ByteBuffer) {
        buffer.beginRequest(id: requestID, method: "trail.import")
        buffer.writeStaticString(#"{"ns":"#)
        buffer.writeJSONString(ns)
        buffer.writeStaticString(#","records":["#)
        for i in range {
            let n = note(i)
            if i != range.lowerBound { buffer.writeStaticString(",") }
            buffer.writeStaticString(#"{"id":""#)
            buffer.writeString(id(i))
            buffer.writeStaticString(#"","body":"#)
            buffer.writeJSONString(n.body)
            buffer.writeStaticString(#","tags":[""#)
            buffer.writeString(n.tag)
            buffer.writeStaticString(#""],"after":[],"weight":"#)
            buffer.writeString(String(n.weight))
            buffer.writeStaticString(#","deposits":1,"agent":null,"state":"live","rank":null,"created_at":""#)
            buffer.writeString(time)
            buffer.writeStaticString(#"","updated_at":""#)
            buffer.writeString(time)
            buffer.writeStaticString(#"","retraction":null,"trails":["#)
            for (k, t) in n.trails.enumerated() {
                if k > 0 { buffer.writeStaticString(",") }
                buffer.writeStaticString(#"{"to":""#)
                buffer.writeString(id(t.to))
                buffer.writeStaticString(#"","weight":"#)
                buffer.writeString(String(t.weight))
                buffer.writeStaticString("}")
            }
            buffer.writeStaticString("]}")
        }
        buffer.writeStaticString("]}")
        buffer.endRequest()
    }
}

extension String {
    /// A hash that is the same in every process (String.hashValue is seeded per process).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}

/// RFC 3339 UTC with milliseconds, as traild writes times.
func rfc3339(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
}
