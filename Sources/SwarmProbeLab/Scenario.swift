import SwarmProbeCore

/// A lab layout with faults at known places, and the verdict each check must get.
public struct LabScenario: Sendable {
    public var name: String
    public var nodes: [(name: String, role: Role)]
    public var faults: [LabFault]

    public init(name: String, nodes: [(name: String, role: Role)], faults: [LabFault]) {
        self.name = name
        self.nodes = nodes
        self.faults = faults
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
        ])

    /// What a check must conclude for `from -> to` on `kind`, given the faults.
    /// `capture`: whether the target has capture taps (then silent drops get their layer).
    public func expected(from: String, to: String, kind: KindID, capture: Bool = false) -> (Verdict, Where?) {
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
            default:
                continue
            }
        }
        return (.open, nil)
    }
}
