import SwarmProbeAWS
import SwarmProbeCore
import Testing

@Suite("check --aws: probes next to the AWS configuration")
struct CombineTests {
    let kind = TrafficKind(name: "overlay-data", proto: .udp, port: 4789, dataPath: true)

    func check(_ verdict: Verdict, _ location: Where?) -> CheckResult {
        CheckResult(
            from: "a", to: "b", kind: kind, required: true, decision: Decision(verdict, location, .silentBeforeTarget),
            detail: "probe said so.", sender: nil, receiver: nil)
    }

    func audit(_ verdict: Verdict, _ location: Where?) -> AWSAuditResult {
        AWSAuditResult(
            profile: "p", nodes: [],
            paths: [
                AWSPathDecision(
                    from: "a", to: "b", kind: kind.name, kindID: kind.kindID, required: true,
                    verdict: verdict, location: location, detail: "sg-1 has no inbound rule for UDP 4789",
                    layers: [])
            ],
            remediation: [], inventory: [])
    }

    func combine(_ probe: (Verdict, Where?), _ aws: (Verdict, Where?)) -> (CheckResult, AWSCombine.Summary) {
        var r = Results(
            toolVersion: "t", profile: "p", startedAt: "s", durationMs: 1, timeoutMs: 1, complete: true,
            nodes: [], checks: [check(probe.0, probe.1)])
        let s = AWSCombine.annotate(&r, with: audit(aws.0, aws.1))
        return (r.checks[0], s)
    }

    @Test func blockedInBothNamesTheRule() {
        let (c, s) = combine((.blocked, .network), (.blocked, .network))
        #expect(c.verdict == .blocked && c.location == .network)
        #expect(c.detail.contains("AWS agrees: sg-1 has no inbound rule for UDP 4789"))
        #expect(s == AWSCombine.Summary(explained: 1, outsideAWS: 0, contradictions: 0))
    }

    @Test func blockedButAWSAllowsPointsElsewhere() {
        let (c, s) = combine((.blocked, .network), (.open, nil))
        #expect(c.detail.contains("not in AWS's configuration") && c.detail.contains("outside AWS"))
        #expect(s.outsideAWS == 1)
        let (fw, _) = combine((.blocked, .hostFirewall), (.open, nil))
        #expect(fw.detail.contains("not in AWS's configuration") && !fw.detail.contains("outside AWS"))
    }

    @Test func openButAWSDeniesIsAContradiction() {
        let (c, s) = combine((.open, nil), (.blocked, .network))
        #expect(c.verdict == .open, "packets outrank configuration")
        #expect(c.detail.contains("Contradiction worth a look"))
        #expect(s.contradictions == 1)
    }

    @Test func agreementOnOpenAddsNothing() {
        let (c, s) = combine((.open, nil), (.open, nil))
        #expect(c.detail == "probe said so.")
        #expect(s == AWSCombine.Summary())
    }
}
