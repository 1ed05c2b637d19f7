import Foundation
import Synchronization
import TrailEmbedding

/// Vectors for stores too large to embed (running the model over 1M notes
/// would take hours on 2 cores): the first `base.count` notes get the real
/// embeddings of their bodies; note `i` beyond them gets a noisy mixture of
/// two of those, unit length:
///
///     v = normalise(a·e_j + (1 - a)·e_k + 0.25·u),  a uniform in [0.6, 1)
///
/// with `j`, `k` drawn among the real ones and `u` uniform noise of variance
/// 1/384 per component (|u| ≈ 1), all from SplitMix64 seeded by `i`, so
/// the same note always gets the same vector. So the space has the model's
/// shape (clusters where the real notes are, at the real distances between
/// them), and each real note has a cloud of neighbours around it, nearer
/// or farther by `a` and the noise.
struct SyntheticVectors: Sendable {
    let base: [[Float]]
    let dimensions: Int

    init(base: [[Float]]) {
        precondition(!base.isEmpty, "SyntheticVectors needs real embeddings to mix")
        self.base = base
        dimensions = base[0].count
    }

    static let noise: Float = 0.25

    func vector(_ i: Int) -> [Float] {
        if i < base.count { return base[i] }
        var rng = SplitMix64(seed: UInt64(i) &* 0xA24B_AED4_963E_E407 &+ 0x9FB2_1C65_1E98_DF25)
        let j = base[Int(rng.next() % UInt64(base.count))]
        let k = base[Int(rng.next() % UInt64(base.count))]
        let a = Float(0.6 + 0.4 * rng.unit())
        // Uniform in [-√3, √3] has variance 1; scaled by 1/√d, |u| ≈ 1.
        let spread = Float(3.0).squareRoot() / Float(dimensions).squareRoot()
        var v = [Float](repeating: 0, count: dimensions)
        var norm: Float = 0
        for d in 0..<dimensions {
            let u = Float(2 * rng.unit() - 1) * spread
            let x = a * j[d] + (1 - a) * k[d] + Self.noise * u
            v[d] = x
            norm += x * x
        }
        let scale = 1 / norm.squareRoot()
        for d in 0..<dimensions { v[d] *= scale }
        return v
    }
}

/// A file of raw little-endian float32 rows (what sqlite_vec_knn.py reads),
/// appended to as the ladder grows.
final class FloatRows {
    let path: String
    private let handle: FileHandle
    private(set) var rows = 0

    init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw BenchFailure("cannot create \(path)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    deinit { try? handle.close() }

    func append(_ vectors: [[Float]]) throws {
        var data = Data(capacity: vectors.reduce(0) { $0 + $1.count * 4 })
        for v in vectors { v.withUnsafeBytes { data.append(contentsOf: $0) } }
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
        rows += vectors.count
    }
}

/// Writes notes' vectors straight into a stopped traild's SQLite store, as
/// its indexer stores them (`note_vector`: the note's seq, the model's name,
/// a stamp, 384 little-endian float32s), with stamp = seq, so the daemon
/// loads them at start instead of embedding the notes.
enum VectorPreload {
    /// Stores `vector(i)` for notes `range` of `set` (already imported into
    /// `ns`), 10,000 to a transaction, appends them to `rows`, and inserts
    /// them into `index` under their seqs, in the pages of 10,000 traild
    /// loads them in. Returns seconds.
    static func write(store path: String, ns: String, set: inout Dataset, range: Range<Int>, model: String,
                      vectors: SyntheticVectors, rows: FloatRows, index: VectorIndex) throws -> Double {
        let start = monoNanos()
        let db = try SQLiteConnection(path: path)
        let find = try db.statement("SELECT seq FROM note WHERE ns = ? AND id = ?")
        let insert = try db.statement("""
            INSERT INTO note_vector (note, model, stamp, vector) VALUES (?, ?, ?, ?)
            ON CONFLICT (note) DO UPDATE SET model = excluded.model, stamp = excluded.stamp, vector = excluded.vector
            """)
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(range.upperBound, i + 10_000)
            let chunk = (i..<end).map { vectors.vector($0) }
            let ids = (i..<end).map { set.id($0) }
            var entries: [(handle: Int64, vector: [Float])] = []
            try db.transaction(write: true) {
                for (id, v) in zip(ids, chunk) {
                    find.bind([.text(ns), .text(id)])
                    guard try find.step() else { throw BenchFailure("the meaning store has no note \(id) in \(ns)") }
                    let seq = find.int(0)
                    find.reset()
                    try insert.run([.int(seq), .text(model), .int(seq), .floats(v)])
                    entries.append((seq, v))
                }
            }
            try rows.append(chunk)
            index.insert(ns: ns, entries)
            i = end
        }
        return Double(monoNanos() - start) / 1e9
    }
}

extension SentenceEncoder {
    /// Embeds `texts` in batches of 32 (as traild's indexer does), the
    /// batches spread over `threads` threads; returns the vectors in order
    /// and the wall seconds.
    func embedTimed(_ texts: [String], threads: Int) -> (vectors: [[Float]], seconds: Double) {
        let batches = stride(from: 0, to: texts.count, by: 32).map { Array(texts[$0..<min($0 + 32, texts.count)]) }
        let slots = Mutex<[[[Float]]]>(Array(repeating: [], count: batches.count))
        let workers = max(1, threads)
        let start = monoNanos()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for b in stride(from: worker, to: batches.count, by: workers) {
                let v = embed(batches[b])
                slots.withLock { $0[b] = v }
            }
        }
        let seconds = Double(monoNanos() - start) / 1e9
        return (slots.withLock { $0.flatMap { $0 } }, seconds)
    }
}
