import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// Host facts end to end: each agent reads its own namespace's forwarding, routes and nft ruleset at the
/// hello, and the check reports what breaks the routing mesh as node findings. (`ip_forward`, the routes and
/// the ruleset are all per network namespace.)
@Suite("host facts in a namespace lab", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct HostFactsLabTests {
    @Test("ip_forward off and a route inside the ingress network on one node: exactly those node findings, exit code 1")
    func forwardingAndRoute() throws {
        let scenario = LabScenario(name: "host", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)], faults: [])
        try withLab(scenario) { lab, token in
            try lab.setIPForward("w1", false)
            try lab.addRoute("w1", CIDR("10.255.7.0/24")!)
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1, "\(run.stderr)")
            #expect(run.results.checks.allSatisfy { $0.verdict == .open }, "\(run.results.checks.filter { $0.verdict != .open }.map(\.detail))")
            #expect(run.results.summary.status == "fail" && run.results.summary.requiredNotOpen == 0)
            // No dockerd on the lab: forwarding off is what a host has before Docker turns it on (information).
            #expect(run.results.summary.nodeFindings == 2 && run.results.summary.requiredNodeFindings == 1)
            let found = run.results.nodeFindings.map { "\($0.node) \($0.code)\($0.required ? "" : " (information)")" }
            #expect(
                found == ["w1 route-overlaps-ingress", "w1 ip-forward-off (information)"]
                    || found == ["w1 ip-forward-off (information)", "w1 route-overlaps-ingress"])
            #expect(run.results.nodeFindings.last?.detail.hasPrefix("route 10.255.7.0/24 dev eth0") == true)

            let hosts = Dictionary(uniqueKeysWithValues: run.results.nodes.map { ($0.name, $0.host) })
            let w1 = try #require(hosts["w1"] ?? nil)
            #expect(w1.ipForward == false)
            #expect(w1.routes.contains(HostRoute(destination: CIDR("10.255.7.0/24")!, device: "eth0")))
            for name in ["m1", "w2"] {
                let h = try #require(hosts[name] ?? nil)
                #expect(h.ipForward == true, "\(name)")
                #expect(h.routes == [HostRoute(destination: CIDR("198.18.0.0/16")!, device: "eth0")], "\(name): \(h.routes)")
                // nft answered (the agents run as root): the nflog tap's table hooks input, nothing hooks forward.
                #expect(h.forwardChains == [] && h.forwardPolicy == nil && h.ingressPorts == nil, "\(name): \(h)")
            }
            #expect(run.markdown.contains("## Node findings"))
            #expect(run.markdown.contains("**FAIL: all "))
        }
    }

    @Test("a published port DNATed by DOCKER-INGRESS and a native forward chain that drops it: read from nft, a required finding")
    func forwardChainDropsPublishedPort() throws {
        let scenario = LabScenario(name: "hostnft", nodes: [("m1", .manager), ("w1", .worker)], faults: [])
        try withLab(scenario) { lab, token in
            try Program.run(
                ["ip", "netns", "exec", lab.node("w1").namespace, "nft", "-f", "-"],
                input: """
                    table ip nat {
                      chain DOCKER-INGRESS {
                        tcp dport 8080 counter dnat to 172.18.0.2:8080
                        counter return
                      }
                    }
                    table inet hostfw {
                      chain forward {
                        type filter hook forward priority filter; policy drop;
                        ct state established,related accept
                      }
                    }
                    """)
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1, "\(run.stderr)")
            let found = run.results.nodeFindings.map { "\($0.node) \($0.code)" }
            #expect(found == ["w1 forward-drops-published-ports"])
            let w1 = try #require(run.results.nodes.first { $0.name == "w1" }?.host)
            #expect(w1.ingressPorts == [KindID(proto: .tcp, port: 8080)])
            #expect(w1.forwardPolicy == "drop")
            #expect(w1.forwardChains == [ForwardChain(family: "inet", table: "hostfw", chain: "forward", policy: "drop")])
        }
    }
}
