import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// Live mode on a real Docker swarm: agents run beside dockerd, which holds 2377 (manager)
/// and 7946, while the kernel's VXLAN socket holds 4789. Agents observe those ports through their taps.
/// Faults of each kind are injected; every verdict and `where` is asserted, and container pings over an
/// attachable overlay are the ground truth for the data path.
@Suite("live swarm", .serialized, .enabled(if: dockerLabUnavailable == nil, "\(dockerLabUnavailable ?? "")"))
struct LiveSwarmTests {
    let tcp2377 = KindID(proto: .tcp, port: 2377)

    @Test("agents beside dockerd: observed ports, a network drop, a host-firewall drop, a lost return path")
    func liveSwarm() throws {
        let scenario = liveSwarmScenario("live")
        let swarm = try DockerSwarmLab(nodes: scenario.nodes)
        defer { swarm.destroy() }
        let lab = swarm.lab
        let token = try lab.write("token", ClusterToken.generate() + "\n")
        try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token)

        // Discovery against the manager gives the inventory the check uses.
        let inventoryPath = lab.directory.appendingPathComponent("discovered.yaml").path
        let discovered = try Program.capture([swarmprobeBinary(), "discover", "--docker-host", swarm.dockerHost("m1"), "-o", inventoryPath])
        #expect(discovered.status == 0, "\(discovered.stderr)")
        let inventory = try Inventory.parse(try String(contentsOfFile: inventoryPath, encoding: .utf8), source: inventoryPath)
        #expect(Set(inventory.nodes.map(\.address)) == Set(lab.nodes.map(\.address)))

        // Ground truth before any fault: the overlay works between the workers.
        try swarm.runContainer(node: "m1", name: "c0")
        try swarm.runContainer(node: "w1", name: "c1")
        try swarm.runContainer(node: "w2", name: "c2")
        _ = try swarm.containerIP("c0")
        let ip1 = try swarm.containerIP("c1"), ip2 = try swarm.containerIP("c2")
        #expect(swarm.ping(fromContainer: "c1", to: ip2), "overlay w1 -> w2 should work before the fault")

        for f in scenario.faults { try lab.inject(f) }

        // The inventory names nodes by hostname; the lab's scenario by m1/w1/w2: map by address.
        let nameOf = Dictionary(uniqueKeysWithValues: lab.nodes.map { ($0.address, $0.name) })
        let json = lab.directory.appendingPathComponent("live.json").path
        let report = lab.directory.appendingPathComponent("live.md").path
        let r = try lab.runInSwitch(
            binary: swarmprobeBinary(),
            [
                "check", "--inventory", inventoryPath, "--token-file", token,
                "--timeout", "1500ms", "--json", json, "--report", report,
            ])
        let data = try #require(FileManager.default.contents(atPath: json), "\(r.stderr)")
        let results = try JSONDecoder().decode(Results.self, from: data)
        #expect(r.status == 1)

        // Listener modes: dockerd's and the kernel's ports observed; 2377 on workers left closed.
        for node in results.nodes {
            let name = nameOf[node.address] ?? node.name
            #expect(node.taps.allSatisfy { $0.active }, "\(name): \(node.taps)")
            for l in node.listeners {
                let expected: ListenerState.Mode = (l.kind == tcp2377 && name != "m1") ? .closed : .observing
                #expect(l.mode == expected, "\(name) \(l.kind): \(l.mode) \(l.detail ?? "")")
            }
        }

        expectSwarmVerdicts(results, scenario, lab)

        // Ground truth after: the cut pair's containers cannot reach each other, the others still can.
        #expect(!swarm.ping(fromContainer: "c1", to: ip2), "the 4789 drop must break w1 -> w2 on the overlay")
        #expect(swarm.ping(fromContainer: "c0", to: ip1), "m1 -> w1 is untouched")
        #expect(swarm.ping(fromContainer: "c0", to: ip2), "m1 -> w2's data path is untouched")

        // The report says per node that it observed rather than listened.
        let md = try String(contentsOfFile: report, encoding: .utf8)
        #expect(md.contains("observing"))
        try? FileManager.default.copyItem(atPath: report, toPath: lab.directory.appendingPathComponent("keep-live.md").path)
        if let keep = ProcessInfo.processInfo.environment["SWARMPROBE_KEEP_LIVE_REPORT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: report, toPath: keep)
        }
    }
}
