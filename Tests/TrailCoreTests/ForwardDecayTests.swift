import Foundation
import Testing
@testable import TrailCore

@Suite("Forward decay")
struct ForwardDecayTests {
    /// The weight the contract defines, computed directly: w * 2^(-(t - t0)/h).
    func direct(_ w: Double, setAt t0: Double, at t: Double, halfLife h: Double) -> Double {
        w * pow(2, -(t - t0) / h)
    }

    @Test("weight from the stored key matches the direct formula", arguments: [1.0, 3600.0, 604_800.0])
    func matchesDirect(halfLife: Double) {
        let landmark = 1_700_000_000.0
        let decay = ForwardDecay(halfLife: halfLife, landmark: landmark)
        let samples: [(Double, Double)] = [(1.0, landmark), (2.5, landmark + 10), (1e6, landmark + 86_400 * 30), (1e-3, landmark + 5)]
        for (w, t0) in samples {
            let key = decay.key(weight: w, at: t0)
            for dt: Double in [0.0, 0.5, 1, 17, 3600, 86_400 * 3, 86_400 * 365] {
                let t = t0 + dt
                let expected = direct(w, setAt: t0, at: t, halfLife: halfLife)
                let got = decay.weight(key: key, at: t)
                #expect(abs(got - expected) <= 1e-9 * max(1, expected), "w=\(w) t0=\(t0) dt=\(dt)")
            }
        }
    }

    @Test("reinforcement adds to the decayed weight, floor 0")
    func reinforcement() {
        let decay = ForwardDecay(halfLife: 10, landmark: 0)
        let k = decay.key(weight: 4, at: 0)
        let k2 = decay.reinforced(key: k, by: 1, at: 10)  // 4 halves to 2, plus 1
        #expect(abs(decay.weight(key: k2, at: 10) - 3) < 1e-12)
        let k3 = decay.reinforced(key: k2, by: -5, at: 10)
        #expect(decay.weight(key: k3, at: 10) == 0)
        #expect(k3 == ForwardDecay.zeroKey)
        #expect(decay.weight(key: k3, at: 1e9) == 0)
        let k4 = decay.reinforced(key: k3, by: 2, at: 20)
        #expect(abs(decay.weight(key: k4, at: 20) - 2) < 1e-12)
    }

    @Test("ordering by key is ordering by current weight at every instant")
    func orderingInvariant() {
        let decay = ForwardDecay(halfLife: 3, landmark: 100)
        var rng = SplitMix64(seed: 42)
        let rows: [Double] = (0..<200).map { _ in
            let w = Double(rng.next() % 10_000) / 100 + 0.01
            let t = 100 + Double(rng.next() % 1000) / 10
            return decay.key(weight: w, at: t)
        }
        let byKey = rows.indices.sorted { rows[$0] > rows[$1] }
        for now in [200.0, 250, 1000] {
            let weights = rows.map { decay.weight(key: $0, at: now) }
            for (a, b) in zip(byKey, byKey.dropFirst()) { #expect(weights[a] >= weights[b]) }
        }
    }

    @Test("faded is a range condition on the key")
    func fadedThreshold() {
        let decay = ForwardDecay(halfLife: 1, landmark: 0)
        let key = decay.key(weight: 1, at: 0)
        let threshold = 0.05
        for t in stride(from: 0.0, through: 10, by: 0.25) {
            let faded = decay.weight(key: key, at: t) < threshold
            #expect(faded == (key < decay.thresholdKey(threshold, at: t)), "t=\(t)")
        }
    }

    @Test("rebasing the landmark keeps every weight")
    func rebase() {
        let old = ForwardDecay(halfLife: 2, landmark: 0)
        let now = 1_000_000.0
        let new = ForwardDecay(halfLife: 2, landmark: now)
        for w in [0.001, 1, 77] {
            let key = old.key(weight: w, at: now - 5)
            let moved = old.rebased(key: key, to: now)
            #expect(abs(new.weight(key: moved, at: now + 3) - old.weight(key: key, at: now + 3)) < 1e-9 * w)
        }
    }
}
