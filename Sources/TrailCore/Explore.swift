import Foundation

/// SplitMix64: a small, fast generator whose sequence is fixed by its seed,
/// so that `follow` with a `seed` is reproducible across runs and machines.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Orders weighted choices for `follow`.
///
/// `explore` is a temperature in [0, 1]. At 0 the order is strongest first.
/// Above 0 the choices are drawn without replacement with probability
/// proportional to `weight^(1/explore)` (Gumbel top-k: sort by
/// `log(weight)/explore + Gumbel noise`), so at 1 a trail is picked in
/// proportion to its weight.
public enum ExploreOrder {
    /// Indices of `weights` in the order they are drawn. Zero weights come last.
    public static func order(weights: [Double], explore: Double, seed: UInt64) -> [Int] {
        guard explore > 0 else {
            return weights.indices.sorted { weights[$0] > weights[$1] || (weights[$0] == weights[$1] && $0 < $1) }
        }
        var rng = SplitMix64(seed: seed)
        let keyed: [(Int, Double)] = weights.enumerated().map { index, w in
            // u in (0, 1): never exactly 0 or 1, so the Gumbel draw is finite.
            let u = (Double(rng.next() >> 11) + 0.5) / 9_007_199_254_740_992.0
            let gumbel = -log(-log(u))
            let key = w > 0 ? log(w) / explore + gumbel : -Double.infinity
            return (index, key)
        }
        return keyed.sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }.map(\.0)
    }
}
