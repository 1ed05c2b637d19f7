import Foundation

/// Forward decay with a landmark: the one place where weights and stored
/// keys are converted.
///
/// Invariant: `key = log2(w) + (t - L) / h` for a weight `w` set at time `t`,
/// so the weight at `now` is `2^(key - (now - L) / h)`. Because the offset
/// `(now - L) / h` is the same for every row of a namespace, `ORDER BY key
/// DESC` is `ORDER BY current weight DESC` at every instant and no row is
/// ever rewritten as time passes.
public struct ForwardDecay: Sendable, Equatable {
    /// The key stored for a weight of exactly 0 (2^-1e300 is 0 in a double).
    public static let zeroKey = -1e300

    /// Half-life `h`, in seconds.
    public let halfLife: Double
    /// Landmark `L`, in seconds since 1970.
    public let landmark: Double

    public init(halfLife: Double, landmark: Double) {
        self.halfLife = halfLife
        self.landmark = landmark
    }

    /// `(now - L) / h`: how many half-lives have passed since the landmark.
    @inlinable
    public func offset(at now: Double) -> Double { (now - landmark) / halfLife }

    /// The stored key of a note that weighs `weight` at `now`.
    @inlinable
    public func key(weight: Double, at now: Double) -> Double {
        weight > 0 ? log2(weight) + offset(at: now) : Self.zeroKey
    }

    /// The weight at `now` of a row stored with `key`.
    @inlinable
    public func weight(key: Double, at now: Double) -> Double {
        key <= Self.zeroKey ? 0 : exp2(key - offset(at: now))
    }

    /// The key of `max(0, decayed + delta)`: what a deposit of an existing
    /// body or a reinforcement stores.
    @inlinable
    public func reinforced(key: Double, by delta: Double, at now: Double) -> Double {
        self.key(weight: max(0, weight(key: key, at: now) + delta), at: now)
    }

    /// The smallest key whose weight at `now` is at least `threshold`: rows
    /// below it are faded (`key < fadeKey`), a range condition on the index.
    @inlinable
    public func thresholdKey(_ threshold: Double, at now: Double) -> Double {
        threshold > 0 ? log2(threshold) + offset(at: now) : -Double.greatestFiniteMagnitude
    }

    /// The same weights expressed against a new landmark `now`: `key - offset(now)`.
    @inlinable
    public func rebased(key: Double, to now: Double) -> Double {
        key <= Self.zeroKey ? key : key - offset(at: now)
    }
}
