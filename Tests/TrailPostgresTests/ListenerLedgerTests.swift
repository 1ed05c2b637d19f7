import Testing
@testable import TrailPostgres

@Suite("Listener ledger: where a catch-up starts")
struct ListenerLedgerTests {
    @Test("starts at the log's end; delivers each seq once")
    func once() {
        var ledger = ListenerLedger(settle: 10, top: 100)
        #expect(!ledger.isNew(100) && ledger.isNew(101))
        ledger.deliver(103)
        #expect(!ledger.isNew(103) && ledger.isNew(102))
    }

    @Test("the floor rises only to a mark older than settle, and forgets what lies below it")
    func floorRises() {
        var ledger = ListenerLedger(settle: 10, top: 100)
        ledger.deliver(105)
        ledger.mark(105, at: 1)
        ledger.deliver(102)
        ledger.mark(110, at: 5)
        ledger.settle(at: 10.5)
        // 102 could still be followed by a lower seq committing late: not before 11.
        #expect(ledger.floor == 100)
        ledger.settle(at: 11)
        #expect(ledger.floor == 105)
        #expect(ledger.delivered.isEmpty)
        #expect(!ledger.isNew(104) && ledger.isNew(106))
        ledger.settle(at: 15)
        #expect(ledger.floor == 110)
    }

    @Test("a lower mark after a higher one changes nothing; a gap skips past its end")
    func marksAndGaps() {
        var ledger = ListenerLedger(settle: 1, top: 0)
        ledger.mark(50, at: 0)
        ledger.mark(40, at: 0.5)
        ledger.settle(at: 2)
        #expect(ledger.floor == 50)
        ledger.deliver(60)
        ledger.mark(70, at: 3)
        ledger.skip(through: 65)
        #expect(ledger.floor == 65 && ledger.delivered.isEmpty)
        ledger.settle(at: 10)
        #expect(ledger.floor == 70)
        ledger.skip(through: 10)
        #expect(ledger.floor == 70)
    }
}
