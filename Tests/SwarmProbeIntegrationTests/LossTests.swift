import Foundation
import SwarmProbeCore
import SwarmProbeLab
import Testing

/// Random loss on a link must cost retries, never a verdict: an nftables `numgen` rule drops
/// 10 % of one node's packets each way (19 % of round trips), beside real faults on and off that link.
@Suite("random loss", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct LossTests {
    let udp7946 = KindID(proto: .udp, port: 7946)
    let tcp7946 = KindID(proto: .tcp, port: 7946)
    let tcp2377 = KindID(proto: .tcp, port: 2377)
    let vxlan = KindID(proto: .udp, port: 4789)

    @Test("10 % loss each way on one link, three checks with the default timeout and tries: no wrong verdict")
    func lossyLink() throws {
        let scenario = LabScenario(
            name: "lossy",
            nodes: [("m1", .manager), ("m2", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [
                .randomLoss(node: "w1", percent: 10),
                // Real faults on the lossy node's paths: their layer must still come out right.
                .hostFirewall(node: "w1", from: "m1", kind: udp7946, reject: false),
                .networkDrop(from: "m2", to: "w1", kind: tcp2377),
                .hostFirewall(node: "w1", from: "w2", kind: tcp7946, reject: true),
                // And one elsewhere.
                .networkDrop(from: "w2", to: "m2", kind: vxlan),
            ])
        try withLab(scenario) { lab, token in
            var retried = 0, lossyChecks = 0
            for run in 1...3 {
                let r = try runCheck(lab, token: token, timeout: "auto")
                #expect(r.status == 1, "run \(run): \(r.stderr)")
                #expect(r.results.timeoutPolicy == "auto")
                // Every sender has its capture tap, so the floor is that for 3 peers; above it, what the measured
                // hello round trips give (a lost packet may have stretched one), never a figure of this machine's.
                let rtts = r.results.nodes.compactMap(\.controlRTTMicros)
                #expect(rtts.count == 4)
                let floor = ProbeTiming.floorMs(peers: 3, capture: true)
                let longest = rtts.indices.flatMap { a in
                    rtts.indices.filter { $0 != a }.map { b in
                        ProbeTiming.timeoutMs(rttMicros: rtts[a] + rtts[b], floor: floor)
                    }
                }.max()
                #expect(r.results.timeoutMs == longest)
                #expect(r.results.attempts == ProbeTiming.defaultAttempts)
                expectMatches(r.results, scenario, capture: true)
                for c in r.results.checks where (c.from == "w1" || c.to == "w1") && c.verdict == .open {
                    lossyChecks += 1
                    if (c.sender?.attempts ?? 0) > 1 { retried += 1 }
                }
            }
            // The loss was real: some probes over w1's link needed more than one try.
            #expect(retried > 0, "no retries in \(lossyChecks) open checks over the lossy link: was the loss injected?")
        }
    }
}
