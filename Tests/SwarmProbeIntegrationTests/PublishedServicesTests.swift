import Foundation
import SwarmProbeCoordinator
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// The live swarm's published ports, read from a real dockerd: services with an ingress port and with a host-mode
/// port, and where their tasks run. (This kernel has no IPVS, so nothing routes a published port here; what a
/// published service does on the lab is written down in docs/routing-mesh.md.)
@Suite("published services on the swarm lab", .serialized, .enabled(if: dockerLabUnavailable == nil, "\(dockerLabUnavailable ?? "")"))
struct PublishedServicesTests {
    @Test("ingress and host-mode ports, with the nodes running each service's tasks")
    func services() async throws {
        let lab = try DockerSwarmLab(nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)])
        defer { lab.destroy() }
        let sleep = [lab.image, "sleep", "1000000000"]
        // On both workers, published through the routing mesh.
        try lab.docker(
            "m1",
            ["service", "create", "-d", "--name", "web", "--mode", "global", "--constraint", "node.role==worker", "--publish", "8080:80"] + sleep)
        // Only on the manager, a UDP port published on the hosts running a task.
        try lab.docker(
            "m1",
            [
                "service", "create", "-d", "--name", "dns", "--constraint", "node.role==manager",
                "--publish", "published=9053,target=53,protocol=udp,mode=host",
            ] + sleep)
        // A service publishing nothing is not a published port.
        try lab.docker("m1", ["service", "create", "-d", "--name", "quiet"] + sleep)

        let discovery = try await DockerDiscovery.discoverDetails(dockerHost: lab.dockerHost("m1"))
        // Node names in the results are the swarm's; the lab's are m1/w1/w2: match them by address.
        let labName = Dictionary(uniqueKeysWithValues: lab.lab.nodes.map { ($0.address, $0.name) })
        let nameOf = Dictionary(uniqueKeysWithValues: discovery.nodes.map { ($0.node.name, labName[$0.node.address] ?? "?") })

        var targets: [PublishedTarget] = []
        for _ in 0..<120 {
            targets = try await PublishedServices.read(discovery.endpoint, nodes: discovery.nodes)
            if targets.count == 2, targets.allSatisfy({ $0.taskNodes.count == ($0.service == "web" ? 2 : 1) }) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(targets.count == 2, "\(targets)")
        let web = try #require(targets.first { $0.service == "web" })
        #expect(web.port == KindID(proto: .tcp, port: 8080) && web.mode == .ingress && web.nodes == nil)
        #expect(Set(web.taskNodes.map { nameOf[$0] }) == ["w1", "w2"], "\(web.taskNodes)")
        let dns = try #require(targets.first { $0.service == "dns" })
        #expect(dns.port == KindID(proto: .udp, port: 9053) && dns.mode == .host)
        #expect(dns.nodes.map { $0.map { nameOf[$0] } } == ["m1"], "\(String(describing: dns.nodes))")
        #expect(dns.expects(discovery.nodes.first { nameOf[$0.node.name] == "m1" }!.node.name))
        #expect(!dns.expects(discovery.nodes.first { nameOf[$0.node.name] == "w1" }!.node.name))

        // What a published service leaves on a node of this lab (no IPVS, dockerd with --iptables=false).
        if let out = ProcessInfo.processInfo.environment["SWARMPROBE_LAB_NOTES"] {
            var notes = ""
            for n in lab.lab.nodes {
                let ss = try Program.capture(["ip", "netns", "exec", n.namespace, "ss", "-lntupH"])
                let links = try Program.capture(["ip", "-n", n.namespace, "-br", "link"])
                notes += "== \(n.name)\n\(ss.stdout)\(links.stdout)"
            }
            notes += try lab.docker("m1", ["service", "ps", "web", "dns"])
            try notes.write(toFile: out, atomically: true, encoding: .utf8)
        }
    }
}
