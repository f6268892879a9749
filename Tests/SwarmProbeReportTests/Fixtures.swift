import SwarmProbeBench
import SwarmProbeCoordinator
import SwarmProbeCore
import SwarmProbeReport

/// Hand-built runs. Verdicts come from Core's `decide`, so details read as a real run's do.
enum Fixture: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Pre-flight of four nodes with long names: every path open.
    case healthy
    /// Every cause at once: each blocked place, closed, agent down, auth failed,
    /// inconclusive, an unexpected source address, optional paths not open, clock skew.
    case failing
    /// Interrupted with two probes still out: those two undecided, the rest decided.
    case incomplete
    /// 40 generated nodes in four groups with seeded faults (`SyntheticCluster`): the grouped reports.
    case grouped
    /// Every path open, but one node's host breaks the routing mesh (ip_forward off, a route inside the
    /// ingress network, a forward chain that drops published ports) and another's has information.
    case host

    var description: String { rawValue }

    var results: Results {
        switch self {
        case .healthy: return Fixtures.healthy()
        case .failing: return Fixtures.failing()
        case .incomplete: return Fixtures.incomplete()
        case .grouped: return Fixtures.grouped()
        case .host: return Fixtures.host()
        }
    }
}

enum Kinds {
    static let management = TrafficKind(name: "cluster-management", proto: .tcp, port: 2377, to: [.manager])
    static let gossipTCP = TrafficKind(name: "gossip-tcp", proto: .tcp, port: 7946)
    static let gossipUDP = TrafficKind(name: "gossip-udp", proto: .udp, port: 7946, sourcePort: 7946)
    static let overlay = TrafficKind(name: "overlay-data", proto: .udp, port: 4789, dataPath: true)
    static let esp = TrafficKind(name: "encrypted-overlay", proto: .esp, port: nil)
}

/// Collects nodes and checks, deciding each check's verdict with Core's `decide`.
struct RunBuilder {
    var nodes: [Node]
    var health: [String: AgentHealth] = [:]
    var listeners: [String: [ListenerState]] = [:]
    var clock: [String: Int] = [:]
    var checks: [CheckResult] = []

    init(_ nodes: [(String, String, Role)]) {
        self.nodes = nodes.map { Node(name: $0.0, address: IPAddress($0.1)!, role: $0.2) }
    }

    func node(_ name: String) -> Node { nodes.first { $0.name == name }! }
    func agent(_ name: String) -> AgentHealth { health[name] ?? .up }
    func listener(_ name: String, _ kind: TrafficKind) -> ListenerState? {
        listeners[name]?.first { $0.kind == kind.kindID }
    }

    mutating func add(_ from: String, _ to: String, _ kind: TrafficKind, _ sender: SenderEvidence?, _ receiver: ReceiverEvidence?) {
        let a = node(from), b = node(to)
        let input = VerdictInput(
            kind: kind.kindID, fromName: from, toName: to, expectedSource: a.address,
            senderAgent: agent(from), receiverAgent: agent(to), sender: sender, receiver: receiver)
        let decision = decide(input)
        checks.append(
            CheckResult(
                from: from, to: to, kind: kind, required: kind.isRequired(from: a.role, to: b.role),
                decision: decision, detail: CheckDetail.sentence(decision, input), sender: sender, receiver: receiver))
    }

    /// A check an interrupt left undecided: what `Merge` makes of a sender that had not reported the probe.
    mutating func addUndecided(_ from: String, _ to: String, _ kind: TrafficKind) {
        let a = node(from), b = node(to)
        let input = VerdictInput(
            kind: kind.kindID, fromName: from, toName: to, expectedSource: a.address,
            senderAgent: agent(from), receiverAgent: agent(to), sender: nil, receiver: nil)
        let decision = Decision(.inconclusive, nil, .interrupted)
        checks.append(
            CheckResult(
                from: from, to: to, kind: kind, required: kind.isRequired(from: a.role, to: b.role),
                decision: decision, detail: CheckDetail.sentence(decision, input), sender: nil, receiver: nil))
    }

    /// What an up target reports: its listener for the kind, and what it received.
    func seen(
        _ to: String, _ kind: TrafficKind, received: Int = 0, answered: Int = 0, from: String? = nil,
        sources: [String]? = nil, capture: CaptureEvidence? = nil
    ) -> ReceiverEvidence {
        let addresses =
            sources.map { $0.map { IPAddress($0)! } }
            ?? (received > 0 ? from.map { [node($0).address] } ?? [] : [])
        return ReceiverEvidence(
            listener: listener(to, kind), received: received, answered: answered,
            sourceAddresses: addresses, capture: capture)
    }

    func results(profile: String = "swarm", startedAt: String, durationMs: Int, timeoutMs: Int = 1000, complete: Bool = true) -> Results {
        let nodeResults = nodes.map { n in
            let h = agent(n.name)
            return NodeResult(
                node: n, agent: h, agentVersion: h.isUp ? SwarmProbeVersion.current : nil,
                listeners: listeners[n.name] ?? [], clockOffsetMs: clock[n.name])
        }
        return Results(
            toolVersion: SwarmProbeVersion.current, profile: profile, startedAt: startedAt, durationMs: durationMs,
            timeoutMs: timeoutMs, complete: complete, nodes: nodeResults, checks: checks)
    }
}

func answered(_ rttMicros: Int, attempts: Int = 1) -> SenderEvidence {
    SenderEvidence(outcome: .answered, attempts: attempts, rttMicros: rttMicros)
}

func timedOut(attempts: Int = 3) -> SenderEvidence {
    SenderEvidence(outcome: .timeout, attempts: attempts)
}

func refused(_ detail: String = "ECONNREFUSED") -> SenderEvidence {
    SenderEvidence(outcome: .refused, attempts: 1, detail: detail)
}

enum Fixtures {
    /// A generated cluster's evidence, decided by the coordinator's merge (as `check` and `bench scale` do).
    static func grouped(nodes: Int = 40) -> Results {
        let cluster = SyntheticCluster(nodes: nodes, profile: DefaultProfile.load())
        var g = Gathered()
        cluster.gather(into: &g)
        var checks: [CheckResult] = []
        Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: g, complete: true) { checks.append($0) }
        // Two nodes whose hosts need a look: the grouped reports list node findings as they are.
        let nodeFindings = [
            HostFindings.findings(
                node: cluster.inventory.nodes[3].name,
                facts: HostFacts(
                    ipForward: false,
                    forwardChains: [
                        ForwardChain(family: "ip", table: "filter", chain: "FORWARD", policy: "drop", jumps: ["DOCKER-USER", "DOCKER-INGRESS"])
                    ])),
            HostFindings.findings(
                node: cluster.inventory.nodes[17].name,
                facts: HostFacts(routes: [HostRoute(destination: CIDR("10.0.0.0/16")!, device: "eth0")])),
        ].flatMap { $0 }
        return Results(
            toolVersion: "0.1.0", profile: cluster.profile.name, startedAt: "2025-06-02T09:14:07Z", durationMs: 2480,
            timeoutMs: 2000, complete: true, nodes: Merge.nodeResults(inventory: cluster.inventory, gathered: g), checks: checks,
            nodeFindings: nodeFindings)
    }

    /// Three nodes, every path open; the hosts' facts as their agents read them, findings as the coordinator
    /// attaches them (`HostFindings`).
    static func host() -> Results {
        var b = RunBuilder([
            ("mgr-1", "198.18.1.11", .manager),
            ("wrk-1", "198.18.1.13", .worker),
            ("wrk-2", "198.18.1.14", .worker),
        ])
        let kinds = [Kinds.management, Kinds.overlay]
        for n in b.nodes { b.listeners[n.name] = kinds.map { ListenerState(kind: $0.kindID, mode: .listening) } }
        var rtt = 350
        for k in kinds {
            for a in b.nodes {
                for t in b.nodes where t.name != a.name {
                    rtt += 23
                    b.add(a.name, t.name, k, answered(rtt), b.seen(t.name, k, received: 1, answered: 1, from: a.name))
                }
            }
        }
        let dockerForward = ForwardChain(
            family: "ip", table: "filter", chain: "FORWARD", policy: "drop",
            jumps: ["DOCKER-USER", "DOCKER-INGRESS", "DOCKER-ISOLATION-STAGE-1", "DOCKER"], acceptsPublished: true)
        let published = [KindID(proto: .tcp, port: 8080)]
        let own = [
            HostRoute(destination: CIDR("198.18.0.0/16")!, device: "eth0"), HostRoute(destination: CIDR("172.18.0.0/16")!, device: "docker_gwbridge"),
        ]
        let facts: [String: HostFacts] = [
            "mgr-1": HostFacts(
                ipForward: true, forwardPolicy: "drop", routes: [HostRoute(destination: CIDR("0.0.0.0/0")!, device: "eth0")] + own,
                ingressPorts: published, forwardChains: [dockerForward]),
            "wrk-1": HostFacts(
                ipForward: false, forwardPolicy: "drop", routes: own + [HostRoute(destination: CIDR("10.255.7.0/24")!, device: "tun0")],
                ingressPorts: published,
                forwardChains: [ForwardChain(family: "inet", table: "filter", chain: "forward", policy: "drop"), dockerForward]),
            "wrk-2": HostFacts(
                ipForward: true, forwardPolicy: "drop", routes: own + [HostRoute(destination: CIDR("10.0.1.0/24")!, device: "eth1")],
                ingressPorts: published, forwardChains: [dockerForward]),
        ]
        var r = b.results(startedAt: "2025-06-02T13:20:00Z", durationMs: 1120)
        for i in r.nodes.indices { r.nodes[i].host = facts[r.nodes[i].name] }
        r.nodeFindings = r.nodes.flatMap { n in n.host.map { HostFindings.findings(node: n.name, facts: $0) } ?? [] }
        r.summary = Summary(checks: r.checks, complete: true, nodeFindings: r.nodeFindings)
        return r
    }

    static func healthy() -> Results {
        var b = RunBuilder([
            ("swarm-manager-eu-west-1a", "10.20.1.10", .manager),
            ("swarm-manager-eu-west-1b", "10.20.2.10", .manager),
            ("swarm-worker-eu-west-1a", "10.20.1.20", .worker),
            ("swarm-worker-eu-west-1b", "10.20.2.20", .worker),
        ])
        let kinds = [Kinds.management, Kinds.gossipTCP, Kinds.gossipUDP, Kinds.overlay]
        for n in b.nodes { b.listeners[n.name] = kinds.map { ListenerState(kind: $0.kindID, mode: .listening) } }
        b.clock = ["swarm-manager-eu-west-1a": 3, "swarm-manager-eu-west-1b": -8, "swarm-worker-eu-west-1a": 12, "swarm-worker-eu-west-1b": 0]
        var rtt = 310
        for k in kinds {
            for a in b.nodes {
                for t in b.nodes where t.name != a.name {
                    rtt = (rtt * 7 + 113) % 2400 + 180
                    b.add(a.name, t.name, k, answered(rtt), b.seen(t.name, k, received: 1, answered: 1, from: a.name))
                }
            }
        }
        return b.results(startedAt: "2025-06-02T09:14:07Z", durationMs: 1342)
    }

    static func failing() -> Results {
        var b = RunBuilder([
            ("mgr-1", "198.18.1.11", .manager),
            ("mgr-2", "198.18.1.12", .manager),
            ("wrk-1", "198.18.1.13", .worker),
            ("wrk-2", "198.18.1.14", .worker),
            ("wrk-3", "198.18.1.15", .worker),
        ])
        let (m, t, e) = (Kinds.management, Kinds.overlay, Kinds.esp)
        b.health["wrk-2"] = AgentHealth(.down, "connect 198.18.1.14:7950: connection refused")
        b.health["wrk-3"] = AgentHealth(.authFailed, "HTTP 401: request signature does not verify")
        b.listeners["mgr-1"] = [
            ListenerState(kind: m.kindID, mode: .listening), ListenerState(kind: t.kindID, mode: .listening),
            ListenerState(kind: e.kindID, mode: .listening),
        ]
        b.listeners["mgr-2"] = [
            ListenerState(kind: m.kindID, mode: .unavailable, detail: "bind 0.0.0.0:2377: permission denied"),
            ListenerState(kind: t.kindID, mode: .listening), ListenerState(kind: e.kindID, mode: .listening),
        ]
        b.listeners["wrk-1"] = [
            ListenerState(kind: m.kindID, mode: .unavailable, detail: "bind 0.0.0.0:2377: permission denied"),
            ListenerState(kind: t.kindID, mode: .listening),
            ListenerState(kind: e.kindID, mode: .unavailable, detail: "raw ESP socket needs CAP_NET_RAW"),
        ]
        b.clock = ["mgr-1": 4, "mgr-2": -7, "wrk-1": 45_210]

        let good = ["mgr-1", "mgr-2", "wrk-1"]
        func agentDown(_ from: String, _ to: String, _ k: TrafficKind) -> (SenderEvidence?, ReceiverEvidence?) {
            if !good.contains(from) { return (nil, nil) }
            return (timedOut(), nil)
        }
        // The good nodes' evidence, per kind and pair.
        let evidence: [String: (SenderEvidence?, ReceiverEvidence?)] = [
            // 2377/tcp: mgr-1 drops or rejects it, mgr-2 and the workers hold nothing on it.
            "2377 mgr-1 mgr-2": (refused(), b.seen("mgr-2", m)),
            "2377 mgr-1 wrk-1": (refused(), b.seen("wrk-1", m)),
            "2377 mgr-2 mgr-1": (refused(), b.seen("mgr-1", m)),
            "2377 mgr-2 wrk-1": (refused(), b.seen("wrk-1", m)),
            "2377 wrk-1 mgr-1": (timedOut(), b.seen("mgr-1", m, capture: CaptureEvidence(seenAtInterface: true, seenPastFirewall: false))),
            "2377 wrk-1 mgr-2": (refused(), b.seen("mgr-2", m)),
            // 4789/udp: each place a probe can die.
            "4789 mgr-1 mgr-2": (timedOut(), b.seen("mgr-2", t)),
            "4789 mgr-1 wrk-1": (timedOut(), b.seen("wrk-1", t, capture: CaptureEvidence(seenAtInterface: false))),
            "4789 mgr-2 mgr-1": (timedOut(), b.seen("mgr-1", t, received: 2, answered: 0, from: "mgr-2")),
            "4789 mgr-2 wrk-1": (timedOut(), b.seen("wrk-1", t, capture: CaptureEvidence(seenAtInterface: false))),
            "4789 wrk-1 mgr-1": (timedOut(), b.seen("mgr-1", t, received: 3, answered: 3, from: "wrk-1")),
            "4789 wrk-1 mgr-2": (answered(612), b.seen("mgr-2", t, received: 1, answered: 1, sources: ["10.0.7.13"])),
            // esp: wrk-1 cannot watch ESP, so nothing confirms arrival there.
            "esp mgr-1 mgr-2": (answered(455), b.seen("mgr-2", e, received: 1, answered: 1, from: "mgr-1")),
            "esp mgr-1 wrk-1": (timedOut(), b.seen("wrk-1", e)),
            "esp mgr-2 mgr-1": (answered(498), b.seen("mgr-1", e, received: 1, answered: 1, from: "mgr-2")),
            "esp mgr-2 wrk-1": (timedOut(), b.seen("wrk-1", e)),
            "esp wrk-1 mgr-1": (answered(530), b.seen("mgr-1", e, received: 1, answered: 1, from: "wrk-1")),
            "esp wrk-1 mgr-2": (answered(571), b.seen("mgr-2", e, received: 1, answered: 1, from: "wrk-1")),
        ]
        for k in [m, t, e] {
            for a in b.nodes {
                for z in b.nodes where z.name != a.name {
                    let key = "\(k.port.map(String.init) ?? "esp") \(a.name) \(z.name)"
                    let (s, r) = evidence[key] ?? agentDown(a.name, z.name, k)
                    b.add(a.name, z.name, k, s, r)
                }
            }
        }
        return b.results(startedAt: "2025-06-02T10:02:41Z", durationMs: 4210)
    }

    static func incomplete() -> Results {
        var b = RunBuilder([
            ("mgr-1", "198.18.1.11", .manager),
            ("wrk-1", "198.18.1.13", .worker),
            ("wrk-2", "198.18.1.14", .worker),
        ])
        let (m, t) = (Kinds.management, Kinds.overlay)
        for n in b.nodes { b.listeners[n.name] = [m, t].map { ListenerState(kind: $0.kindID, mode: .listening) } }
        b.clock = ["mgr-1": 1, "wrk-1": -3, "wrk-2": 2]
        var rtt = 402
        for a in b.nodes {
            for z in b.nodes where z.name != a.name {
                rtt += 37
                b.add(a.name, z.name, m, answered(rtt), b.seen(z.name, m, received: 1, answered: 1, from: a.name))
            }
        }
        b.add("mgr-1", "wrk-1", t, answered(388, attempts: 2), b.seen("wrk-1", t, received: 2, answered: 2, from: "mgr-1"))
        b.add("mgr-1", "wrk-2", t, timedOut(), b.seen("wrk-2", t, capture: CaptureEvidence(seenAtInterface: false)))
        b.add("wrk-1", "mgr-1", t, answered(401), b.seen("mgr-1", t, received: 1, answered: 1, from: "wrk-1"))
        b.add("wrk-2", "mgr-1", t, answered(377), b.seen("mgr-1", t, received: 1, answered: 1, from: "wrk-2"))
        // Interrupted while the workers' probes to each other were still out.
        b.addUndecided("wrk-1", "wrk-2", t)
        b.addUndecided("wrk-2", "wrk-1", t)
        return b.results(startedAt: "2025-06-02T11:30:00Z", durationMs: 1830, complete: false)
    }

    /// More open checks than the markdown lists one by one.
    static func large(nodes: Int = 8) -> Results {
        var b = RunBuilder((1...nodes).map { ("node-\($0)", "10.1.\($0 / 250).\($0 % 250 + 1)", $0 == 1 ? Role.manager : .worker) })
        for a in b.nodes {
            for z in b.nodes where z.name != a.name {
                b.add(a.name, z.name, Kinds.overlay, answered(500), b.seen(z.name, Kinds.overlay, received: 1, answered: 1, from: a.name))
            }
        }
        return b.results(startedAt: "2025-06-02T12:00:00Z", durationMs: 900)
    }
}
