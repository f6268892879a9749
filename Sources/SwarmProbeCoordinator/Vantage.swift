import SwarmProbeCore

/// The coordinator's own host as a prober: where published ports are probed from, standing for a service's
/// clients and its load balancer. `probe` runs a plan; the command passes the agent module's `VantageProber`
/// in (the coordinator never imports the agent).
public struct Vantage: Sendable {
    /// How reports name this end (`--client-name`; the host's name by default).
    public var name: String
    /// The source address toward the nodes: what the probes name, and where their answers come back.
    public var address: IPAddress
    public var probe: @Sendable (RunRequest) async -> RunResponse

    public init(name: String, address: IPAddress, probe: @escaping @Sendable (RunRequest) async -> RunResponse) {
        self.name = name
        self.address = address
        self.probe = probe
    }

    /// The plan for `targets` on `nodes`: each node expected to answer a published port, once per port.
    static func plan(
        runID: String, targets: [PublishedTarget], nodes: [Node], address: IPAddress, attempts: Int,
        timeoutMs: (Node) -> Int
    ) -> RunRequest {
        var probes: [ProbeOrder] = []
        var seen = Set<ProbeOrder>()
        for t in targets {
            for n in nodes where t.expects(n.name) {
                let key = ProbeOrder(target: n.address, kind: t.port)
                guard seen.insert(key).inserted else { continue }
                probes.append(ProbeOrder(target: n.address, kind: t.port, observed: t.live, timeoutMs: timeoutMs(n)))
            }
        }
        let longest = probes.compactMap(\.timeoutMs).max() ?? RunRequest.timeoutRangeMs.lowerBound
        var peers = nodes.map { PeerRef(name: $0.name, address: $0.address) }
        peers.append(PeerRef(name: "vantage", address: address))
        return RunRequest(
            runID: runID, nodes: peers, probes: probes, timeoutMs: max(longest, RunRequest.timeoutRangeMs.lowerBound), attempts: attempts)
    }
}

/// Who probed the published ports, as the results name it.
public struct VantageRef: Sendable, Equatable {
    public var name: String
    public var address: IPAddress
    public init(name: String, address: IPAddress) {
        self.name = name
        self.address = address
    }
}
