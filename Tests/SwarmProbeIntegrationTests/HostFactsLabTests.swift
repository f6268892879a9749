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

    @Test("a node advertised on an address it does not hold: its agent still answers, and the check names the address, what it holds, the fix")
    func advertiseAddressNotLocal() throws {
        let scenario = LabScenario(name: "notlocal", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)], faults: [])
        try withLab(scenario, startAgents: false) { lab, token in
            let w1 = lab.node("w1").address
            let stray = IPAddress.v4(198, 18, 1, 200)
            try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token, addresses: ["w1": stray])
            // The inventory advertises w1 on an address nobody holds; its agent is reached on the one it does.
            let inventory = lab.inventoryYAML().replacingOccurrences(
                of: "address: \(w1)\n", with: "address: \(stray)\n    control: \(w1):\(Defaults.controlPort)\n")
            let run = try runCheck(lab, token: token, inventory: inventory)
            #expect(run.status == 1, "\(run.stderr)")
            let found = run.results.nodeFindings.map { "\($0.node) \($0.code)" }
            #expect(found == ["w1 advertise-address-not-local"], "\(run.results.nodeFindings)")
            let f = try #require(run.results.nodeFindings.first)
            #expect(f.required && f.detail.contains("\(stray) is on none of its interfaces (it holds \(w1) (eth0))"), "\(f.detail)")
            #expect(f.fix?.contains("--advertise-addr \(w1)") == true, "\(f.fix ?? "")")

            let node = try #require(run.results.nodes.first { $0.name == "w1" })
            #expect(node.host?.addresses == [HostAddress(address: w1, device: "eth0")], "\(String(describing: node.host))")
            #expect(node.agent.status == .down && (node.agent.detail ?? "").contains("none of the node's interfaces"), "\(node.agent)")
            // Its paths say nothing; the others' are open.
            #expect(run.results.checks.filter { $0.from == "w1" || $0.to == "w1" }.allSatisfy { $0.verdict == .agentDown })
            #expect(run.results.checks.filter { $0.from != "w1" && $0.to != "w1" }.allSatisfy { $0.verdict == .open })
            #expect(run.markdown.contains("advertise-address-not-local"))
        }
    }

    @Test("a more specific route toward one peer with another source address: source-address-differs names the peer, the address, the device")
    func sourceAddressDiffers() throws {
        let scenario = LabScenario(name: "srcaddr", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)], faults: [])
        try withLab(scenario) { lab, token in
            let second = lab.natAddress("w1")
            try lab.addAddress("w1", second)
            try lab.addSourceRoute("w1", toward: "w2", source: second)
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1, "\(run.stderr)")
            // The agents' probes bind the advertise address: every path is open, the host fact alone tells.
            #expect(run.results.checks.allSatisfy { $0.verdict == .open }, "\(run.results.checks.filter { $0.verdict != .open }.map(\.detail))")
            let found = run.results.nodeFindings.map { "\($0.node) \($0.code)" }
            #expect(found == ["w1 source-address-differs"], "\(run.results.nodeFindings)")
            let f = try #require(run.results.nodeFindings.first)
            let w1 = lab.node("w1").address, w2 = lab.node("w2").address
            #expect(
                f.required && f.detail.hasPrefix("toward w2 its kernel sends from \(second) (eth0), not from its advertise address \(w1)"),
                "\(f.detail)")
            #expect(f.fix?.contains("ip route replace \(w2)/32 dev eth0 src \(w1)") == true, "\(f.fix ?? "")")

            let hosts = Dictionary(uniqueKeysWithValues: run.results.nodes.map { ($0.name, $0.host) })
            #expect(hosts["w1"]??.otherSources == [SourceChoice(source: second, device: "eth0", peers: [w2])])
            #expect(hosts["w1"]??.addresses == [HostAddress(address: w1, device: "eth0"), HostAddress(address: second, device: "eth0")])
            for name in ["m1", "w2"] { #expect(hosts[name]??.otherSources == [], "\(name)") }
        }
    }

    @Test("the encrypted profile: this kernel's IPsec support read on every node, a finding exactly when a part is missing")
    func ipsecOnThisKernel() throws {
        let scenario = LabScenario(name: "ipsec", nodes: [("m1", .manager), ("w1", .worker)], faults: [])
        try withLab(scenario, agentArguments: ["--profile", encryptedProfile]) { lab, token in
            let run = try runCheck(lab, token: token, extra: ["--profile", encryptedProfile])
            let ipsec = run.results.nodes.map { $0.host?.ipsec }
            // One kernel for all namespaces: the same reading on each, and one that says something.
            let first = try #require(ipsec.first ?? nil)
            #expect(ipsec.allSatisfy { $0 == first }, "\(ipsec)")
            #expect(first.parts.contains { $0.state != nil }, "\(first)")
            let findings = run.results.nodeFindings.filter { $0.code == "ipsec-unsupported" }
            if first.missing.isEmpty {
                #expect(findings.isEmpty)
            } else {
                #expect(findings.map(\.node) == ["m1", "w1"] && findings.allSatisfy(\.required), "\(findings)")
                for part in first.missing {
                    #expect(findings.allSatisfy { $0.detail.contains("(\(part == "aes_gcm" ? "rfc4106" : part)") }, "\(part): \(findings)")
                }
                #expect(run.status == 1)
            }
            // The default profile does not ask: no such finding whatever the kernel lacks.
            lab.stopAgents()
            try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token)
            #expect(try runCheck(lab, token: token).results.nodeFindings.allSatisfy { $0.code != "ipsec-unsupported" })
        }
    }
}
