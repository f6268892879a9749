import SwarmProbeCore

/// A lab layout with faults at known places, and the verdict each check must get.
public struct LabScenario: Sendable {
    public var name: String
    public var nodes: [(name: String, role: Role)]
    public var faults: [LabFault]
    /// Nodes whose agent is not started: every check from or to them must be `agent-down`.
    public var agentsDown: [String]
    /// Ports to check as published (`check --published`), probed from the coordinator (`Lab.coordinator`).
    public var published: [KindID]

    public init(
        name: String, nodes: [(name: String, role: Role)], faults: [LabFault], agentsDown: [String] = [], published: [KindID] = []
    ) {
        self.published = published
        self.name = name
        self.nodes = nodes
        self.faults = faults
        self.agentsDown = agentsDown
    }

    /// `count` nodes, the first `managers` of them managers, no faults.
    public static func healthy(nodes count: Int, managers: Int = 1) -> LabScenario {
        let nodes = (0..<count).map { i in
            i < managers ? (name: "m\(i + 1)", role: Role.manager) : (name: "w\(i - managers + 1)", role: Role.worker)
        }
        return LabScenario(name: "healthy-\(count)", nodes: nodes, faults: [])
    }

    /// What `swarmprobe demo` shows: four nodes, each kind of fault.
    public static let demo = LabScenario(
        name: "demo",
        nodes: [("m1", .manager), ("m2", .manager), ("w1", .worker), ("w2", .worker)],
        faults: [
            // A security group that forgot VXLAN one way.
            .networkDrop(from: "w1", to: "w2", kind: KindID(proto: .udp, port: 4789)),
            // firewalld on m2 rejecting gossip over UDP from everyone.
            .hostFirewall(node: "m2", from: nil, kind: KindID(proto: .udp, port: 7946), reject: true),
            // m2 rejecting cluster management from w2.
            .hostFirewall(node: "m2", from: "w2", kind: KindID(proto: .tcp, port: 2377), reject: true),
            // A stateless ACL that lets w1's gossip answers to m1 die on the way back.
            .returnPathDrop(from: "m1", to: "w1", kind: KindID(proto: .udp, port: 7946)),
            // w2's firewall silently dropping gossip over TCP from m1: only capture can tell this from the network.
            .hostFirewall(node: "w2", from: "m1", kind: KindID(proto: .tcp, port: 7946), reject: false),
            // w1's own firewall dropping m1's answers on cluster management (no "established" accept before it):
            // w1's capture sees the SYN-ACKs arrive.
            .answersDroppedBySender(node: "w1", from: "m1", kind: KindID(proto: .tcp, port: 2377)),
            // A VPN between m2 and w1 that drops VXLAN packets it cannot carry, and says nothing.
            .bigPacketDrop(from: "m2", to: "w1", kind: KindID(proto: .udp, port: 4789), above: 1400),
            // The load balancer's security group admits the published port on every node but w2.
            .networkDrop(from: Lab.coordinator, to: "w2", kind: KindID(proto: .tcp, port: 8080)),
            // m1's firewall drops the published port: nobody opened it there.
            .hostFirewall(node: "m1", from: nil, kind: KindID(proto: .tcp, port: 8080), reject: false),
        ],
        published: [KindID(proto: .tcp, port: 8080)])

    /// The path MTU the faults leave `from -> to` on the data path (the size a black hole or a router lets
    /// through); nil: nothing in the lab limits it.
    public func expectedPathMTU(from: String, to: String) -> Int? {
        for fault in faults {
            switch fault {
            case let .bigPacketDrop(f, t, _, above) where f == from && t == to: return above
            case let .routedHop(f, t, mtu) where f == from && t == to: return mtu
            default: continue
            }
        }
        return nil
    }

    /// What a check must conclude for `from -> to` on `kind`, given the faults.
    /// `capture`: whether the target has capture taps (then silent drops get their layer).
    public func expected(from: String, to: String, kind: KindID, capture: Bool = false) -> (Verdict, Where?) {
        // No agent at one end: nothing can be claimed about the path, whatever faults lie on it.
        if agentsDown.contains(from) || agentsDown.contains(to) { return (.agentDown, nil) }
        for fault in faults {
            switch fault {
            case let .networkDrop(f, t, k) where f == from && t == to && k == kind:
                return (.blocked, capture ? .network : .unknown)
            case let .networkDrop(f, t, k) where f == to && t == from && k == kind && kind.proto == .esp:
                // ESP has no ports: dropping t <- f also drops the echoes t sends back to f.
                return (.blocked, .returnPath)
            case let .returnPathDrop(f, t, k) where f == from && t == to && k == kind:
                // UDP: the target logs the probe it answered. TCP: the SYN-ACK dies, nobody logs anything.
                return (.blocked, kind.proto == .tcp && !capture ? .unknown : .returnPath)
            case let .hostFirewall(n, f, k, reject) where n == to && (f == nil || f == from) && k == kind:
                return (.blocked, reject || capture ? .hostFirewall : .unknown)
            case let .sourceNAT(n, k) where n == from && k == kind && kind.proto != .tcp:
                // The target answers the advertise address; the sender's NAT does not let that answer in.
                return (.blocked, .returnPath)
            case .sourceNAT:
                continue
            case let .senderFirewall(n, t, k) where n == from && (t == nil || t == to) && k == kind:
                // UDP and ESP: the kernel refuses the send (EPERM), certain without a tap. TCP: the SYN is dropped
                // silently; only the sender's interface tap (there when the lab captures) tells.
                return (.blocked, kind.proto == .tcp && !capture ? .unknown : .senderFirewall)
            case let .answersDroppedBySender(n, f, k) where n == from && (f == nil || f == to) && k == kind:
                // The answer reaches the sender's interface: its tap says so (capture); without one, as any
                // return path (a UDP target logs what it answered, a TCP one nothing).
                return (.blocked, kind.proto == .tcp && !capture ? .unknown : .returnPath)
            default:
                continue
            }
        }
        return (.open, nil)
    }
}

extension LabScenario {
    /// The kinds the default profile checks (what `faulted` spreads its faults over).
    public static var defaultKinds: [KindID] { DefaultProfile.load().enabledKinds.map(\.kindID) }

    /// A seeded, reproducible faulted mesh for the benchmark: `count` nodes (the first `managers`
    /// managers), and exactly `fraction` of the directed (from, to, kind) checks faulted, one fault per
    /// check, rotating through a network drop (silent), a silent host-firewall drop and a host-firewall
    /// reject. From 8 nodes on, one worker's agent is also left unstarted (`agentsDown`): its checks are
    /// `agent-down` and carry no fault, the fraction is taken of all checks all the same.
    /// Each fault names one (from, to, kind) exactly, so it changes that check's verdict and no other's
    /// (UDP probes leave from ephemeral ports, so a rule on `dport` never eats another check's answers).
    public static func faulted(
        nodes count: Int, managers: Int = 1, fraction: Double = 0.25, seed: UInt64 = 1,
        kinds: [KindID] = LabScenario.defaultKinds
    ) -> LabScenario {
        var base = healthy(nodes: count, managers: managers)
        var rng = SplitMix64(seed: seed &+ UInt64(count))
        let names = base.nodes.map(\.name)
        var down: [String] = []
        if count >= 8 {
            let workers = base.nodes.filter { $0.role == .worker }.map(\.name)
            if !workers.isEmpty { down = [workers[Int(rng.next() % UInt64(workers.count))]] }
        }
        let total = count * (count - 1) * kinds.count
        var candidates: [(String, String, KindID)] = []
        for kind in kinds {
            for a in names where !down.contains(a) {
                for b in names where b != a && !down.contains(b) { candidates.append((a, b, kind)) }
            }
        }
        let wanted = min(candidates.count, Int((Double(total) * fraction).rounded()))
        // Fisher-Yates with the seeded generator: the first `wanted` are the faulted checks.
        for i in stride(from: candidates.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            candidates.swapAt(i, j)
        }
        base.faults = candidates.prefix(wanted).enumerated().map { i, c in
            switch i % 3 {
            case 0: return .networkDrop(from: c.0, to: c.1, kind: c.2)
            case 1: return .hostFirewall(node: c.1, from: c.0, kind: c.2, reject: false)
            default: return .hostFirewall(node: c.1, from: c.0, kind: c.2, reject: true)
            }
        }
        base.agentsDown = down
        base.name = "faulted-\(count)"
        return base
    }
}
