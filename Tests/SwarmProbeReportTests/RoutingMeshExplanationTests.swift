import SwarmProbeCore
import Testing

@testable import SwarmProbeReport

/// The explanation step as a table: what is known about one published port on one node, and the finding code
/// (and the words that matter in it) it must come out as.
struct RoutingMeshExplanationTests {
    static let web = KindID(proto: .tcp, port: 8080)

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var live: Bool = false
        var verdict: Verdict
        var location: Where? = nil
        var reason: Reason
        var seenAtInterface: Bool? = nil
        var listener: ListenerState.Mode? = .listening
        var host: HostFacts? = nil
        var dataPath: [(to: String, verdict: Verdict)] = []
        var aws: (reason: String, remedy: String)? = nil
        /// nil: no finding.
        var code: String?
        var words: [String] = []
        var testDescription: String { name }
    }

    static let table: [Row] = [
        Row(name: "open", verdict: .open, reason: .answered, code: nil),
        Row(name: "the node's agent is down: its own finding says so", verdict: .agentDown, reason: .targetAgentDown, code: nil),
        Row(name: "interrupted", verdict: .inconclusive, reason: .interrupted, code: nil),
        Row(
            name: "never reached the node", verdict: .blocked, location: .network, reason: .silentBeforeTarget,
            code: "published-port-network", words: ["never reached n3", "security group", "aws audit --published 8080/tcp"]),
        Row(
            name: "never reached, with the AWS rule", verdict: .blocked, location: .network, reason: .silentBeforeTarget,
            aws: ("sg-node admits 8080/tcp only from sg-other", "aws ec2 authorize-security-group-ingress --group-id sg-node"),
            code: "published-port-network", words: ["sg-node admits 8080/tcp only from sg-other", "authorize-security-group-ingress"]),
        Row(
            name: "rejected by the node's firewall, pre-flight", verdict: .blocked, location: .hostFirewall,
            reason: .rejectedByTargetFirewall, code: "published-port-host-firewall",
            words: ["rejected", "nft insert rule inet filter input tcp dport 8080 accept"]),
        Row(
            name: "dropped by the node's firewall, live: the fix goes before Docker's forwarding rules", live: true, verdict: .blocked,
            location: .hostFirewall, reason: .droppedByTargetFirewall, code: "published-port-host-firewall", words: ["dropped", "DOCKER-USER"]),
        Row(
            name: "the answer lost on the way back", verdict: .blocked, location: .returnPath, reason: .answerCapturedLeaving,
            code: "published-port-return-path", words: ["never reached laptop", "outbound 1024-65535"]),
        Row(
            name: "refused, and the agent does not hold the port", verdict: .closed, reason: .nothingListening, listener: nil,
            code: "published-port-closed", words: ["--published 8080/tcp"]),
        Row(
            name: "live: reached the node, forwarding off", live: true, verdict: .blocked, location: .unknown, reason: .silentUnknownLayer,
            seenAtInterface: true, host: HostFacts(ipForward: false), code: "published-port-forwarding-off",
            words: ["net.ipv4.ip_forward is 0", "sysctl -w net.ipv4.ip_forward=1"]),
        Row(
            name: "live: refused, DOCKER-INGRESS has other ports only", live: true, verdict: .closed, reason: .nothingListening,
            host: HostFacts(ipForward: true, ingressPorts: [KindID(proto: .tcp, port: 9000)], forwardChains: []),
            code: "published-port-no-ingress-rule",
            words: ["DOCKER-INGRESS", "docker service update --force web"]),
        Row(
            name: "live: a forward chain drops and nothing in it accepts the mesh's traffic", live: true, verdict: .blocked,
            location: .unknown, reason: .silentUnknownLayer, seenAtInterface: true,
            host: HostFacts(
                ipForward: true, forwardPolicy: "drop", ingressPorts: [web],
                forwardChains: [
                    ForwardChain(family: "ip", table: "filter", chain: "FORWARD", policy: "drop", jumps: ["DOCKER-INGRESS"], acceptsPublished: true),
                    ForwardChain(family: "inet", table: "filter", chain: "forward", policy: "drop"),
                ]),
            code: "published-port-forward-drop", words: ["table inet filter chain forward", "DOCKER-USER"]),
        Row(
            name: "live: Docker's drop policy with its accept path is normal", live: true, verdict: .blocked, location: .unknown,
            reason: .arrivedNotAnswered, seenAtInterface: true,
            host: HostFacts(
                ipForward: true, forwardPolicy: "drop", ingressPorts: [web],
                forwardChains: [
                    ForwardChain(family: "ip", table: "filter", chain: "FORWARD", policy: "drop", jumps: ["DOCKER-INGRESS"], acceptsPublished: true)
                ]),
            code: "published-port-unanswered", words: ["reaches n3"]),
        Row(
            name: "live: no DOCKER-INGRESS chain at all (dockerd with --iptables=false)", live: true, verdict: .closed,
            reason: .nothingListening, host: HostFacts(ipForward: true, forwardChains: []), code: "published-port-no-ingress-rule",
            words: ["no DOCKER-INGRESS chain", "--iptables=false"]),
        Row(
            name: "live: a route inside the ingress network", live: true, verdict: .blocked, location: .unknown, reason: .silentUnknownLayer,
            seenAtInterface: true,
            host: HostFacts(
                ipForward: true, forwardPolicy: "accept",
                routes: [
                    HostRoute(destination: CIDR("10.255.0.0/24")!, device: "docker_gwbridge"),
                    HostRoute(destination: CIDR("10.255.8.0/24")!, device: "ens5"),
                ], ingressPorts: [web]),
            code: "published-port-subnet-overlap", words: ["10.255.8.0/24 via ens5", "10.255.0.0/16"]),
        Row(
            name: "live: Docker's own routes into the mesh are no conflict", live: true, verdict: .blocked, location: .unknown,
            reason: .silentUnknownLayer, seenAtInterface: true,
            host: HostFacts(
                ipForward: true, routes: [HostRoute(destination: CIDR("172.18.0.0/16")!, device: "docker_gwbridge")], ingressPorts: [web]),
            code: "published-port-unanswered", words: ["reaches n3"]),
        Row(
            name: "live: reached, but the data path to the tasks is blocked", live: true, verdict: .blocked, location: .unknown,
            reason: .silentUnknownLayer, seenAtInterface: true, host: HostFacts(ipForward: true, ingressPorts: [web]),
            dataPath: [("n1", .blocked), ("n2", .open)], code: "published-port-no-data-path",
            words: ["service's tasks on n1", "4789/udp", "blocked (network)"]),
        Row(
            name: "pre-flight, no capture tap to tell", verdict: .blocked, location: .unknown, reason: .silentUnknownLayer,
            code: "published-port-unknown", words: ["could not tell"]),
    ]

    @Test("each case's finding", arguments: table)
    func explains(_ row: Row) {
        var port = RoutingMesh.Port(PublishedTarget(port: Self.web, service: row.live ? "web" : nil, taskNodes: row.live ? ["n1", "n2"] : []))
        port.mode = .ingress
        let kind = TrafficKind(name: "web 8080/tcp", proto: .tcp, port: 8080, published: true)
        let outcome: ProbeOutcome =
            row.verdict == .closed || row.reason == .rejectedByTargetFirewall ? .refused : row.verdict == .open ? .connected : .timeout
        let receiver = ReceiverEvidence(
            listener: row.listener.map { ListenerState(kind: Self.web, mode: $0) },
            capture: row.seenAtInterface.map { CaptureEvidence(seenAtInterface: $0) })
        let check = CheckResult(
            from: "laptop", to: "n3", kind: kind, required: true,
            decision: Decision(row.verdict, row.verdict == .blocked ? row.location : nil, row.reason), detail: "",
            sender: SenderEvidence(outcome: outcome, attempts: 1), receiver: receiver)
        let vxlan = TrafficKind(name: "overlay", proto: .udp, port: 4789, dataPath: true)
        let dataPath = row.dataPath.map { d in
            CheckResult(
                from: "n3", to: d.to, kind: vxlan, required: true,
                decision: Decision(d.verdict, d.verdict == .blocked ? .network : nil, d.verdict == .open ? .answered : .silentBeforeTarget),
                detail: "", sender: nil, receiver: nil)
        }
        let f = RoutingMeshExplanation.finding(
            .init(port: port, client: "laptop", check: check, host: row.host, dataPath: dataPath, aws: row.aws))
        #expect(f?.code == row.code, "\(f.map { "\($0.code): \($0.detail)" } ?? "none")")
        guard let f else { return }
        #expect(f.node == "n3" && f.required && f.port == Self.web)
        let text = f.detail + " | " + (f.fix ?? "")
        for w in row.words { #expect(text.contains(w), "\"\(w)\" not in: \(text)") }
        #expect(!f.detail.contains("\n"))
    }

    @Test("over results: one finding per failing node and port, from the routing mesh's checks only")
    func overResults() {
        let kind = TrafficKind(name: "published 8080/tcp", proto: .tcp, port: 8080, published: true)
        func check(_ to: String, _ v: Verdict, _ w: Where?) -> CheckResult {
            var c = CheckResult(
                from: "laptop", to: to, kind: kind, required: true, decision: Decision(v, w, v == .open ? .answered : .silentBeforeTarget),
                detail: "", sender: nil, receiver: nil)
            c.published = PublishedCheck(service: nil, mode: .ingress)
            return c
        }
        var r = Results(
            toolVersion: "t", profile: "p", startedAt: "s", durationMs: 1, timeoutMs: 1, complete: true, nodes: [],
            checks: [check("n1", .open, nil), check("n2", .blocked, .network)])
        #expect(RoutingMeshExplanation.findings(r, dataPath: nil).isEmpty, "no routing mesh: no vantage, nothing to explain")
        r.routingMesh = RoutingMesh(client: "laptop", clientAddress: IPAddress("198.18.0.1")!, ports: [.init(PublishedTarget(port: Self.web))])
        let found = RoutingMeshExplanation.findings(r, dataPath: nil)
        #expect(found.map(\.node) == ["n2"] && found.map(\.code) == ["published-port-network"])

        // Silent where no tap could tell: the node's own facts, from its entry in the results, say why.
        r.checks[1] = check("n2", .blocked, .unknown)
        #expect(RoutingMeshExplanation.findings(r, dataPath: nil).map(\.code) == ["published-port-unknown"])
        var n2 = NodeResult(node: Node(name: "n2", address: IPAddress("198.18.1.12")!, role: .worker), agent: .up)
        n2.host = HostFacts(ipForward: false)
        r.nodes = [n2]
        #expect(RoutingMeshExplanation.findings(r, dataPath: nil).map(\.code) == ["published-port-forwarding-off"])
    }
}
