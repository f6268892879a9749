import Testing

@testable import SwarmProbeCore

@Suite("Recent log")
struct RecentLogTests {
    struct Event: Timestamped, Equatable {
        var timeMs: Int64
        var id: Int
    }

    @Test("keeps at most its capacity, oldest out first, and counts what it pushed out")
    func capacity() {
        var log = RecentLog<Event>(capacity: 4, retentionMs: 1_000_000)
        var evicted: [Int] = []
        for i in 0..<10 {
            let r = log.append(Event(timeMs: Int64(i), id: i))
            if let e = r.evicted { evicted.append(e.id) }
            #expect(log[r.slot].id == i)
        }
        #expect(log.inOrder.map(\.id) == [6, 7, 8, 9])
        #expect(evicted == [0, 1, 2, 3, 4, 5])
        #expect(log.overwritten == 6)
    }

    @Test("drops what is older than its retention, when asked and every 1,024 appends, and says so")
    func retention() {
        var log = RecentLog<Event>(capacity: 100_000, retentionMs: 300_000)
        for i in 0..<500 { log.append(Event(timeMs: Int64(i), id: i)) }  // a check at t = 0
        let early = log.prune(now: 300_000)
        #expect(!early)  // nothing past the retention yet
        #expect(log.count == 500)
        let half = log.prune(now: 300_250)
        #expect(half)  // half of it is
        #expect(log.inOrder.map(\.id) == Array(250..<500))
        #expect(log.count == 250)
        // The next check, an hour later: its 1,024th append sweeps the first check out.
        var moved = false
        for i in 0..<1024 { moved = log.append(Event(timeMs: 3_600_000 + Int64(i), id: 1000 + i)).moved || moved }
        #expect(moved)
        #expect(log.inOrder.first?.id == 1000)
        #expect(log.count == 1024)
        #expect(log.overwritten == 0)  // aged out, not pushed out
    }

    @Test("after a sweep of a full log, slots and order still agree")
    func sweepOfAFullLog() {
        var log = RecentLog<Event>(capacity: 8, retentionMs: 100)
        for i in 0..<12 { log.append(Event(timeMs: Int64(i * 10), id: i)) }  // full, head in the middle
        let swept = log.prune(now: 190)
        #expect(swept)  // keeps times >= 90: ids 9, 10, 11
        #expect(log.inOrder.map(\.id) == [9, 10, 11])
        #expect((0..<log.count).map { log[$0].id } == [9, 10, 11])
        let r = log.append(Event(timeMs: 200, id: 12))
        #expect(r.slot == 3 && r.evicted == nil && log.inOrder.map(\.id) == [9, 10, 11, 12])
    }

    @Test("drops what no pending run can need, whatever its retention")
    func dropOlderThan() {
        var log = RecentLog<Event>(capacity: 8, retentionMs: 60_000)
        for i in 0..<12 { log.append(Event(timeMs: Int64(i * 10), id: i)) }  // full: ids 4...11, head in the middle
        var dropped = log.drop(olderThan: 40)
        #expect(!dropped)  // nothing older than the oldest kept
        dropped = log.drop(olderThan: 75)
        #expect(dropped)
        #expect(log.inOrder.map(\.id) == [8, 9, 10, 11])
        #expect((0..<log.count).map { log[$0].id } == [8, 9, 10, 11])
        dropped = log.drop(olderThan: 1_000)
        #expect(dropped && log.count == 0)
        dropped = log.drop(olderThan: 2_000)
        #expect(!dropped)
    }
}
