import Testing
@testable import TrailEmbedding

@Suite struct RecentVectorsTests {
    @Test func aTextAskedAgainIsFoundAndCounted() {
        let recent = RecentVectors(capacity: 8)
        #expect(recent.lookup("where is the build cache") == nil)
        recent.keep("where is the build cache", [1, 0])
        #expect(recent.lookup("where is the build cache") == [1, 0])
        #expect(recent.counts == (hits: 1, misses: 1))
    }

    @Test func aLongTextIsNotKept() {
        let recent = RecentVectors(capacity: 8, longestText: 16)
        recent.keep(String(repeating: "a", count: 17), [1])
        recent.keep(String(repeating: "b", count: 16), [2])
        #expect(recent.count == 1)
        #expect(recent.lookup(String(repeating: "b", count: 16)) == [2])
    }

    @Test func theKeyIsTheWholeText() {
        let recent = RecentVectors(capacity: 8)
        recent.keep("fix-3 resolved it", [1])
        #expect(recent.lookup("fix-5 resolved it") == nil)
        #expect(recent.lookup("fix-3 resolved it ") == nil)
        #expect(recent.lookup("fix-3 resolved it") == [1])
    }

    @Test func neverHoldsMoreThanItsCapacityAndKeepsWhatIsInUse() {
        let recent = RecentVectors(capacity: 4)
        for i in 0..<100 {
            recent.keep("text \(i)", [Float(i)])
            // "text 0" is asked after every insert: it stays while others come and go.
            #expect(recent.lookup("text 0") == [0])
            #expect(recent.count <= 4)
        }
        #expect(recent.lookup("text 1") == nil)
        #expect(recent.lookup("text 99") == [99])
    }

    @Test func aCapacityBelowTwoHoldsNothing() {
        let recent = RecentVectors(capacity: 1)
        recent.keep("a", [1])
        #expect(recent.lookup("a") == nil)
        #expect(recent.count == 0)
    }
}
