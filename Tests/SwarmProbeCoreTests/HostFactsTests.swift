import Foundation
import Testing

@testable import SwarmProbeCore

/// The agent's host facts: parsed from saved outputs of /proc and `nft list ruleset`, carried in the hello,
/// counted in the summary.
@Suite("Host facts")
struct HostFactsTests {
    static func text(_ name: String) throws -> String { try Fixture.text("hostfacts", name) }

    // MARK: ip_forward

    @Test(arguments: [("1\n", true), ("0\n", false), ("1", true), (" 0 \n", false)])
    func ipForward(_ text: String, _ on: Bool) {
        #expect(HostFactsParser.ipForward(text) == on)
    }

    @Test("anything but 0 or 1 is unknown, not a guess", arguments: ["", "2\n", "yes", "1\n1\n"])
    func ipForwardUnreadable(_ text: String) {
        #expect(HostFactsParser.ipForward(text) == nil)
    }

    // MARK: /proc/net/route

    struct RouteCase: Sendable, CustomStringConvertible {
        var file: String
        var routes: [String]
        var description: String { file }
    }

    static let routeCases = [
        RouteCase(
            file: "route-swarm-node.txt",
            routes: ["0.0.0.0/0 ens5", "172.31.32.0/20 ens5", "172.31.32.1/32 ens5", "172.17.0.0/16 docker0", "172.18.0.0/16 docker_gwbridge"]),
        // The blackhole route (device `*`) is left out.
        RouteCase(
            file: "route-site-overlaps.txt",
            routes: [
                "0.0.0.0/0 eth0", "10.0.1.0/24 eth0", "10.255.7.0/24 tun0", "172.16.0.0/12 wg0", "172.18.0.0/16 docker_gwbridge",
                "172.19.0.0/16 br-3f2a9c1d7e6b",
            ]),
        // A namespace with no address prints nothing at all, not even the header.
        RouteCase(file: "route-empty.txt", routes: []),
    ]

    @Test(arguments: routeCases)
    func routes(_ c: RouteCase) throws {
        let routes = try #require(HostFactsParser.routes(try Self.text(c.file)))
        #expect(routes.map { "\($0.destination) \($0.device)" } == c.routes)
    }

    @Test(
        "text that is not the route table is unreadable",
        arguments: [
            "Iface\tDestination\nfoo", "eth0\tZZZZ\t00000000\t0001\t0\t0\t0\t00FFFFFF",
            // a mask with a hole in it
            "eth0\t0001000A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0",
        ])
    func routesUnreadable(_ text: String) {
        #expect(HostFactsParser.routes(text) == nil)
    }

    @Test("Docker's own interfaces are told from a site's")
    func dockersRoutes() {
        let dockers = ["docker_gwbridge", "docker0", "br-3f2a9c1d7e6b", "veth12ab34c", "vx-001001-abcde", "ov-001001-abcde"]
        let site = ["eth0", "ens5", "tun0", "wg0", "bond0", "docker1", "brq123"]
        for d in dockers { #expect(HostRoute(destination: CIDR("10.0.0.0/8")!, device: d).isDockers, "\(d)") }
        for d in site { #expect(!HostRoute(destination: CIDR("10.0.0.0/8")!, device: d).isDockers, "\(d)") }
    }

    // MARK: nft list ruleset

    struct RulesetCase: Sendable, CustomStringConvertible {
        var file: String
        var policy: String?
        var ingress: [String]?
        /// `family table chain policy accepts-published ends-in-drop`, one per forward base chain.
        var chains: [String]
        var jumpsToIngress: Bool?
        var dockerChains: Bool
        var description: String { file }
    }

    static let rulesetCases = [
        // Docker 20.10 on iptables-nft, one service published through the ingress network: policy drop, and
        // Docker's own accept path (the jump to DOCKER-INGRESS).
        RulesetCase(
            file: "nft-docker-20.10-ingress.txt", policy: "drop", ingress: ["8080/tcp"],
            chains: ["ip filter FORWARD drop accepts ends-open"], jumpsToIngress: true, dockerChains: true),
        // docker/cli#2274: the filter rules are gone, nat still redirects.
        RulesetCase(
            file: "nft-docker-lost-ingress-rules.txt", policy: "drop", ingress: ["8080/tcp", "3000/udp"],
            chains: ["ip filter FORWARD drop blocks ends-open"], jumpsToIngress: false, dockerChains: true),
        // ufw on iptables-nft without Docker: DEFAULT_FORWARD_POLICY="DROP" and nothing of Docker's.
        RulesetCase(
            file: "nft-ufw.txt", policy: "drop", ingress: nil, chains: ["ip filter FORWARD drop blocks ends-open"],
            jumpsToIngress: false, dockerChains: false),
        // firewalld: policy accept, a last rule that rejects, and `ct status dnat accept` before it. (Its long
        // anonymous set is split over lines here, as some nft versions print it.)
        RulesetCase(
            file: "nft-firewalld.txt", policy: "accept", ingress: nil, chains: ["inet firewalld filter_FORWARD accept accepts ends-in-drop"],
            jumpsToIngress: nil, dockerChains: false),
        // A native nft firewall that drops forwarding, beside Docker's tables.
        RulesetCase(
            file: "nft-native-forward-drop.txt", policy: "drop", ingress: ["8080/tcp"],
            chains: ["inet filter forward drop blocks ends-open", "ip filter FORWARD drop accepts ends-open"], jumpsToIngress: true,
            dockerChains: true),
        // No nft tables at all.
        RulesetCase(file: "nft-empty.txt", policy: nil, ingress: nil, chains: [], jumpsToIngress: nil, dockerChains: false),
    ]

    @Test(arguments: rulesetCases)
    func ruleset(_ c: RulesetCase) throws {
        let r = HostFactsParser.ruleset(try Self.text(c.file))
        #expect(r.forwardPolicy == c.policy)
        #expect(r.ingressPorts?.map(\.description) == c.ingress)
        let chains = r.forwardChains.map { f in
            "\(f.family) \(f.table) \(f.chain) \(f.policy) \(f.acceptsPublished ? "accepts" : "blocks") \(f.endsInDrop ? "ends-in-drop" : "ends-open")"
        }
        #expect(chains == c.chains)
        let facts = HostFacts(forwardPolicy: r.forwardPolicy, ingressPorts: r.ingressPorts, forwardChains: r.forwardChains)
        #expect(facts.forwardJumpsToIngress == c.jumpsToIngress)
        #expect(facts.dockerChainsPresent == c.dockerChains)
    }

    @Test("Docker's FORWARD chain: its jumps in order, counters left out of the rules")
    func dockerJumps() throws {
        let r = HostFactsParser.ruleset(try Self.text("nft-docker-20.10-ingress.txt"))
        let forward = try #require(r.forwardChains.first)
        #expect(forward.jumps == ["DOCKER-USER", "DOCKER-INGRESS", "DOCKER-ISOLATION-STAGE-1", "DOCKER"])
        #expect(NftText.Rule("counter packets 26 bytes 2102 jump DOCKER-USER").words == ["jump", "DOCKER-USER"])
        #expect(NftText.Rule("tcp dport 8080 counter dnat to 172.18.0.2:8080").words == ["tcp", "dport", "8080", "dnat", "to", "172.18.0.2:8080"])
    }

    @Test("what lets published ports through, rule by rule")
    func acceptRules() {
        let accepts = [
            "accept", "counter packets 1 bytes 60 accept", "ct status dnat accept", "oifname \"docker_gwbridge\" accept",
            "oifname \"docker_gwbridge\" counter packets 0 bytes 0 accept",
        ]
        let others = [
            "oifname \"docker_gwbridge\" ct state established,related accept", "iifname \"docker_gwbridge\" oifname != \"docker_gwbridge\" accept",
            "oifname != \"docker_gwbridge\" accept", "tcp dport 22 accept", "ct status dnat drop", "jump DOCKER-USER",
        ]
        for r in accepts { #expect(NftText.Rule(r).acceptsPublished, "\(r)") }
        for r in others { #expect(!NftText.Rule(r).acceptsPublished, "\(r)") }
        #expect(NftText.Rule("reject with icmpx admin-prohibited").dropsEverything)
        #expect(NftText.Rule("counter packets 0 bytes 0 drop").dropsEverything)
        #expect(!NftText.Rule("ct state invalid drop").dropsEverything)
    }

    @Test("a base chain hooked on forward in a table of its own, and chains of other families, are read as such")
    func families() {
        let text = """
            table ip6 filter {
            \tchain FORWARD {
            \t\ttype filter hook forward priority filter; policy drop;
            \t}
            }
            table bridge spnet {
            \tchain filt {
            \t\ttype filter hook forward priority 0; policy drop;
            \t}
            }
            table ip mine {
            \tset blocked {
            \t\ttype ipv4_addr
            \t\telements = { 10.0.0.1, 10.0.0.2,
            \t\t\t     10.0.0.3 }
            \t}

            \tchain "fwd-chain" {
            \t\ttype filter hook forward priority 10; policy accept;
            \t\tip saddr @blocked drop comment "no { here }"
            \t\tdrop
            \t}
            }
            """
        let r = HostFactsParser.ruleset(text)
        #expect(r.forwardChains == [ForwardChain(family: "ip", table: "mine", chain: "fwd-chain", policy: "accept", endsInDrop: true)])
        #expect(r.forwardPolicy == "accept")
    }

    // MARK: The hello

    static let facts = HostFacts(
        ipForward: false, forwardPolicy: "drop",
        routes: [HostRoute(destination: CIDR("10.255.7.0/24")!, device: "tun \"0\""), HostRoute(destination: CIDR("0.0.0.0/0")!, device: "eth0")],
        ingressPorts: [KindID(proto: .tcp, port: 8080), KindID(proto: .udp, port: 3000)],
        forwardChains: [
            ForwardChain(
                family: "ip", table: "filter", chain: "FORWARD", policy: "drop", jumps: ["DOCKER-USER", "DOCKER-INGRESS"], acceptsPublished: true),
            ForwardChain(family: "inet", table: "firewalld", chain: "filter_FORWARD", policy: "accept", endsInDrop: true),
        ],
        interface: InterfaceFacts(name: "ens192", mtu: 1500, driver: "vmxnet3", txChecksumming: true, txChecksumIPGeneric: true),
        addresses: [
            HostAddress(address: .v4(198, 18, 1, 11), device: "ens192"), HostAddress(address: IPAddress("2001:db8::11")!, device: "ens192"),
        ],
        otherSources: [
            SourceChoice(source: .v4(198, 18, 2, 11), device: "ens224", peers: [.v4(198, 18, 1, 12), .v4(198, 18, 1, 13)]),
            SourceChoice(source: .v4(203, 0, 113, 9), peers: [.v4(198, 18, 1, 14)]),
        ],
        ipsec: IPsecSupport(esp4: .module, xfrmUser: .builtin, aesGCM: .loaded, xtU32: .missing))

    @Test(
        "ethtool -k: the transmit checksum offloads of vmxnet3, ena and virtio, as saved",
        arguments: [
            ("ethtool-vmxnet3.txt", true, true), ("ethtool-vmxnet3-fixed.txt", false, false), ("ethtool-ena.txt", true, false),
            ("ethtool-virtio.txt", true, true),
        ])
    func ethtool(_ file: String, _ checksumming: Bool, _ generic: Bool) throws {
        let features = HostFactsParser.ethtoolFeatures(try Self.text(file))
        #expect(features["tx-checksumming"] == checksumming)
        #expect(features["tx-checksum-ip-generic"] == generic)
        // `[fixed]` is read as the state it holds; headers and blank lines are no features.
        #expect(features["highdma"] ?? true)
        #expect(features.keys.allSatisfy { !$0.hasPrefix("Features") && !$0.isEmpty })
    }

    @Test("ethtool output that is not ethtool's: no features, no error")
    func ethtoolJunk() {
        #expect(HostFactsParser.ethtoolFeatures("").isEmpty)
        #expect(HostFactsParser.ethtoolFeatures("Cannot get device features: Operation not supported\nx: maybe\n").isEmpty)
    }

    // MARK: IPsec

    /// The sources as the agent reads them, from saved files; nil: that file was not there.
    static func kernel(
        loaded: String? = nil, builtin: String? = nil, dep: String? = nil, config: String? = nil, crypto: String? = nil
    ) throws -> HostFactsParser.KernelSources {
        HostFactsParser.KernelSources(
            loaded: try loaded.map { HostFactsParser.loadedModules(try text($0)) },
            builtin: try builtin.map { HostFactsParser.moduleList(try text($0)) },
            onDisk: try dep.map { HostFactsParser.moduleList(try text($0)) },
            config: try config.map { HostFactsParser.kernelConfig(try text($0)) },
            crypto: try crypto.map { HostFactsParser.cryptoAlgorithms(try text($0)) })
    }

    struct IPsecCase: Sendable, CustomStringConvertible {
        var name: String
        var sources: @Sendable () throws -> HostFactsParser.KernelSources
        /// esp4, xfrm_user, aes_gcm, xt_u32.
        var expected: IPsecSupport?
        var description: String { name }
    }

    static let ipsecCases: [IPsecCase] = [
        IPsecCase(
            name: "Ubuntu, nothing loaded yet: modules on disk, GCM built in",
            sources: { try kernel(loaded: "proc-modules-fresh.txt", builtin: "modules.builtin-ubuntu.txt", dep: "modules.dep-ubuntu.txt") },
            expected: IPsecSupport(esp4: .module, xfrmUser: .module, aesGCM: .builtin, xtU32: .module)),
        IPsecCase(
            name: "Ubuntu on a swarm with an encrypted overlay: loaded",
            sources: {
                try kernel(
                    loaded: "proc-modules-ubuntu.txt", builtin: "modules.builtin-ubuntu.txt", dep: "modules.dep-ubuntu.txt",
                    crypto: "proc-crypto-aesni.txt")
            }, expected: IPsecSupport(esp4: .loaded, xfrmUser: .loaded, aesGCM: .loaded, xtU32: .loaded)),
        IPsecCase(
            name: "a cloud kernel without linux-modules-extra: esp4 and xt_u32 missing",
            sources: { try kernel(loaded: "proc-modules-fresh.txt", builtin: "modules.builtin-ubuntu.txt", dep: "modules.dep-ubuntu-no-extra.txt") },
            expected: IPsecSupport(esp4: .missing, xfrmUser: .module, aesGCM: .builtin, xtU32: .missing)),
        IPsecCase(
            name: "a kernel without modules (this lab's): its config says",
            sources: { try kernel(config: "kernel-config-nomodules.txt", crypto: "proc-crypto-nomodules.txt") },
            expected: IPsecSupport(esp4: .missing, xfrmUser: .builtin, aesGCM: .missing, xtU32: .builtin)),
        IPsecCase(
            name: "a config saying module, no modules.dep: a module",
            sources: { HostFactsParser.KernelSources(config: HostFactsParser.kernelConfig("CONFIG_INET_ESP=m\nCONFIG_XFRM_USER=y\n")) },
            expected: IPsecSupport(esp4: .module, xfrmUser: .builtin, aesGCM: .missing, xtU32: .missing)),
        IPsecCase(
            name: "only /proc/crypto: AES-GCM known ready, the rest unknown",
            sources: { try kernel(crypto: "proc-crypto-aesni.txt") }, expected: IPsecSupport(aesGCM: .loaded)),
        IPsecCase(
            name: "only /proc/modules, esp4 not in it: unknown, not missing",
            sources: { try kernel(loaded: "proc-modules-ubuntu.txt") },
            expected: IPsecSupport(esp4: .loaded, xfrmUser: .loaded, xtU32: .loaded)),
        IPsecCase(name: "nothing readable: nothing claimed", sources: { HostFactsParser.KernelSources() }, expected: nil),
    ]

    @Test("what the encrypted overlay needs, from the kernel's lists, config and crypto table", arguments: ipsecCases)
    func ipsec(_ c: IPsecCase) throws {
        #expect(HostFactsParser.ipsec(try c.sources()) == c.expected)
    }

    @Test("the lists' spellings: .ko with any compression, - read as _, comments and junk skipped")
    func kernelLists() {
        #expect(HostFactsParser.moduleList("kernel/net/ipv4/esp4.ko\nkernel/a/aesni-intel.ko.xz: x.ko\n\njunk\n") == ["esp4", "aesni_intel"])
        #expect(HostFactsParser.loadedModules("esp4 24576 2 - Live 0x0\n\n") == ["esp4"])
        let config = HostFactsParser.kernelConfig("# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\nCONFIG_D\n")
        #expect(config == ["CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "x"])
        #expect(HostFactsParser.cryptoAlgorithms("name : gcm(aes)\ndriver: generic-gcm\nmodule : kernel\n") == ["gcm(aes)", "generic-gcm"])
        #expect(
            HostFactsParser.ipsec(HostFactsParser.KernelSources(loaded: [], builtin: [], onDisk: [], config: [:], crypto: []))
                == IPsecSupport(
                    esp4: .missing, xfrmUser: .missing, aesGCM: .missing, xtU32: .missing))
    }

    // MARK: The hello

    static func hello(_ host: HostFacts?, micros: Int? = nil) -> HelloResponse {
        HelloResponse(
            agentVersion: "1.2.3", address: .v4(198, 18, 1, 11), timeMs: 1_790_000_000_000, profile: "swarm",
            listeners: [ListenerState(kind: KindID(proto: .udp, port: 4789), mode: .listening)], host: host, hostFactsMicros: micros)
    }

    @Test(
        "the hello carries the facts and reads them back; facts not read stay absent",
        arguments: [
            facts, HostFacts(), HostFacts(ipForward: true, forwardChains: []), HostFacts(ingressPorts: []),
            HostFacts(addresses: [], otherSources: [], ipsec: IPsecSupport(esp4: .missing)),
        ])
    func helloRoundTrip(_ host: HostFacts) throws {
        let hello = Self.hello(host, micros: 12_345)
        let bytes = WireCodec.encode(hello)
        #expect(try WireCodec.decode(HelloResponse.self, from: bytes, source: "hello") == hello)
        #expect(!bytes.contains(0x0A))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"ip_forward\"") == (host.ipForward != nil))
        #expect(text.contains("\"forward_chains\"") == (host.forwardChains != nil))
    }

    @Test("the hello request names the peers; one from before names none, an agent from before skips them")
    func helloPeers() throws {
        let request = HelloRequest(protocolVersion: 2, toolVersion: "9.9", peers: [.v4(198, 18, 1, 11), IPAddress("2001:db8::2")!])
        let bytes = WireCodec.encode(request)
        #expect(try WireCodec.decode(HelloRequest.self, from: bytes, source: "hello") == request)
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""peers":["198.18.1.11","2001:db8::2"]"#))
        let none = HelloRequest(protocolVersion: 2, toolVersion: nil)
        #expect(!String(decoding: WireCodec.encode(none), as: UTF8.self).contains("peers"))
        #expect(try WireCodec.decode(HelloRequest.self, from: Array(#"{"protocol":2}"#.utf8), source: "hello").peers.isEmpty)
        do {
            _ = try WireCodec.decode(HelloRequest.self, from: Array(#"{"protocol":2,"peers":["nope"]}"#.utf8), source: "hello")
            Issue.record("accepted a bad peer")
        } catch {
            #expect(error.description.hasPrefix("hello: field `peers[0]`: not an IP address"), "\(error.description)")
        }
    }

    @Test("an agent from before host facts says nothing of them: nil, not an error")
    func helloWithoutFacts() throws {
        let hello = Self.hello(nil)
        let text = String(decoding: WireCodec.encode(hello), as: UTF8.self)
        #expect(!text.contains("host"))
        let back = try WireCodec.decode(HelloResponse.self, from: Array(text.utf8), source: "hello")
        #expect(back.host == nil && back.hostFactsMicros == nil)
        let nulls = text.dropLast() + ",\"host\":null,\"host_facts_micros\":null}"
        #expect(try WireCodec.decode(HelloResponse.self, from: Array(nulls.utf8), source: "hello").host == nil)
    }

    @Test(
        "bad facts are refused in one line naming the field",
        arguments: [
            (#""host":{"routes":[{"destination":"10.0.0.0/33","device":"eth0"}]}"#, "hello: field `host.routes[0].destination`: not a prefix"),
            (#""host":{"routes":[],"forward_policy":"reject"}"#, "hello: field `host.forward_policy`: not a chain policy"),
            (#""host":{"ip_forward":1,"routes":[]}"#, "hello: field `host.ip_forward`: expected true or false"),
            (#""host":{"ip_forward":true}"#, "hello: field `host.routes` is missing"),
            (#""host":{"routes":[{"device":"eth0"}]}"#, "hello: field `host.routes[0].destination` is missing"),
            (#""host":{"routes":[],"ingress_ports":["8080/xdp"]}"#, "hello: field `host.ingress_ports[0]`: not a traffic kind"),
            (#""host":{"routes":[],"forward_chains":[{"family":"ip"}]}"#, "hello: field `host.forward_chains[0].table` is missing"),
            (#""host":[]"#, "hello: field `host`: expected an object"),
            (#""host":{"routes":[],"interface":{"mtu":1500}}"#, "hello: field `host.interface.name` is missing"),
            (#""host":{"routes":[],"interface":{"name":"eth0","mtu":9}}"#, "hello: field `host.interface.mtu`: 9 is outside"),
            (
                #""host":{"routes":[],"addresses":[{"address":"10.0.0.300","device":"eth0"}]}"#,
                "hello: field `host.addresses[0].address`: not an IP address"
            ),
            (#""host":{"routes":[],"addresses":[{"address":"10.0.0.3"}]}"#, "hello: field `host.addresses[0].device` is missing"),
            (#""host":{"routes":[],"other_sources":[{"source":"10.0.0.3"}]}"#, "hello: field `host.other_sources[0].peers` is missing"),
            (
                #""host":{"routes":[],"other_sources":[{"source":"10.0.0.3","peers":["x"]}]}"#,
                "hello: field `host.other_sources[0].peers[0]`: not an IP address"
            ),
            (#""host":{"routes":[],"ipsec":{"esp4":"maybe"}}"#, "hello: field `host.ipsec.esp4`: unknown value \"maybe\""),
            (#""host":{"routes":[],"ipsec":[]}"#, "hello: field `host.ipsec`: expected an object"),
            (#""host_facts_micros":-1"#, "hello: field `host_facts_micros`: -1 is outside"),
        ])
    func badFacts(_ member: String, _ message: String) throws {
        let good = String(decoding: WireCodec.encode(Self.hello(nil)), as: UTF8.self)
        let text = good.dropLast() + "," + member + "}"
        do {
            _ = try WireCodec.decode(HelloResponse.self, from: Array(text.utf8), source: "hello")
            Issue.record("accepted \(member)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("the results' copy of the facts: snake_case keys, read back whole")
    func resultsJSON() throws {
        let data = try JSONDocument.encoder().encode(Self.facts)
        let text = String(decoding: data, as: UTF8.self)
        for key in [
            "ip_forward", "forward_policy", "routes", "ingress_ports", "forward_chains", "accepts_published", "ends_in_drop", "interface",
            "tx_checksum_ip_generic", "addresses", "other_sources", "ipsec", "xfrm_user", "aes_gcm", "xt_u32",
        ] {
            #expect(text.contains("\"\(key)\""), "\(key)")
        }
        #expect(try JSONDecoder().decode(HostFacts.self, from: data) == Self.facts)
    }

    // MARK: Summary

    static let openCheck = CheckResult(
        from: "m1", to: "w1", kind: DefaultProfile.load().kinds[1], required: true, decision: Decision(.open, nil, .answered),
        detail: "answered", sender: nil, receiver: nil)

    @Test("a required node finding fails a check whose every path is open; information does not")
    func summary() {
        let required = NodeFinding(node: "w1", code: "ip-forward-off", detail: "d", fix: "f", required: true)
        let info = NodeFinding(node: "w1", code: "route-overlaps-address-pool", detail: "d", required: false)
        let failing = Summary(checks: [Self.openCheck], complete: true, nodeFindings: [info, required])
        #expect(failing.status == "fail" && failing.exitCode == 1)
        #expect(failing.nodeFindings == 2 && failing.requiredNodeFindings == 1 && failing.requiredNotOpen == 0)
        let passing = Summary(checks: [Self.openCheck], complete: true, nodeFindings: [info])
        #expect(passing.status == "pass" && passing.exitCode == 0 && passing.nodeFindings == 1)
        let interrupted = Summary(checks: [Self.openCheck], complete: false, nodeFindings: [required])
        #expect(interrupted.status == "incomplete" && interrupted.exitCode == 1)
    }

    @Test("results from before node findings read back with none")
    func olderSummary() throws {
        var r = Results(
            toolVersion: "0.1.0", profile: "swarm", startedAt: "2025-06-02T09:14:07Z", durationMs: 1, timeoutMs: 500, complete: true,
            nodes: [], checks: [Self.openCheck])
        var object = try #require(try JSONSerialization.jsonObject(with: try JSONDocument.encoder().encode(r)) as? [String: Any])
        var summary = try #require(object["summary"] as? [String: Any])
        summary["node_findings"] = nil
        summary["required_node_findings"] = nil
        object["summary"] = summary
        object["findings"] = nil
        let back = try JSONDecoder().decode(Results.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(back.nodeFindings.isEmpty && back.summary.nodeFindings == 0 && back.summary.requiredNodeFindings == 0)
        r.nodeFindings = [NodeFinding(node: "w1", code: "ip-forward-off", detail: "d", required: true)]
        let again = try JSONDecoder().decode(Results.self, from: try JSONDocument.encoder().encode(r))
        #expect(again.nodeFindings == r.nodeFindings)
    }
}

/// Clock offsets: the least an offset can be, and how it is said.
struct ClockOffsetTests {
    @Test(
        "the least an offset can be, whatever the round trip hid",
        arguments: [(5_000, 1_000, 2_000, 3_000), (1_500, 1_000, 2_000, 0), (400, 1_000, 2_000, -600), (2_000, 1_000, 2_000, 0)])
    func sure(_ agent: Int, _ sent: Int, _ received: Int, _ least: Int) {
        #expect(ClockOffset.sure(agentMs: agent, sentMs: sent, receivedMs: received) == least)
    }

    @Test(
        "in words",
        arguments: [
            (1_234, "1.2 s ahead of"), (-9_960, "10 s behind"), (59_600, "1 min ahead of"), (-119_600, "2 min behind"),
            (125_000, "2 min 5 s ahead of"), (7_260_000, "2 h 1 min ahead of"), (0, "0.0 s ahead of"),
        ])
    func words(_ ms: Int, _ text: String) {
        #expect(ClockOffset.words(ms) == text)
    }

    @Test("the agent's refusal carries its clock only when the request's time was the reason")
    func refusal() throws {
        #expect(ErrorResponse.refusal(.stale).timeMs != nil && ErrorResponse.refusal(.future).timeMs != nil)
        #expect(ErrorResponse.refusal(.badMAC).timeMs == nil && ErrorResponse.refusal(.replayed).timeMs == nil)
        let e = ErrorResponse(error: "too old", timeMs: 1_790_000_000_123)
        #expect(try WireCodec.decode(ErrorResponse.self, from: WireCodec.encode(e), source: "refusal") == e)
    }
}
