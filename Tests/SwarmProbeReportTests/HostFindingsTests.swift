import Foundation
import SwarmProbeCore
import SwarmProbeReport
import Testing

/// One node's host facts -> node findings, and how the reports and the results carry them.
@Suite("Host findings")
struct HostFindingsTests {
    /// The saved outputs the Core tests parse (read by path: they are that suite's resources).
    static func saved(_ name: String) throws -> String {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SwarmProbeCoreTests/Fixtures/hostfacts")
        return try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    }

    /// Facts as the agent reads them from saved outputs.
    static func facts(ipForward: Bool? = true, nft: String? = nil, routes: String? = nil) throws -> HostFacts {
        var f = HostFacts(ipForward: ipForward)
        if let nft {
            let r = HostFactsParser.ruleset(try saved(nft))
            f.forwardPolicy = r.forwardPolicy
            f.forwardChains = r.forwardChains
            f.ingressPorts = r.ingressPorts
        }
        if let routes { f.routes = HostFactsParser.routes(try saved(routes)) ?? [] }
        return f
    }

    /// A node whose interface has `driver` and the offloads of a saved `ethtool -k`.
    static func offload(_ driver: String?, _ ethtool: String) throws -> HostFacts {
        let features = HostFactsParser.ethtoolFeatures(try saved(ethtool))
        return HostFacts(
            ipForward: true,
            interface: InterfaceFacts(
                name: "ens192", mtu: 1500, driver: driver, txChecksumming: features["tx-checksumming"],
                txChecksumIPGeneric: features["tx-checksum-ip-generic"]))
    }

    static func route(_ prefix: String, _ device: String = "eth0") -> HostFacts {
        HostFacts(routes: [HostRoute(destination: CIDR(prefix)!, device: device)])
    }

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var facts: @Sendable () throws -> HostFacts
        var subnets: MeshSubnets = .docker
        var context = HostFindings.Context()
        /// `code` for a required finding, `(code)` for information, in order.
        var expected: [String]
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "a Docker 20.10 node publishing through ingress: Docker's own drop policy is normal",
            facts: { try Self.facts(nft: "nft-docker-20.10-ingress.txt", routes: "route-swarm-node.txt") }, expected: []),
        Case(name: "ip_forward off", facts: { try Self.facts(ipForward: false, nft: "nft-docker-20.10-ingress.txt") }, expected: ["ip-forward-off"]),
        Case(
            name: "ip_forward off before Docker runs (pre-flight): dockerd turns it on, information",
            facts: { try Self.facts(ipForward: false, nft: "nft-ufw.txt") }, expected: ["(ip-forward-off)", "(forward-drop-policy)"]),
        Case(name: "nothing read: nothing claimed", facts: { HostFacts() }, expected: []),
        Case(
            name: "vmxnet3 with transmit checksum offload on: VXLAN breaks", facts: { try Self.offload("vmxnet3", "ethtool-vmxnet3.txt") },
            expected: ["checksum-offload-vxlan"]),
        Case(
            name: "vmxnet3 with the offload turned off: the fix holds", facts: { try Self.offload("vmxnet3", "ethtool-vmxnet3-fixed.txt") },
            expected: []),
        Case(name: "ena: not a known breaker", facts: { try Self.offload("ena", "ethtool-ena.txt") }, expected: []),
        Case(name: "virtio_net: not a known breaker", facts: { try Self.offload("virtio_net", "ethtool-virtio.txt") }, expected: []),
        Case(
            name: "vmxnet3 without ethtool: nothing claimed",
            facts: { HostFacts(ipForward: true, interface: InterfaceFacts(name: "ens192", mtu: 1500, driver: "vmxnet3")) }, expected: []),
        Case(name: "a veth (no driver): nothing claimed", facts: { try Self.offload(nil, "ethtool-virtio.txt") }, expected: []),
        Case(
            name: "Docker's DOCKER-INGRESS rules lost while ports are published", facts: { try Self.facts(nft: "nft-docker-lost-ingress-rules.txt") },
            expected: ["forward-drops-published-ports"]),
        Case(
            name: "ufw's drop policy before Docker runs: information", facts: { try Self.facts(nft: "nft-ufw.txt") },
            expected: ["(forward-drop-policy)"]),
        Case(name: "firewalld accepts what Docker DNATs", facts: { try Self.facts(nft: "nft-firewalld.txt") }, expected: []),
        Case(name: "no nft tables", facts: { try Self.facts(nft: "nft-empty.txt", routes: "route-empty.txt") }, expected: []),
        Case(
            name: "a native forward chain that drops, with ports published", facts: { try Self.facts(nft: "nft-native-forward-drop.txt") },
            expected: ["forward-drops-published-ports"]),
        Case(
            name: "a native forward chain that drops, nothing published yet",
            facts: {
                var f = try Self.facts(nft: "nft-native-forward-drop.txt")
                f.ingressPorts = nil
                return f
            }, expected: ["(forward-drop-policy)"]),
        Case(
            name: "Docker's chain with Docker's rules and no port published",
            facts: {
                HostFacts(forwardChains: [
                    ForwardChain(family: "ip", table: "filter", chain: "FORWARD", policy: "drop", jumps: ["DOCKER-USER", "DOCKER-ISOLATION-STAGE-1"])
                ])
            }, expected: []),
        Case(
            name: "a site's routes: each the most serious overlap once, Docker's own and the default left out",
            facts: { try Self.facts(routes: "route-site-overlaps.txt") },
            expected: ["(route-overlaps-address-pool)", "route-overlaps-ingress", "(route-overlaps-gateway-bridge)"]),
        Case(name: "the ingress subnet itself", facts: { Self.route("10.255.0.0/16") }, expected: ["route-overlaps-ingress"]),
        Case(name: "a VPN's 10.0.0.0/8 covers ingress", facts: { Self.route("10.0.0.0/8", "tun0") }, expected: ["(route-overlaps-ingress)"]),
        Case(name: "inside docker_gwbridge", facts: { Self.route("172.18.5.0/24") }, expected: ["route-overlaps-gateway-bridge"]),
        Case(name: "a host route in the pool", facts: { Self.route("10.20.30.40/32") }, expected: ["(route-overlaps-address-pool)"]),
        Case(name: "clear of the mesh", facts: { Self.route("192.168.10.0/24") }, expected: []),
        Case(name: "through Docker's own bridge", facts: { Self.route("10.255.0.0/16", "br-0a1b2c3d4e5f") }, expected: []),
        Case(
            name: "the live swarm's subnets, not Docker's defaults", facts: { Self.route("10.255.7.0/24") },
            subnets: MeshSubnets(ingress: CIDR("10.11.0.0/16")!, gatewayBridge: CIDR("192.168.200.0/24")!, addressPools: [CIDR("10.20.0.0/16")!]),
            expected: []),
        Case(
            name: "inside the live swarm's ingress", facts: { Self.route("10.11.3.0/24") },
            subnets: MeshSubnets(ingress: CIDR("10.11.0.0/16")!, gatewayBridge: CIDR("192.168.200.0/24")!, addressPools: [CIDR("10.20.0.0/16")!]),
            expected: ["route-overlaps-ingress"]),
    ]

    // The node w1 at 10.0.1.11 among m1, w2, w3 (10.0.1.10, .12, .13).
    static let w1 = IPAddress("10.0.1.11")!
    static let names: [IPAddress: String] = [
        IPAddress("10.0.1.10")!: "m1", w1: "w1", IPAddress("10.0.1.12")!: "w2", IPAddress("10.0.1.13")!: "w3",
    ]
    static let held = [HostAddress(address: w1, device: "eth0"), HostAddress(address: IPAddress("10.0.2.11")!, device: "eth1")]

    /// The address, source and IPsec rules as a table: the facts an agent read, what the check knows, the findings.
    static let addressCases: [Case] = [
        Case(
            name: "the advertise address held: nothing", facts: { HostFacts(addresses: held, otherSources: []) },
            context: .init(address: w1, peerNames: names), expected: []),
        Case(
            name: "an address the node does not hold", facts: { HostFacts(addresses: held, otherSources: []) },
            context: .init(address: IPAddress("10.0.1.99")!, peerNames: names), expected: ["advertise-address-not-local"]),
        Case(
            name: "not held, and so every peer from elsewhere: only the address finding",
            facts: {
                HostFacts(
                    addresses: [HostAddress(address: IPAddress("10.0.2.11")!, device: "eth1")],
                    otherSources: [SourceChoice(source: IPAddress("10.0.2.11")!, device: "eth1", peers: [IPAddress("10.0.1.10")!])])
            }, context: .init(address: w1, peerNames: names), expected: ["advertise-address-not-local"]),
        Case(
            name: "addresses not read (an agent from before): nothing claimed", facts: { HostFacts() },
            context: .init(address: w1, peerNames: names), expected: []),
        Case(
            name: "one source address toward two peers: one finding",
            facts: {
                HostFacts(
                    addresses: held,
                    otherSources: [
                        SourceChoice(source: IPAddress("10.0.2.11")!, device: "eth1", peers: [IPAddress("10.0.1.12")!, IPAddress("10.0.1.13")!])
                    ])
            }, context: .init(address: w1, peerNames: names), expected: ["source-address-differs"]),
        Case(
            name: "two source addresses: one finding each",
            facts: {
                HostFacts(
                    addresses: held,
                    otherSources: [
                        SourceChoice(source: IPAddress("10.0.2.11")!, device: "eth1", peers: [IPAddress("10.0.1.12")!]),
                        SourceChoice(source: IPAddress("10.0.3.11")!, peers: [IPAddress("10.0.1.13")!]),
                    ])
            }, context: .init(address: w1, peerNames: names), expected: ["source-address-differs", "source-address-differs"]),
        Case(
            name: "IPsec missing, the profile not encrypted: nothing",
            facts: { HostFacts(ipsec: IPsecSupport(esp4: .missing, xfrmUser: .builtin, aesGCM: .missing, xtU32: .builtin)) },
            context: .init(encrypted: false), expected: []),
        Case(
            name: "IPsec missing, the profile encrypted",
            facts: { HostFacts(ipsec: IPsecSupport(esp4: .missing, xfrmUser: .builtin, aesGCM: .missing, xtU32: .builtin)) },
            context: .init(encrypted: true), expected: ["ipsec-unsupported"]),
        Case(
            name: "IPsec as modules, loaded and built in: available",
            facts: { HostFacts(ipsec: IPsecSupport(esp4: .module, xfrmUser: .loaded, aesGCM: .builtin, xtU32: .module)) },
            context: .init(encrypted: true), expected: []),
        Case(
            name: "IPsec unknown (nothing readable): nothing claimed", facts: { HostFacts(ipsec: IPsecSupport()) },
            context: .init(encrypted: true), expected: []),
    ]

    @Test(arguments: addressCases)
    func addressSourceIPsec(_ c: Case) throws {
        let found = HostFindings.findings(node: "w1", facts: try c.facts(), context: c.context)
        #expect(found.map { $0.required ? $0.code : "(\($0.code))" } == c.expected)
        for f in found {
            #expect(!f.detail.isEmpty && !(f.fix ?? "").isEmpty && !f.detail.contains("\n"))
        }
    }

    @Test("the words: the address and what the node holds; the peers by name, the source, the device, the route fix; what IPsec lacks")
    func addressSourceIPsecWords() throws {
        let ctx = HostFindings.Context(address: IPAddress("10.0.1.99")!, peerNames: Self.names, encrypted: true)
        let notLocal = try #require(HostFindings.findings(node: "w1", facts: HostFacts(addresses: Self.held), context: ctx).first)
        #expect(
            notLocal.detail.contains("10.0.1.99 is on none of its interfaces (it holds 10.0.1.11 (eth0), 10.0.2.11 (eth1))"), "\(notLocal.detail)")
        #expect(notLocal.fix?.contains("docker swarm join --advertise-addr 10.0.1.11") == true, "\(notLocal.fix ?? "")")

        let two = SourceChoice(source: IPAddress("10.0.2.11")!, device: "eth1", peers: [IPAddress("10.0.1.12")!, IPAddress("10.0.1.13")!])
        let differs = try #require(
            HostFindings.findings(
                node: "w1", facts: HostFacts(addresses: Self.held, otherSources: [two]),
                context: .init(address: Self.w1, peerNames: Self.names)
            ).first)
        #expect(
            differs.detail.hasPrefix("toward w2, w3 its kernel sends from 10.0.2.11 (eth1), not from its advertise address 10.0.1.11"),
            "\(differs.detail)")
        #expect(differs.fix?.contains("ip route replace 10.0.1.12/32 dev eth1 src 10.0.1.11") == true, "\(differs.fix ?? "")")
        var all = two
        all.peers.insert(IPAddress("10.0.1.10")!, at: 0)
        let every = try #require(
            HostFindings.findings(
                node: "w1", facts: HostFacts(addresses: Self.held, otherSources: [all]), context: .init(address: Self.w1, peerNames: Self.names)
            ).first)
        #expect(every.detail.hasPrefix("toward every other node its kernel"), "\(every.detail)")
        let many = SourceChoice(source: IPAddress("10.0.2.11")!, peers: (20..<29).map { IPAddress("10.0.1.\($0)")! })
        let more = try #require(
            HostFindings.findings(
                node: "w1", facts: HostFacts(addresses: Self.held, otherSources: [many]), context: .init(address: Self.w1, peerNames: Self.names)
            ).first)
        #expect(
            more.detail.hasPrefix("toward 10.0.1.20, 10.0.1.21, 10.0.1.22, 10.0.1.23 and 5 more its kernel sends from 10.0.2.11,"), "\(more.detail)")

        let ipsec = try #require(
            HostFindings.findings(
                node: "w1", facts: HostFacts(ipsec: IPsecSupport(esp4: .missing, xfrmUser: .builtin, aesGCM: .missing, xtU32: .loaded)),
                context: .init(encrypted: true)
            ).first)
        #expect(ipsec.detail.contains("ESP (esp4), AES-GCM") && !ipsec.detail.contains("xfrm_user"), "\(ipsec.detail)")
        #expect(
            ipsec.fix?.contains("`modprobe esp4 gcm`") == true && ipsec.fix?.contains("CONFIG_INET_ESP, CONFIG_CRYPTO_GCM") == true,
            "\(ipsec.fix ?? "")")
    }

    @Test(
        "a clock finding only when the offset is surely past 1 s, worded with the best estimate",
        arguments: [(1_400, 900, nil), (1_400, 1_100, "1.4 s ahead of"), (-90_000, -89_000, "1 min 30 s behind"), (200, 0, nil)])
    func clock(_ offset: Int, _ sure: Int, _ words: String?) {
        let f = HostFindings.clockFinding(node: "w1", offsetMs: offset, sureMs: sure)
        #expect(f.map { $0.code == "clock-offset" && $0.required && $0.detail.contains(words ?? "-") } ?? (words == nil), "\(String(describing: f))")
    }

    @Test(arguments: cases)
    func findings(_ c: Case) throws {
        let found = HostFindings.findings(node: "w1", facts: try c.facts(), subnets: c.subnets, context: c.context)
        #expect(found.map { $0.required ? $0.code : "(\($0.code))" } == c.expected)
        for f in found {
            #expect(f.node == "w1")
            #expect(HostFindings.Code(rawValue: f.code) != nil, "\(f.code)")
            #expect(!f.detail.isEmpty && !(f.fix ?? "").isEmpty && !f.detail.contains("\n"))
            #expect(f.code.allSatisfy { $0.isLowercase || $0 == "-" })
        }
    }

    @Test("the details name the setting, chain, ports or route; the fixes say what to run")
    func wording() throws {
        let off = try #require(HostFindings.findings(node: "w1", facts: HostFacts(ipForward: false)).first)
        #expect(off.detail.contains("net.ipv4.ip_forward is 0") && off.fix?.contains("`sysctl -w net.ipv4.ip_forward=1`") == true)

        let lost = try #require(HostFindings.findings(node: "w1", facts: try Self.facts(nft: "nft-docker-lost-ingress-rules.txt")).first)
        #expect(lost.detail.contains("table ip filter chain FORWARD has policy drop") && lost.detail.contains("8080/tcp, 3000/udp"))
        #expect(lost.fix?.contains("systemctl restart docker") == true)

        let native = try #require(HostFindings.findings(node: "w1", facts: try Self.facts(nft: "nft-native-forward-drop.txt")).first)
        #expect(native.detail.contains("table inet filter chain forward"))
        #expect(native.fix?.contains("`nft insert rule inet filter forward ct status dnat accept`") == true)

        let routes = HostFindings.findings(node: "w1", facts: try Self.facts(routes: "route-site-overlaps.txt"))
        #expect(routes.map(\.detail).contains { $0.hasPrefix("route 10.255.7.0/24 dev tun0 lies inside the ingress network's 10.255.0.0/16") })
        #expect(routes.map(\.detail).contains { $0.hasPrefix("route 172.16.0.0/12 dev wg0 covers docker_gwbridge's 172.18.0.0/16") })
    }

    @Test("docs/results.md lists every node finding code (the hosts' and the data paths' MTU), and no other")
    func codesDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("docs/results.md"), encoding: .utf8)
        let section = try #require(doc.components(separatedBy: "\n## Node findings\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        let listed = section.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { return nil }
            let code = String(line.dropFirst(3)[..<end])
            return code.contains("-") ? code : nil  // the key table's rows (`node`, `code`, ...) are single words
        }
        #expect(listed.count == Set(listed).count, "listed twice: \(listed)")
        #expect(Set(listed) == Set(HostFindings.Code.allCases.map(\.rawValue) + [PathMTUFindings.code]))
    }

    // MARK: In the results and the reports

    @Test("every path open and a required node finding: FAIL, exit code 1, the section lists it with its fix")
    func reports() throws {
        let r = Fixtures.host()
        #expect(r.checks.allSatisfy { $0.verdict == .open })
        #expect(r.summary.status == "fail" && r.exitCode == 1)
        #expect(r.summary.nodeFindings == 4 && r.summary.requiredNodeFindings == 3)
        let verdict = "FAIL: all \(r.checks.count { $0.required }) required paths open; 3 node findings break the swarm"

        let text = TerminalReport.render(r, color: false)
        #expect(text.hasSuffix(verdict + "\n"), "\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        let heading = try #require(lines.firstIndex(of: "Node findings: 3 break the swarm, 1 information"))
        let entries = lines[(heading + 1)...].filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
        #expect(
            entries.prefix(4).map { $0.split(separator: ":").first.map(String.init) ?? "" } == [
                "  wrk-1 (198.18.1.13) ip-forward-off", "  wrk-1 (198.18.1.13) forward-drops-published-ports",
                "  wrk-1 (198.18.1.13) route-overlaps-ingress", "  wrk-2 (198.18.1.14) route-overlaps-address-pool (information)",
            ])

        let md = MarkdownReport.render(r)
        #expect(md.contains("**\(verdict)**"))
        let section = try #require(md.components(separatedBy: "## Node findings\n").last)
        #expect(section.contains("- **wrk-1 (198.18.1.13)** `ip-forward-off` (breaks the swarm): net.ipv4.ip_forward is 0"))
        #expect(section.contains("**Fix:** `sysctl -w net.ipv4.ip_forward=1`"))
        let required = try #require(section.range(of: "`route-overlaps-ingress`")), info = try #require(section.range(of: "(information)"))
        #expect(required.lowerBound < info.lowerBound, "required first")
    }

    @Test("the JSON appends node findings to `findings` (told apart by `node`) and reads them back")
    func json() throws {
        let r = Fixtures.host()
        let text = JSONReport.render(r)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let findings = try #require(doc["findings"] as? [[String: Any]])
        let nodes = findings.filter { $0["node"] != nil }
        #expect(nodes.count == 4 && findings.count == 4, "no path is not open")
        #expect(nodes.allSatisfy { Set($0.keys) == ["node", "code", "detail", "fix", "required"] })
        #expect(nodes.first?["code"] as? String == "ip-forward-off" && nodes.first?["required"] as? Bool == true)
        let summary = try #require(doc["summary"] as? [String: Any])
        #expect(summary["node_findings"] as? Int == 4 && summary["required_node_findings"] as? Int == 3)
        #expect(summary["status"] as? String == "fail" && summary["exit_code"] as? Int == 1)
        let host = try #require((doc["nodes"] as? [[String: Any]])?.first?["host"] as? [String: Any])
        #expect(host["ip_forward"] as? Bool == true && host["ingress_ports"] as? [String] == ["8080/tcp"])

        let back = try JSONDecoder().decode(Results.self, from: Data(text.utf8))
        #expect(back.nodeFindings == r.nodeFindings)
        #expect(back.summary == r.summary)
        #expect(back.nodes.map(\.host) == r.nodes.map(\.host))
        // Path findings beside them are skipped, not misread.
        let failing = try JSONDecoder().decode(Results.self, from: Data(JSONReport.render(Fixtures.failing()).utf8))
        #expect(failing.nodeFindings.isEmpty)
    }

    @Test("the grouped reports list node findings and count them in the verdict")
    func grouped() {
        let r = Fixtures.grouped()
        let groups = CheckGroups(r)
        #expect(groups.summary(complete: true).requiredNodeFindings == 1)
        let text = TerminalReport.render(head: r, groups: groups, color: false)
        #expect(text.contains("Node findings: 1 breaks the swarm, 1 information"))
        #expect(text.hasSuffix("; 1 node finding breaks the swarm\n"))
        let md = MarkdownReport.render(head: r, groups: groups)
        #expect(md.contains("## Node findings") && md.contains("`route-overlaps-address-pool` (information)"))
        // A head without checks and groups that were not told of them: neither counts nor lists any.
        let bare = CheckGroups(nodes: r.nodes)
        #expect(bare.summary(complete: true).nodeFindings == 0)
    }
}
