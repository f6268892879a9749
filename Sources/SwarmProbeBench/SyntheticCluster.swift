import SwarmProbeCoordinator
import SwarmProbeCore

/// A generated cluster and the evidence its agents would have returned, with a seeded set of faults
/// and the verdict each check must get: the input of `swarmprobe-bench scale` and of the scale tests.
///
/// Nodes `n-0001`... are spread over groups `az-a`, `az-b`, ... (inventory `group:`; at most 250 nodes
/// a group, `10.<group+1>.<i/250>.<i%250+1>`), the first node of each of the first three groups is a
/// manager. Faults:
/// - the network drops 4789/udp from every node of group 0 to every node of group 1 (one way);
/// - three nodes of group 2 drop inbound 7946/udp in their own firewall;
/// - one node of group 3 answers 7946/tcp and 7946/udp, but its answers to group 0 are lost (return path);
/// - the last node of groups 2 and 3 has no agent (connection refused);
/// - the second node of group 1 sends its VXLAN (4789/udp) probes from a second address (NAT, a second
///   NIC): they are answered (open) but reported as arriving from an unexpected source;
/// - workers hold nothing on 2377/tcp (closed, as on a live swarm's workers; not required).
public struct SyntheticCluster: Sendable {
    public enum Fate: Sendable, Equatable {
        case open, closed, network, hostFirewall, returnPath, senderDown, targetDown

        /// The verdict `decide` must reach.
        public var expected: (Verdict, Where?) {
            switch self {
            case .open: return (.open, nil)
            case .closed: return (.closed, nil)
            case .network: return (.blocked, .network)
            case .hostFirewall: return (.blocked, .hostFirewall)
            case .returnPath: return (.blocked, .returnPath)
            case .senderDown, .targetDown: return (.agentDown, nil)
            }
        }
    }

    public let inventory: Inventory
    public let profile: Profile
    public let kinds: [TrafficKind]
    public let groupOf: [Int]
    public let members: [[Int]]
    public let down: Set<Int>
    public let firewalled: Set<Int>
    public let returnPathNode: Int
    /// Its 4789/udp probes arrive from `natAddress`, not its advertise address.
    public let natNode: Int
    public let natAddress = IPAddress.v4(10, 99, 0, 1)
    public let seed: UInt64
    public let runID = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e"
    private let kindIndex: (gossipTCP: Int?, gossipUDP: Int?, overlay: Int?, management: Int?)

    /// `nodes` from 16 (four groups of four) up.
    public init(nodes n: Int, profile: Profile, seed: UInt64 = 1) {
        precondition(n >= 16, "a synthetic cluster needs at least 16 nodes")
        self.profile = profile
        self.seed = seed
        kinds = profile.enabledKinds
        let groupCount = max(4, (n + 249) / 250)
        var groupOf: [Int] = [], members = Array(repeating: [Int](), count: groupCount)
        for i in 0..<n {
            let g = i * groupCount / n
            groupOf.append(g)
            members[g].append(i)
        }
        self.groupOf = groupOf
        self.members = members
        let managers = Set((0..<min(3, groupCount)).map { members[$0][0] })
        func groupName(_ g: Int) -> String {
            g < 26 ? "az-" + String(UnicodeScalar(UInt8(97 + g))) : "az-\(g)"
        }
        var nodes: [Node] = []
        for i in 0..<n {
            let g = groupOf[i], j = members[g].firstIndex(of: i)!
            let address = IPAddress.v4(10, UInt8(g + 1), UInt8(j / 250), UInt8(j % 250 + 1))
            nodes.append(
                Node(
                    name: SyntheticCluster.name(i), address: address, role: managers.contains(i) ? .manager : .worker,
                    group: groupName(g)))
        }
        inventory = Inventory(nodes: nodes)
        down = [members[2].last!, members[3].last!]
        firewalled = Set(members[2][1...3])
        returnPathNode = members[3][1]
        natNode = members[1][1]
        func kind(_ proto: TransportProtocol, _ port: Int) -> Int? {
            profile.enabledKinds.firstIndex { $0.kindID == KindID(proto: proto, port: port) }
        }
        let overlay = profile.enabledKinds.firstIndex { $0.dataPath && $0.proto == .udp }
        kindIndex = (kind(.tcp, 7946), kind(.udp, 7946), overlay, kind(.tcp, 2377))
    }

    public static func name(_ i: Int) -> String {
        let s = String(i + 1)
        return "n-" + String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    public var nodeCount: Int { inventory.nodes.count }

    /// What happens to the probes of one check.
    public func fate(from i: Int, to j: Int, kind k: Int) -> Fate {
        if down.contains(i) { return .senderDown }
        if down.contains(j) { return .targetDown }
        if k == kindIndex.management && inventory.nodes[j].role == .worker { return .closed }
        if k == kindIndex.overlay && groupOf[i] == 0 && groupOf[j] == 1 { return .network }
        if k == kindIndex.gossipUDP && firewalled.contains(j) { return .hostFirewall }
        if (k == kindIndex.gossipTCP || k == kindIndex.gossipUDP) && j == returnPathNode && groupOf[i] == 0 { return .returnPath }
        return .open
    }

    // MARK: Evidence

    private func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    private func probeID(_ i: Int, _ j: Int, _ k: Int, _ attempt: Int) -> UInt64 {
        seed &* 0x1000_0000_01b3 ^ UInt64(i) << 40 ^ UInt64(j) << 16 ^ UInt64(k) << 8 ^ UInt64(attempt)
    }

    /// The nonce of one attempt, as an agent writes it (32 hex digits).
    func nonce(_ i: Int, _ j: Int, _ k: Int, _ attempt: Int) -> String {
        let a = mix(probeID(i, j, k, attempt)), b = mix(a ^ 0x5bd1_e995)
        return Hex.encode(withUnsafeBytes(of: a.bigEndian, Array.init) + withUnsafeBytes(of: b.bigEndian, Array.init))
    }

    /// The TCP source port of one attempt.
    func port(_ i: Int, _ j: Int, _ k: Int, _ attempt: Int) -> Int {
        32768 + Int(mix(probeID(i, j, k, attempt) ^ 0x7ead) % 28000)
    }

    private func attempts(_ fate: Fate, _ kind: TrafficKind) -> Int {
        switch fate {
        case .open, .closed, .targetDown, .senderDown: return 1
        case .network, .hostFirewall, .returnPath: return kind.proto == .tcp ? 2 : 3
        }
    }

    public func hello(_ i: Int) -> HelloResponse {
        let node = inventory.nodes[i]
        let listeners = kinds.enumerated().map { k, kind in
            ListenerState(kind: kind.kindID, mode: k == kindIndex.management && node.role == .worker ? .closed : .listening)
        }
        return HelloResponse(
            agentVersion: SwarmProbeVersion.current, address: node.address, timeMs: 1_780_000_000_000,
            profile: profile.name, listeners: listeners,
            taps: [
                TapState(tap: .interface, active: true, device: "eth0"),
                TapState(tap: .nflog, active: true, device: "nflog:7950"),
            ])
    }

    /// What sender `i`'s agent answers to its run request.
    public func run(_ i: Int) -> RunResponse {
        var results: [ProbeReport] = []
        results.reserveCapacity(kinds.count * (nodeCount - 1))
        for (k, kind) in kinds.enumerated() {
            for j in 0..<nodeCount where j != i {
                let fate = fate(from: i, to: j, kind: k)
                let n = attempts(fate, kind)
                let tcp = kind.proto == .tcp
                let nonces = (0..<(tcp ? 1 : n)).map { nonce(i, j, k, $0) }
                let ports = tcp ? (0..<n).map { port(i, j, k, $0) } : []
                let e: SenderEvidence
                switch fate {
                case .open:
                    e = SenderEvidence(
                        outcome: .answered, attempts: 1, rttMicros: 150 + Int(mix(probeID(i, j, k, 9)) % 700),
                        nonces: nonces, sourcePorts: ports)
                case .closed, .targetDown:
                    e = SenderEvidence(outcome: .refused, attempts: 1, detail: "ECONNREFUSED", nonces: nonces, sourcePorts: ports)
                case .network, .hostFirewall, .returnPath, .senderDown:
                    e = SenderEvidence(outcome: .timeout, attempts: n, nonces: nonces, sourcePorts: ports)
                }
                results.append(ProbeReport(target: inventory.nodes[j].address, kind: kind.kindID, evidence: e))
            }
        }
        return RunResponse(runID: runID, results: results)
    }

    /// What target `j`'s agent answers to the log request: its receive log and its taps' records.
    public func log(_ j: Int) -> LogResponse {
        var entries: [ReceiveLogEntry] = [], capture: [CaptureRecord] = []
        entries.reserveCapacity(kinds.count * nodeCount)
        capture.reserveCapacity(3 * kinds.count * nodeCount)
        for (k, kind) in kinds.enumerated() {
            let tcp = kind.proto == .tcp
            for i in 0..<nodeCount where i != j {
                let fate = fate(from: i, to: j, kind: k)
                let from = inventory.nodes[i].address
                let n = attempts(fate, kind)
                let arrivedFrom = i == natNode && k == kindIndex.overlay ? natAddress : from
                func record(_ tap: TapState.Tap, _ dir: CaptureRecord.Direction, _ a: Int, _ flag: String) {
                    if tcp {
                        capture.append(
                            CaptureRecord(
                                tap: tap, direction: dir, kind: kind.kindID, peer: from, peerPort: port(i, j, k, a),
                                nonce: nil, tcp: flag, timeMs: 1_780_000_000_000))
                    } else {
                        capture.append(
                            CaptureRecord(
                                tap: tap, direction: dir, kind: kind.kindID, peer: arrivedFrom,
                                peerPort: kind.sourcePort ?? 40000, nonce: nonce(i, j, k, a), tcp: nil,
                                timeMs: 1_780_000_000_000))
                    }
                }
                func logged(_ a: Int) {
                    entries.append(
                        ReceiveLogEntry(
                            nonce: nonce(i, j, k, a), runID: runID, kind: kind.kindID, claimedSender: from,
                            sourceAddress: arrivedFrom, sourcePort: tcp ? port(i, j, k, a) : (kind.sourcePort ?? 40000),
                            timeMs: 1_780_000_000_000, answered: true))
                }
                switch fate {
                case .senderDown, .targetDown, .network:
                    break
                case .open:
                    logged(0)
                    record(.interface, .inbound, 0, "syn")
                    record(.nflog, .inbound, 0, "syn")
                    record(.interface, .outbound, 0, "syn-ack")
                case .closed:
                    record(.interface, .inbound, 0, "syn")
                    record(.nflog, .inbound, 0, "syn")
                    record(.interface, .outbound, 0, "rst")
                case .hostFirewall:
                    for a in 0..<n { record(.interface, .inbound, a, "syn") }
                case .returnPath:
                    for a in 0..<n {
                        if !tcp { logged(a) }
                        record(.interface, .inbound, a, "syn")
                        record(.nflog, .inbound, a, "syn")
                        record(.interface, .outbound, a, "syn-ack")
                    }
                }
            }
        }
        return LogResponse(runID: runID, entries: entries, truncated: false, capture: capture)
    }

    /// Everything the agents returned, gathered the way `check` gathers it.
    public func gather(into g: inout Gathered) {
        for (i, node) in inventory.nodes.enumerated() {
            if down.contains(i) {
                g.recordHealth(node, AgentHealth(.down, "connection refused (\(node.control))"))
            } else {
                g.recordHello(node, hello(i), clockOffsetMs: Int(mix(UInt64(i)) % 40) - 20)
            }
        }
        for (i, node) in inventory.nodes.enumerated() where !down.contains(i) {
            g.recordRun(node, run(i), kinds: kinds)
        }
        for (j, node) in inventory.nodes.enumerated() where !down.contains(j) {
            g.recordLog(node, log(j))
        }
    }

    /// The expected verdict counts over every check.
    public func expectedCounts() -> Summary.Counter {
        var c = Summary.Counter()
        for k in kinds.indices {
            for i in 0..<nodeCount {
                for j in 0..<nodeCount where j != i {
                    let kind = kinds[k]
                    c.add(
                        verdict: fate(from: i, to: j, kind: k).expected.0,
                        required: kind.isRequired(from: inventory.nodes[i].role, to: inventory.nodes[j].role))
                }
            }
        }
        return c
    }

    /// Node index of a generated name (`n-0042` -> 41).
    public static func index(_ name: String) -> Int? {
        guard name.hasPrefix("n-"), let n = Int(name.dropFirst(2)) else { return nil }
        return n - 1
    }
}
