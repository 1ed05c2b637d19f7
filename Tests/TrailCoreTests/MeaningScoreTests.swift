import Foundation
import Testing
@testable import TrailCore

@Suite("The score of a sense by meaning")
struct MeaningScoreTests {
    func score(_ similarity: Double, best: Double = 0.84, weight: Double, rank: Double? = nil) -> Double {
        MeaningScore.alone(similarity: similarity, best: best, weight: weight, rank: rank)
    }

    @Test("within 0.15 of the best, 0.1 nearer is worth 1 + weight e^0.05 times as large")
    func strengthLeadsInTheBand() {
        let factor = exp(0.05)
        #expect(score(0.74, weight: factor * 2 - 1 + 0.01) > score(0.84, weight: 1))
        #expect(score(0.74, weight: factor * 2 - 1 - 0.01) < score(0.84, weight: 1))
        // Equal weights keep the order of similarity.
        #expect(score(0.80, weight: 1) > score(0.79, weight: 1))
        // Graph rank counts as weight does.
        #expect(score(0.74, weight: 1, rank: 0.2) > score(0.84, weight: 1))
    }

    @Test("below the band meaning leads: 0.1 further needs e times 1 + weight")
    func meaningLeadsBelowTheBand() {
        let edge = score(0.69, weight: 1)
        #expect(score(0.59, weight: M_E * 2 - 1 - 0.01) < edge)
        #expect(score(0.59, weight: M_E * 2 - 1 + 0.01) > edge)
        #expect(score(0.40, weight: 5) < score(0.69, weight: 0))
    }

    @Test("both terms only raise the score; a negative weight counts as none")
    func monotone() {
        for s in stride(from: -1.0, to: 1.0, by: 0.01) {
            #expect(score(s + 0.01, weight: 2) > score(s, weight: 2))
            #expect(score(s, weight: 3) > score(s, weight: 2))
        }
        #expect(score(0.5, weight: -3) == score(0.5, weight: 0))
        #expect(abs(score(0.84, weight: 0) - (0.69 + 0.05 * 0.15)) < 1e-12)
    }
}
