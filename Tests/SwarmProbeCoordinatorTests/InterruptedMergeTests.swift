import SwarmProbeCore
import Testing

@testable import SwarmProbeCoordinator

/// An interrupted check is decided from what was gathered, like a complete one: only the checks an end had not
/// reported yet are `inconclusive` with reason `interrupted`.
@Suite("Merge of an interrupted check")
struct InterruptedMergeTests {
    let nodes = [
        Node(name: "m1", address: IPAddress("10.9.0.1")!, role: .manager),
        Node(name: "w1", address: IPAddress("10.9.0.2")!, role: .worker),
        Node(name: "w2", address: IPAddress("10.9.0.3")!, role: .worker),
    ]
    let profile = DefaultProfile.load()

    /// m1's run answered in full (its probe to w1 on the first kind silent), w1 was stopped with one probe
    /// unfinished (to w2 on the first kind), w2 was never stopped; m1 and w1 handed over their logs, w2 did not.
    func gathered() -> Gathered {
        var g = Gathered()
        let kinds = profile.enabledKinds
        for n in nodes {
            let listeners = kinds.map { ListenerState(kind: $0.kindID, mode: .listening) }
            g.recordHello(
                n, HelloResponse(agentVersion: "t", address: n.address, timeMs: 0, profile: "swarm", listeners: listeners), clockOffsetMs: 0)
        }
        func run(_ from: Node, skip: (Node, KindID)? = nil, silent: (Node, KindID)? = nil) -> RunResponse {
            var reports: [ProbeReport] = []
            for k in kinds {
                for to in nodes where to.name != from.name {
                    if let skip, skip.0.name == to.name && skip.1 == k.kindID { continue }
                    let quiet = silent.map { $0.0.name == to.name && $0.1 == k.kindID } ?? false
                    let evidence =
                        quiet ? SenderEvidence(outcome: .timeout, attempts: 3) : SenderEvidence(outcome: .answered, attempts: 1, rttMicros: 300)
                    reports.append(ProbeReport(target: to.address, kind: k.kindID, evidence: evidence))
                }
            }
            return RunResponse(runID: "r", results: reports)
        }
        g.recordRun(nodes[0], run(nodes[0], silent: (nodes[1], first)), kinds: kinds)
        g.recordRun(nodes[1], run(nodes[1], skip: (nodes[2], first)), kinds: kinds)
        for n in nodes.prefix(2) { g.recordLog(n, LogResponse(runID: "r", entries: [], truncated: false)) }
        return g
    }

    var first: KindID { profile.enabledKinds[0].kindID }

    func decided(complete: Bool) -> [String: CheckResult] {
        var out: [String: CheckResult] = [:]
        Merge.forEachResult(inventory: Inventory(nodes: nodes), profile: profile, gathered: gathered(), complete: complete) {
            out["\($0.from)>\($0.to) \($0.kindID)"] = $0
        }
        return out
    }

    @Test func whatWasGatheredIsDecidedTheRestIsUndecided() throws {
        let checks = decided(complete: false)
        #expect(checks.count == 3 * 2 * profile.enabledKinds.count)
        for c in checks.values {
            let key = "\(c.from)>\(c.to) \(c.kindID)"
            switch (c.from, c.to) {
            case ("m1", "w1") where c.kindID == first:
                // Silent, and w1's log is in: decided as a complete check would.
                #expect(c.verdict == .blocked && c.reason == .silentUnknownLayer, "\(key): \(c.verdict) \(c.reason)")
            case ("w1", "w2") where c.kindID == first:
                // w1's probe had not ended when it was stopped.
                #expect(c.verdict == .inconclusive && c.reason == .interrupted, "\(key): \(c.verdict) \(c.reason)")
                #expect(c.detail.contains("before w1's probe to w2 ended"), "\(c.detail)")
            case ("w2", _):
                // w2 was never stopped: nothing of its probes is known.
                #expect(c.verdict == .inconclusive && c.reason == .interrupted, "\(key): \(c.verdict) \(c.reason)")
            default:
                // Answered: open, even to w2, whose log is missing (the answer alone proves the path).
                #expect(c.verdict == .open && c.reason == .answered, "\(key): \(c.verdict) \(c.reason)")
            }
        }
        let s = Summary(checks: Array(checks.values), complete: false)
        #expect(s.undecided == 1 + 2 * profile.enabledKinds.count)
        #expect(s.status == "incomplete" && s.exitCode == 1)
    }

    @Test func aCompleteCheckStillCallsAMissingReportLost() {
        let c = decided(complete: true)
        #expect(c["w1>w2 \(first)"]?.reason == .senderReportLost)
        #expect(c["w2>m1 \(first)"]?.verdict == .agentDown)
        #expect(!c.values.contains { $0.reason == .interrupted })
    }

    @Test func undecidedOnlyWhereAnEndHadNotReported() {
        let lost = Decision(.agentDown, nil, .targetReportLost)
        #expect(Merge.undecided(lost, senderContacted: true, targetContacted: true))
        #expect(Merge.undecided(Decision(.agentDown, nil, .senderReportLost), senderContacted: true, targetContacted: true))
        #expect(Merge.undecided(Decision(.agentDown, nil, .senderAgentDown), senderContacted: false, targetContacted: true))
        #expect(Merge.undecided(Decision(.agentDown, nil, .targetAgentDown), senderContacted: true, targetContacted: false))
        // A target known down, and every verdict the evidence settles, stand.
        #expect(!Merge.undecided(Decision(.agentDown, nil, .targetAgentDown), senderContacted: true, targetContacted: true))
        #expect(!Merge.undecided(Decision(.open, nil, .answered), senderContacted: true, targetContacted: true))
        #expect(!Merge.undecided(Decision(.closed, nil, .nothingListening), senderContacted: true, targetContacted: true))
        #expect(!Merge.undecided(Decision(.blocked, .network, .silentBeforeTarget), senderContacted: true, targetContacted: true))
    }
}
