import SwarmProbeCore
import Testing

@testable import SwarmProbeCoordinator

/// Published ports decided from the vantage's probes and the targets' evidence, after the mesh's checks.
@Suite("Merge of published ports")
struct PublishedMergeTests {
    let nodes = [
        Node(name: "m1", address: IPAddress("10.9.0.1")!, role: .manager),
        Node(name: "w1", address: IPAddress("10.9.0.2")!, role: .worker),
        Node(name: "w2", address: IPAddress("10.9.0.3")!, role: .worker),
    ]
    let profile = DefaultProfile.load()
    let web = KindID(proto: .tcp, port: 8080)
    let dns = KindID(proto: .udp, port: 9053)

    /// Every agent up and holding 8080/tcp; the vantage's probe to w2 timed out, the rest were answered.
    func gathered(vantageReported: Bool = true) -> Gathered {
        var g = Gathered()
        for n in nodes {
            let listeners = (profile.enabledKinds.map(\.kindID) + [web]).map { ListenerState(kind: $0, mode: .listening) }
            g.recordHello(
                n, HelloResponse(agentVersion: "t", address: n.address, timeMs: 0, profile: "swarm", listeners: listeners), clockOffsetMs: 0)
            g.recordLog(n, LogResponse(runID: "r", entries: [], truncated: false))
        }
        g.published = [
            PublishedTarget(port: web),
            PublishedTarget(port: dns, mode: .host, service: "dns", nodes: ["m1"], taskNodes: ["m1"]),
        ]
        g.vantage = VantageRef(name: "lb", address: IPAddress("10.9.0.100")!)
        if vantageReported {
            let reports =
                nodes.map { n in
                    ProbeReport(
                        target: n.address, kind: web,
                        evidence: n.name == "w2" ? SenderEvidence(outcome: .timeout, attempts: 3) : SenderEvidence(outcome: .answered, attempts: 1))
                } + [ProbeReport(target: nodes[0].address, kind: dns, evidence: SenderEvidence(outcome: .answered, attempts: 1))]
            g.recordRun("lb", RunResponse(runID: "r", results: reports))
        }
        return g
    }

    func decided(_ g: Gathered, complete: Bool = true) -> [CheckResult] {
        var out: [CheckResult] = []
        Merge.forEachResult(inventory: Inventory(nodes: nodes), profile: profile, gathered: g, complete: complete) { out.append($0) }
        return out
    }

    @Test("after the mesh's checks: one per node for an ingress port, only task nodes for a host-mode one")
    func planAndVerdicts() {
        let all = decided(gathered())
        let mesh = all.filter { $0.published == nil }
        #expect(mesh.count == 3 * 2 * profile.enabledKinds.count)
        let published = Array(all.suffix(4))
        #expect(published.allSatisfy { $0.published != nil && $0.from == "lb" && $0.required })
        #expect(published.map { "\($0.to) \($0.kindID)" } == ["m1 8080/tcp", "w1 8080/tcp", "w2 8080/tcp", "m1 9053/udp"])
        #expect(published.map(\.verdict) == [.open, .open, .blocked, .open])
        #expect(published[3].published == PublishedCheck(service: "dns", mode: .host) && published[3].kind == "dns 9053/udp")
        // The streamed, parallel pass gives the same checks in the same order.
        var blocks: [CheckResult] = []
        Merge.forEachBlock(
            inventory: Inventory(nodes: nodes), profile: profile, gathered: gathered(), complete: true, workers: 2, rowsPerBlock: 1,
            produce: Merge.keepChecks
        ) { blocks += $0 }
        #expect(blocks == all)
    }

    @Test("the vantage's plan: each expected node once per port, live ports probed gently")
    func plan() {
        let targets = [
            PublishedTarget(port: web), PublishedTarget(port: web, service: "web"),
            PublishedTarget(port: dns, mode: .host, service: "dns", nodes: ["w1"]),
        ]
        let plan = Vantage.plan(runID: "r", targets: targets, nodes: nodes, address: IPAddress("10.9.0.100")!, attempts: 3, timeoutMs: { _ in 500 })
        #expect(
            plan.probes.map { "\($0.target) \($0.kind) \($0.observed)" } == [
                "10.9.0.1 8080/tcp false", "10.9.0.2 8080/tcp false", "10.9.0.3 8080/tcp false", "10.9.0.2 9053/udp true",
            ])
        #expect(plan.nodes.contains { $0.address == IPAddress("10.9.0.100")! })
    }

    @Test("probed from a node itself: its taps cannot judge a probe that never crosses its interface")
    func fromTheNodeItself() {
        var g = gathered()
        g.vantage = VantageRef(name: "lb", address: nodes[2].address)
        // w2's interface tap is up and saw nothing: from w2 itself that is no evidence of a network drop.
        let listeners = (profile.enabledKinds.map(\.kindID) + [web]).map { ListenerState(kind: $0, mode: .listening) }
        let taps = [TapState(tap: .interface, active: true), TapState(tap: .nflog, active: true)]
        g.recordHello(
            nodes[2], HelloResponse(agentVersion: "t", address: nodes[2].address, timeMs: 0, profile: "swarm", listeners: listeners, taps: taps),
            clockOffsetMs: 0)
        let w2 = decided(g).first { $0.published != nil && $0.to == "w2" }
        #expect(w2?.receiver?.capture == nil && w2?.location != .network, "\(String(describing: w2))")
        // The same from elsewhere: the tap's silence says the network dropped it.
        g.vantage = VantageRef(name: "lb", address: IPAddress("10.9.0.100")!)
        let remote = decided(g).first { $0.published != nil && $0.to == "w2" }
        #expect(remote?.location == .network, "\(String(describing: remote))")
    }

    @Test("interrupted before the vantage reported: its checks are undecided, not blocked")
    func interrupted() {
        let published = decided(gathered(vantageReported: false), complete: false).filter { $0.published != nil }
        #expect(published.count == 4)
        #expect(published.allSatisfy { $0.verdict == .inconclusive && $0.reason == .interrupted }, "\(published.map(\.reason))")
    }
}
