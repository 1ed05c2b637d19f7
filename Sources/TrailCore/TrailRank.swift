/// Trail rank: a weighted PageRank with damping, personalised by note weight.
///
/// With `p_i = w_i / Σ w` (the note weights; uniform if all are 0),
/// `out_i = Σ_j e_ij` (the weights of the trails out of i) and damping `d`:
///
///     r_j ← (1 − d) p_j + d (Σ_i r_i e_ij / out_i + D p_j),   D = Σ_{i: out_i = 0} r_i
///
/// iterated from `r = p` until `Σ |Δr| < tolerance` or `maxIterations`. The
/// stored rank is `n · r_i`, so that the mean rank is 1: a note the trails
/// lead to more than average ranks above 1. Memory is O(nodes + edges).
public enum TrailRank {
    public static let damping = 0.85
    public static let tolerance = 1e-9
    public static let maxIterations = 100

    /// Ranks `weights.count` nodes over the edges `from[k] -> to[k]` of weight `edgeWeight[k]`.
    /// Returns the ranks (mean 1) and the iterations it took.
    public static func compute(weights: [Double], from: [Int32], to: [Int32], edgeWeight: [Double],
                               damping d: Double = damping, tolerance: Double = tolerance,
                               maxIterations: Int = maxIterations) -> (ranks: [Double], iterations: Int) {
        let n = weights.count
        guard n > 0 else { return ([], 0) }
        let total = weights.reduce(0, +)
        let p = total > 0 ? weights.map { $0 / total } : [Double](repeating: 1 / Double(n), count: n)
        var out = [Double](repeating: 0, count: n)
        for k in from.indices { out[Int(from[k])] += edgeWeight[k] }
        var r = p
        var next = [Double](repeating: 0, count: n)
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            var dangling = 0.0
            for i in 0..<n where out[i] <= 0 { dangling += r[i] }
            for j in 0..<n { next[j] = (1 - d) * p[j] + d * dangling * p[j] }
            for k in from.indices {
                let i = Int(from[k])
                next[Int(to[k])] += d * r[i] * edgeWeight[k] / out[i]
            }
            var delta = 0.0
            for j in 0..<n { delta += abs(next[j] - r[j]) }
            swap(&r, &next)
            if delta < tolerance { break }
        }
        let scale = Double(n)
        return (r.map { $0 * scale }, iterations)
    }
}
