import Synchronization

/// The vectors of texts embedded lately, so that a text asked again (the
/// same question from many instances of one colony, the two senses of a
/// read that asks by tag and then by words, a bare deposit repeated) costs
/// a lookup instead of a pass of the model.
///
/// Two generations: lookups and inserts go to the young one; when it holds
/// half the capacity it becomes the old one and the old one is dropped. A
/// text found only in the old generation moves to the young one. That keeps
/// what is in use, forgets what is not, costs O(1) per call, and never holds
/// more than `capacity` vectors. Only texts of at most `longestText` bytes
/// are kept (questions are short; a long text is rarely asked twice), so
/// 1,024 vectors of 384 dimensions with their texts stay under 2.5 MiB.
///
/// A cached vector is the one the model gave for exactly this text (the key
/// is the whole text, not a digest), so an answer from the cache is the
/// answer the model would give.
public final class RecentVectors: Sendable {
    private struct Generations {
        var young: [String: [Float]] = [:]
        var old: [String: [Float]] = [:]
        var hits = 0
        var misses = 0
    }

    /// At most this many vectors are held.
    public let capacity: Int
    /// Texts longer than this (in UTF-8 bytes) are not kept.
    public let longestText: Int
    private let state = Mutex(Generations())

    /// `capacity` below 2 holds nothing (every lookup misses).
    public init(capacity: Int, longestText: Int = 1024) {
        self.capacity = capacity
        self.longestText = longestText
    }

    /// The cached vector of `text`, or nil (counted as a miss).
    public func lookup(_ text: String) -> [Float]? {
        state.withLock { s in
            if let v = s.young[text] {
                s.hits += 1
                return v
            }
            if let v = s.old.removeValue(forKey: text) {
                s.hits += 1
                Self.insert(text, v, into: &s, half: capacity / 2)
                return v
            }
            s.misses += 1
            return nil
        }
    }

    /// Keeps `vector` as the vector of `text` (unless the text is longer than `longestText`).
    public func keep(_ text: String, _ vector: [Float]) {
        guard text.utf8.count <= longestText else { return }
        state.withLock { Self.insert(text, vector, into: &$0, half: capacity / 2) }
    }

    /// Lookups answered from the cache and lookups that were not, since the start.
    public var counts: (hits: Int, misses: Int) {
        state.withLock { ($0.hits, $0.misses) }
    }

    /// Vectors held now.
    public var count: Int {
        state.withLock { $0.young.count + $0.old.count }
    }

    private static func insert(_ text: String, _ vector: [Float], into s: inout Generations, half: Int) {
        guard half > 0 else { return }
        if s.young.count >= half, s.young[text] == nil {
            s.old = s.young
            s.young = [:]
            s.young.reserveCapacity(half)
        }
        s.young[text] = vector
    }
}
