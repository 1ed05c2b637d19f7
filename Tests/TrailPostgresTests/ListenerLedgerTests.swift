import Testing
import TrailCore
import TrailStore
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

private func event(_ seq: Int64) -> StoreEvent {
    let body = "note \(seq)"
    return StoreEvent(event: "deposited", note: Note(id: NoteID(body: body), ns: "default", body: body, tags: [], after: [], weight: 1,
                                                     rank: nil, deposits: 1, agent: nil, state: .live, createdAtMillis: 0,
                                                     updatedAtMillis: 0, retraction: nil), seq: seq)
}

@Suite("Listener book: one listening connection's turn at a time")
struct ListenerBookTests {
    @Test("the book opens at the log's end; each turn, the first too, catches up from the floor, skipping what it delivered")
    func turns() throws {
        let book = ListenerBook(settle: 10)
        let one = book.begin()
        #expect(book.start(one, top: 100, at: 0) == nil, "not opened: nowhere to catch up from")
        #expect(!book.isListening(one))
        book.open(top: 100)
        #expect(book.isOpened)
        #expect(book.start(one, top: 100, at: 0) == 100)
        #expect(book.isListening(one))
        var sent: [Int64] = []
        try book.hand([event(101), event(102)], live: true, turn: one) { sent.append($0.seq!) }
        book.end(one, at: 1)
        let two = book.begin()
        #expect(!book.isListening(two))
        #expect(book.start(two, top: 104, at: 2) == 100)
        try book.hand((101...104).map(event), live: false, turn: two) { sent.append($0.seq!) }
        #expect(sent == [101, 102, 103, 104])
    }

    @Test("a turn that ended (its connection abandoned) delivers nothing and moves nothing")
    func abandoned() throws {
        let book = ListenerBook(settle: 10)
        book.open(top: 100)
        let zero = book.begin()
        _ = book.start(zero, top: 100, at: 0)
        book.end(zero, at: 1)
        // Turn one's LISTEN never answered: it was given up.
        let one = book.begin()
        book.end(one, at: 2)
        var sent: [Int64] = []
        #expect(throws: ListenerBook.TurnOver.self) {
            try book.hand([event(101)], live: true, turn: one) { sent.append($0.seq!) }
        }
        #expect(throws: ListenerBook.TurnOver.self) { try book.skip(through: 200, turn: one) }
        let two = book.begin()
        // Answered late, the ended turn neither listens nor moves the floor.
        #expect(book.start(one, top: 150, at: 3) == nil)
        #expect(!book.isListening(one))
        #expect(book.start(two, top: 120, at: 4) == 100)
        try book.hand([event(101)], live: false, turn: two) { sent.append($0.seq!) }
        #expect(sent == [101])
    }

    @Test("turns cut before they read the log's end lose nothing: the first that listens catches up from where the book opened")
    func cutBeforeFirstStart() throws {
        let book = ListenerBook(settle: 10)
        book.open(top: 100)
        // Two connections cut before they got to listen (LISTEN in flight, or the log's end unread).
        for at in [1.0, 2.0] { book.end(book.begin(), at: at) }
        // Meanwhile 101 and 102 committed; the first turn that listens catches them up.
        let three = book.begin()
        #expect(book.start(three, top: 102, at: 3) == 100)
        var sent: [Int64] = []
        try book.hand([event(101), event(102)], live: false, turn: three) { sent.append($0.seq!) }
        #expect(sent == [101, 102])
        // Opening again (a later try of the read) moves nothing.
        book.open(top: 500)
        book.end(three, at: 4)
        #expect(book.start(book.begin(), top: 102, at: 5) == 100)
    }
}

@Suite("First end: the first of several ends, without waiting for the rest")
struct FirstEndTests {
    struct Boom: Error, Equatable { let n: Int }

    @Test("the waiter gets the first end's error; later ends change nothing; a task that never ends is not waited for")
    func first() async {
        let ended = FirstEnd()
        let never = Task { try await Task.sleep(for: .seconds(3600)) }
        defer { never.cancel() }
        Task { ended.end(Boom(n: 1)) }
        await #expect(throws: Boom(n: 1)) { try await ended.wait() }
        ended.end(Boom(n: 2))
        await #expect(throws: Boom(n: 1)) { try await ended.wait() }
    }

    @Test("cancelling the waiting task ends it")
    func cancelled() async {
        let ended = FirstEnd()
        let waiting = Task { try await ended.wait() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }
}
