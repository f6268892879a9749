import NIOCore
import NIOPosix
import SwarmProbeCore
import Testing

@testable import SwarmProbeAgent

@Suite("Run pacing: when a probe counts as silence")
struct RunPacingTests {
    let timeout = TimeAmount.milliseconds(200)

    @Test("a quiet run: silence at the timeout")
    func quiet() {
        let pacing = RunPacing()
        let start = NIODeadline.now() - .seconds(1)
        #expect(pacing.deadline(start: start, lastTry: start, timeout: timeout) == start + timeout)
    }

    @Test("slow answers: one RTO after the last try, never past the ceiling")
    func rtoAfterLastTry() {
        let pacing = RunPacing()
        pacing.add(micros: 100_000)  // SRTT 100 ms, RTTVAR 50 ms: RTO 300 ms
        let start = NIODeadline.now() - .seconds(10)
        #expect(pacing.deadline(start: start, lastTry: start + .milliseconds(150), timeout: timeout) == start + .milliseconds(450))
        pacing.add(micros: 60_000_000)
        #expect(pacing.deadline(start: start, lastTry: start, timeout: timeout) == start + .milliseconds(Int64(ProbeTiming.ceilingMs)))
    }

    @Test("answers still coming in: silence only one SRTT after the latest of them")
    func waitsForTheRunToGoQuiet() {
        let pacing = RunPacing()
        pacing.add(micros: 100_000)  // SRTT 100 ms
        let start = NIODeadline.now() - .seconds(1)
        // Without arrivals: the RTO rule alone, long past.
        #expect(pacing.deadline(start: start, lastTry: start, timeout: timeout) == start + .milliseconds(300))
        let before = NIODeadline.now()
        pacing.arrived()
        let after = NIODeadline.now()
        let deadline = pacing.deadline(start: start, lastTry: start, timeout: timeout)
        #expect(deadline >= before + .milliseconds(100))
        #expect(deadline <= after + .milliseconds(100))
    }

    @Test("no retry before the run's first wave of first tries is out; a probe that could not send counts as out")
    func firstWave() {
        let pacing = RunPacing(firstWave: 3)
        pacing.firstTry()
        pacing.firstTry()
        #expect(!pacing.takeRetry(sinceLast: .seconds(1), timeout: timeout))
        pacing.noFirstTry()
        #expect(pacing.takeRetry(sinceLast: .seconds(1), timeout: timeout))
        // The gap still applies: a quarter of the timeout before any answer.
        #expect(!pacing.takeRetry(sinceLast: .milliseconds(10), timeout: timeout))
        #expect(RunPacing().takeRetry(sinceLast: .seconds(1), timeout: timeout))
    }

    @Test("the gap between tries is one RTO, but never most of the planned tries' spacing")
    func gapCappedBySpacing() {
        let pacing = RunPacing()
        pacing.firstTry()
        pacing.add(micros: 27_000)  // RTO 81 ms: a busy CPU's first answers
        // 8 tries over three quarters of 200 ms: 21.4 ms apart; the gap is capped at 17.1 ms.
        #expect(pacing.takeRetry(sinceLast: .milliseconds(21), timeout: .milliseconds(200), tries: 8))
        #expect(!pacing.takeRetry(sinceLast: .milliseconds(15), timeout: .milliseconds(200), tries: 8))
        // Without the probe's plan, the RTO alone.
        #expect(!pacing.takeRetry(sinceLast: .milliseconds(21), timeout: .milliseconds(200)))
        #expect(pacing.takeRetry(sinceLast: .milliseconds(82), timeout: .milliseconds(200)))
    }

    @Test("the timer lag of the agent's loops extends the wait")
    func lag() {
        let pacing = RunPacing()
        pacing.fired(due: NIODeadline.now() - .milliseconds(80))
        let start = NIODeadline.now() - .seconds(1)
        let deadline = pacing.deadline(start: start, lastTry: start, timeout: timeout)
        #expect(deadline >= start + timeout + .milliseconds(80))
        #expect(deadline < start + timeout + .seconds(2))  // the lag of a paused test thread, at worst
    }
}

@Suite("A datagram the kernel holds and the loop has not read")
struct QueuedBytesTests {
    @Test("SO_MEMINFO shows a waiting datagram until it is read")
    func queued() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let receiver = try await DatagramBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .bind(host: "127.0.0.1", port: 0).get()
        let sender = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        defer {
            receiver.close(promise: nil)
            sender.close(promise: nil)
        }
        let empty = try await receiver.eventLoop.submit { UDPProbeClient.queuedBytes(receiver) }.get()
        #expect(empty == 0)
        try await sender.writeAndFlush(
            AddressedEnvelope(
                remoteAddress: receiver.localAddress!,
                data: sender.allocator.buffer(bytes: [UInt8](repeating: 7, count: 100)))
        ).get()
        var waiting: UInt32 = 0
        for _ in 0..<100 where waiting == 0 {
            waiting = try await receiver.eventLoop.submit { UDPProbeClient.queuedBytes(receiver) }.get()
            if waiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(waiting >= 100)
        // Reading it empties the queue.
        try await receiver.setOption(.autoRead, value: true).get()
        var left: UInt32 = 1
        for _ in 0..<100 where left != 0 {
            try await Task.sleep(for: .milliseconds(10))
            left = try await receiver.eventLoop.submit { UDPProbeClient.queuedBytes(receiver) }.get()
        }
        #expect(left == 0)
    }
}

@Suite("Receive log")
struct ReceiveLogTests {
    func entry(_ nonce: String, _ timeMs: Int64) -> ReceiveLogEntry {
        ReceiveLogEntry(
            nonce: nonce, runID: "r1", kind: KindID(proto: .udp, port: 7946), claimedSender: IPAddress("198.18.0.1")!,
            sourceAddress: IPAddress("198.18.0.1")!, sourcePort: 40000, timeMs: timeMs, answered: false)
    }

    @Test("after dropping old entries, an answer still marks its own entry")
    func dropThenMark() {
        var log = ReceiveLog(capacity: 4)
        for i in 0..<6 { log.append(entry("n\(i)", Int64(i * 10))) }  // full: n2...n5, head in the middle
        log.drop(olderThan: 35)  // n4, n5 left, moved to slots 0 and 1
        log.markAnswered(nonce: "n5")
        log.markAnswered(nonce: "n1")  // gone long ago: nothing to mark
        let (entries, _) = log.entries(runID: "r1", now: 60)
        #expect(entries.map(\.nonce) == ["n4", "n5"])
        #expect(entries.map(\.answered) == [false, true])
    }

    @Test("only an echo or a refusal counts as an answer that arrived; silence, host-unreachable and local errors do not")
    func arrivals() {
        for outcome in ProbeOutcome.allCases {
            let end = ProbeEnd(outcome: outcome, attemptsSent: 1).arrivedWithPacket
            #expect(end.answerArrived == (outcome == .answered || outcome == .refused), "\(outcome)")
        }
    }
}
