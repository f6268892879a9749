import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// The repository's root, where scripts/ and deploy/ are.
func repositoryRoot() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// The faults the live-swarm tests inject, whichever way the agents got there: their verdicts must agree.
func liveSwarmScenario(_ name: String) -> LabScenario {
    LabScenario(
        name: name,
        nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
        faults: [
            // The data path between the workers, one way: breaks their containers' pings both ways.
            .networkDrop(from: "w1", to: "w2", kind: KindID(proto: .udp, port: 4789)),
            // w1's firewall silently dropping gossip from the manager.
            .hostFirewall(node: "w1", from: "m1", kind: KindID(proto: .udp, port: 7946), reject: false),
            // dockerd on w2 answers m1's gossip connection, the SYN-ACK dies on the way back.
            .returnPathDrop(from: "m1", to: "w2", kind: KindID(proto: .tcp, port: 7946)),
        ])
}

/// Builds the agent image with scripts/image.sh, from the debug agent, on every engine of the swarm lab.
@discardableResult
func buildAgentImage(_ swarm: DockerSwarmLab, tag: String) throws -> [ProgramOutput] {
    try swarm.lab.nodes.map { node in
        var env = ProcessInfo.processInfo.environment
        env["DOCKER_HOST"] = swarm.dockerHost(node.name)
        let built = try Program.capture(
            ["bash", repositoryRoot() + "/scripts/image.sh", "--agent", builtBinary("swarmprobe-agent"), "--tag", tag], environment: env,
            timeout: 300)
        #expect(built.status == 0, "\(node.name): \(built.stderr)")
        return built
    }
}

/// Every check of a check on the swarm lab as the scenario expects it. The results name nodes by hostname, the
/// scenario by m1/w1/w2: they are matched by address. Only managers listen on 2377 on a live swarm.
func expectSwarmVerdicts(_ results: Results, _ scenario: LabScenario, _ lab: Lab) {
    let nameOf = Dictionary(uniqueKeysWithValues: lab.nodes.map { ($0.address, $0.name) })
    let managers = Set(scenario.nodes.filter { $0.role == .manager }.map(\.name))
    for c in results.checks {
        let from = nameOf[results.nodes.first { $0.name == c.from }!.address]!
        let to = nameOf[results.nodes.first { $0.name == c.to }!.address]!
        var (v, w) = scenario.expected(from: from, to: to, kind: c.kindID, capture: true)
        if c.kindID == KindID(proto: .tcp, port: 2377) && !managers.contains(to) { (v, w) = (.closed, nil) }
        #expect(
            c.verdict == v && c.location == w,
            "\(from) -> \(to) \(c.kindID): expected \(v)/\(w?.rawValue ?? "-"), got \(c.verdict)/\(c.location?.rawValue ?? "-"): \(c.detail)")
    }
}
