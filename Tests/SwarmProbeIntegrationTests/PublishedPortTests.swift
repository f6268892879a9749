import Foundation
import SwarmProbeCore
import SwarmProbeLab
import Testing

/// `check --published` on the namespace lab: the coordinator (in the switch namespace, standing for the clients
/// and the load balancer) probes each node's published ports, which the agents hold before any service exists.
/// One node is cut off by the network, one rejects the port in its own firewall, one loses the answers on the
/// way back; each gets its verdict, its `where`, and the finding that explains it.
@Suite("published ports", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct PublishedPortTests {
    static let web = KindID(proto: .tcp, port: 8080)
    static let dns = KindID(proto: .udp, port: 9053)

    @Test("network drop, host firewall, lost return path: verdict, where and finding per node")
    func preflight() throws {
        let scenario = LabScenario(
            name: "published", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker), ("w3", .worker)],
            faults: [
                .networkDrop(from: Lab.coordinator, to: "w1", kind: Self.web),
                .hostFirewall(node: "w2", from: nil, kind: Self.web, reject: true),
                .returnPathDrop(from: Lab.coordinator, to: "w3", kind: Self.web),
                .hostFirewall(node: "w3", from: nil, kind: Self.dns, reject: false),
            ])
        try withLab(scenario, agentArguments: ["--published", "8080/tcp,9053/udp"]) { lab, token in
            let run = try runCheck(lab, token: token, extra: ["--published", "8080/tcp,9053/udp", "--client-name", Lab.coordinator])
            #expect(run.status == 1, "\(run.stderr)")
            let r = run.results
            let published = r.checks.filter { $0.published != nil }
            // Every node, both ports, from the coordinator's vantage.
            #expect(published.count == 8)
            for c in published {
                #expect(c.from == Lab.coordinator && c.required)
                #expect(c.published == PublishedCheck(service: nil, mode: .ingress))
                let (v, w) = scenario.expected(from: c.from, to: c.to, kind: c.kindID, capture: true)
                #expect(
                    c.verdict == v && c.location == w,
                    "\(c.to) \(c.kindID): expected \(v)/\(w?.rawValue ?? "-"), got \(c.verdict)/\(c.location?.rawValue ?? "-"): \(c.detail)")
            }
            // The node-to-node mesh is untouched by the clients' faults.
            #expect(r.checks.filter { $0.published == nil }.allSatisfy { $0.verdict == .open })

            let mesh = try #require(r.routingMesh)
            #expect(mesh.client == Lab.coordinator && mesh.clientAddress == lab.coordinatorAddress)
            #expect(mesh.ports.map(\.kindID) == [Self.web, Self.dns])

            // One finding per failing node and port, and the code says which layer to fix.
            let findings = Dictionary(r.nodeFindings.compactMap { f in f.port.map { ("\(f.node) \($0)", f) } }, uniquingKeysWith: { a, _ in a })
            #expect(findings.count == 4, "\(r.nodeFindings)")
            #expect(findings["w1 8080/tcp"]?.code == "published-port-network")
            #expect(findings["w2 8080/tcp"]?.code == "published-port-host-firewall")
            #expect(findings["w2 8080/tcp"]?.detail.contains("rejected") == true)
            #expect(findings["w3 8080/tcp"]?.code == "published-port-return-path")
            #expect(findings["w3 9053/udp"]?.code == "published-port-host-firewall")
            #expect(findings.keys.allSatisfy { !$0.hasPrefix("m1") })

            // The report's section: a line per node, the explanation under each failing one.
            #expect(run.markdown.contains("## Routing mesh"))
            #expect(run.markdown.contains("| m1 | answered |"))
            #expect(run.markdown.contains("| w1 | silent: blocked in the network |"))
            #expect(run.markdown.contains("| w2 | refused: blocked by the node's firewall |"))
            #expect(run.stdout.contains("Routing mesh: published ports probed from coordinator"))
        }
    }

    @Test("an agent not started with --published: the check says the port is not held, not that the network is broken")
    func agentWithoutPublished() throws {
        let scenario = LabScenario(name: "nopub", nodes: [("m1", .manager), ("w1", .worker)], faults: [])
        try withLab(scenario) { lab, token in
            let run = try runCheck(lab, token: token, extra: ["--published", "8080/tcp", "--client-name", Lab.coordinator])
            #expect(run.status == 1)
            let published = run.results.checks.filter { $0.published != nil }
            #expect(published.count == 2)
            // Nothing listens on 8080 in the lab: the node refuses, and the finding says so.
            #expect(published.allSatisfy { $0.verdict == .closed }, "\(published.map(\.detail))")
            #expect(run.results.nodeFindings.allSatisfy { $0.code == "published-port-closed" })
        }
    }
}
