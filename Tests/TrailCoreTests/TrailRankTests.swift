import Testing
@testable import TrailCore

@Suite("Trail rank")
struct TrailRankTests {
    @Test("a cycle with uniform weights ranks every node 1")
    func uniformCycle() {
        let (ranks, _) = TrailRank.compute(weights: [1, 1, 1], from: [0, 1, 2], to: [1, 2, 0], edgeWeight: [1, 1, 1])
        for r in ranks { #expect(abs(r - 1) < 1e-9) }
    }

    @Test("mean rank is 1 and a node many trails lead to ranks highest")
    func hub() {
        // 1, 2, 3 all lead to 0; 0 leads nowhere (dangling).
        let (ranks, iterations) = TrailRank.compute(weights: [1, 1, 1, 1], from: [1, 2, 3], to: [0, 0, 0], edgeWeight: [1, 2, 3])
        #expect(abs(ranks.reduce(0, +) / 4 - 1) < 1e-9)
        #expect(ranks[0] == ranks.max())
        #expect(iterations < TrailRank.maxIterations)
    }

    @Test("personalisation follows note weight when there are no trails")
    func personalised() {
        let (ranks, _) = TrailRank.compute(weights: [3, 1], from: [], to: [], edgeWeight: [])
        #expect(abs(ranks[0] - 1.5) < 1e-9 && abs(ranks[1] - 0.5) < 1e-9)
        #expect(TrailRank.compute(weights: [], from: [], to: [], edgeWeight: []).ranks.isEmpty)
    }
}
