import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// `check --swarm` on the real three-dockerd swarm lab: the agent image built by scripts/image.sh and loaded into
/// each engine, the agents as a global service that comes and goes with the check.
@Suite("check --swarm", .serialized, .enabled(if: dockerLabUnavailable == nil, "\(dockerLabUnavailable ?? "")"))
struct SwarmCheckTests {
    @Test(
        "faults give the verdicts hand-started agents give; a node without the image is agent-down with Docker's reason; nothing is left, Ctrl-C included"
    )
    func swarmCheck() throws {
        let scenario = liveSwarmScenario("swarm")
        let swarm = try DockerSwarmLab(nodes: scenario.nodes)
        defer { swarm.destroy() }
        let lab = swarm.lab

        // The image, as a user builds it, on every engine: nothing is pulled.
        let tag = "swarmprobe-agent:test-\(UInt32.random(in: 0...UInt32.max))"
        for built in try buildAgentImage(swarm, tag: tag) {
            #expect(built.stdout.split(whereSeparator: \.isNewline).last.map(String.init) == tag)
            #expect(built.stderr.contains("docker save"))
        }

        // Ground truth for the data path: containers on the overlay, before and after the fault.
        try swarm.runContainer(node: "m1", name: "c0")
        try swarm.runContainer(node: "w1", name: "c1")
        try swarm.runContainer(node: "w2", name: "c2")
        let ip1 = try swarm.containerIP("c1"), ip2 = try swarm.containerIP("c2")
        #expect(swarm.ping(fromContainer: "c1", to: ip2), "overlay w1 -> w2 should work before the fault")
        for f in scenario.faults { try lab.inject(f) }

        let nameOf = Dictionary(uniqueKeysWithValues: lab.nodes.map { ($0.address, $0.name) })
        let run = try runSwarmCheck(swarm, image: tag)
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.results.complete)
        for node in run.results.nodes {
            #expect(node.agent.isUp && node.taps.allSatisfy(\.active), "\(node.name): \(node.agent) \(node.taps)")
        }
        expectSwarmVerdicts(run.results, scenario, lab)
        #expect(!swarm.ping(fromContainer: "c1", to: ip2), "the 4789 drop must break w1 -> w2 on the overlay")
        #expect(swarm.ping(fromContainer: "c0", to: ip1), "m1 -> w1 is untouched")
        #expect(swarmLeftovers(swarm).isEmpty, "\(swarmLeftovers(swarm))")

        // A node whose engine lacks the image: its task is rejected; Docker's reason, one line; the rest checked.
        try swarm.docker("w2", ["rmi", tag])
        let partial = try runSwarmCheck(swarm, image: tag)
        let w2 = try #require(partial.results.nodes.first { nameOf[$0.address] == "w2" })
        #expect(w2.agent.status == .down && (w2.agent.detail ?? "").contains("No such image"), "\(w2.agent)")
        #expect(partial.stderr.contains("No such image"), "\(partial.stderr)")
        #expect(partial.results.nodes.filter { $0.agent.isUp }.count == 2)
        #expect(
            partial.results.checks.contains { c in nameOf[partial.results.nodes.first { $0.name == c.from }!.address] == "m1" && c.verdict == .open })
        #expect(swarmLeftovers(swarm).isEmpty, "\(swarmLeftovers(swarm))")

        // Ctrl-C while the agents probe: the check stops, and service and secret go all the same.
        let json = lab.directory.appendingPathComponent("interrupted.json").path
        let check = try ChildProcess(
            [
                "ip", "netns", "exec", lab.switchNamespace, swarmprobeBinary(), "check", "--swarm", "--docker-host", swarm.dockerHost("m1"),
                "--image", tag, "--timeout", "10s", "--json", json, "--quiet",
            ], stdout: .null, stderr: .file(lab.directory.appendingPathComponent("interrupted.err").path))
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && RemoteLeftovers.agents(in: lab).count < 2 { usleep(200_000) }
        #expect(RemoteLeftovers.agents(in: lab).count == 2, "the agents on m1 and w1 should have started")
        usleep(1_500_000)
        check.signal(SIGINT)
        #expect(check.wait().status == 1)
        let interrupted = try JSONDecoder().decode(Results.self, from: try #require(FileManager.default.contents(atPath: json)))
        #expect(!interrupted.complete)
        #expect(swarmLeftovers(swarm).isEmpty, "\(swarmLeftovers(swarm))")
    }

    @Test("the services' published ports: read with their task nodes, probed on the nodes expected to answer, each failure explained")
    func publishedServices() throws {
        let swarm = try DockerSwarmLab(nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)])
        defer { swarm.destroy() }
        let lab = swarm.lab
        let tag = "swarmprobe-agent:test-\(UInt32.random(in: 0...UInt32.max))"
        try buildAgentImage(swarm, tag: tag)
        let sleep = [swarm.image, "sleep", "1000000000"]
        try swarm.docker(
            "m1",
            ["service", "create", "-d", "--name", "web", "--mode", "global", "--constraint", "node.role==worker", "--publish", "8080:80"] + sleep)
        try swarm.docker(
            "m1",
            [
                "service", "create", "-d", "--name", "dns", "--constraint", "node.role==manager", "--publish",
                "published=9053,target=53,protocol=udp,mode=host",
            ]
                + sleep)
        // Until the tasks run: a host-mode port is expected only where one does.
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            let running = (try? swarm.docker("m1", ["service", "ps", "-q", "--filter", "desired-state=running", "--filter", "state=running"])) ?? ""
            if running.split(whereSeparator: \.isNewline).count == 3 { break }
            usleep(300_000)
        }

        let run = try runSwarmCheck(swarm, image: tag, extra: ["--client-name", "lb"])
        let r = run.results
        let nameOf = Dictionary(uniqueKeysWithValues: r.nodes.map { n in (n.name, lab.nodes.first { $0.address == n.address }!.name) })
        let mesh = try #require(r.routingMesh, "\(run.stderr)")
        #expect(mesh.client == "lb")
        let web = try #require(mesh.ports.first { $0.service == "web" })
        #expect(web.kindID == KindID(proto: .tcp, port: 8080) && web.mode == .ingress)
        #expect(Set(web.taskNodes.compactMap { nameOf[$0] }) == ["w1", "w2"])
        let dns = try #require(mesh.ports.first { $0.service == "dns" })
        #expect(dns.kindID == KindID(proto: .udp, port: 9053) && dns.mode == .host && dns.taskNodes.compactMap { nameOf[$0] } == ["m1"])

        let published = r.checks.filter { $0.published != nil }
        #expect(Set(published.filter { $0.port == 8080 }.compactMap { nameOf[$0.to] }) == ["m1", "w1", "w2"])
        #expect(published.filter { $0.port == 9053 }.compactMap { nameOf[$0.to] } == ["m1"])
        // This lab has no IPVS and its dockerd writes no iptables rules: nothing takes a published port in, so each
        // node's own stack refuses it. What the tool must say is that nothing answers there, not that a firewall did.
        for c in published {
            #expect(c.verdict == .closed, "\(nameOf[c.to] ?? c.to) \(c.kindID): \(c.verdict) \(c.detail)")
            #expect(c.published?.service == (c.port == 8080 ? "web" : "dns"))
        }
        #expect(run.status == 1)
        // Why, from each node's own chains: its dockerd writes no DOCKER-INGRESS chain (--iptables=false); the
        // host-mode port has no such chain to need, and nothing listens for it.
        let why = Dictionary(
            r.nodeFindings.compactMap { f in f.port.map { ("\(nameOf[f.node] ?? f.node) \($0)", f.code) } }, uniquingKeysWith: { a, _ in a })
        #expect(
            why == [
                "m1 8080/tcp": "published-port-no-ingress-rule", "w1 8080/tcp": "published-port-no-ingress-rule",
                "w2 8080/tcp": "published-port-no-ingress-rule", "m1 9053/udp": "published-port-closed",
            ], "\(r.nodeFindings)")
        #expect(run.markdown.contains("## Routing mesh") && run.markdown.contains("service web, ingress mode"))
        #expect(swarmLeftovers(swarm).isEmpty, "\(swarmLeftovers(swarm))")
    }

    @Test("path MTU on a live swarm: a black hole over 1400 bytes breaks large overlay transfers, and the check says so")
    func pathMTU() throws {
        let swarm = try DockerSwarmLab(nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)])
        defer { swarm.destroy() }
        let tag = "swarmprobe-agent:test-\(UInt32.random(in: 0...UInt32.max))"
        _ = try buildAgentImage(swarm, tag: tag)

        // What Docker gives containers: the driver MTU option minus VXLAN's 50 bytes (1500 when unset).
        try swarm.runContainer(node: "w1", name: "c1")
        try swarm.runContainer(node: "w2", name: "c2")
        #expect(try swarm.docker("w1", ["exec", "c1", "cat", "/sys/class/net/eth0/mtu"]).trimmingCharacters(in: .whitespacesAndNewlines) == "1450")
        _ = try swarm.docker("m1", ["network", "create", "-d", "overlay", "--attachable", "-o", "com.docker.network.driver.mtu=1400", "small"])
        _ = try swarm.docker(
            "w1", ["run", "-d", "--name", "s1", "--network", "small", "--stop-signal", "SIGKILL", swarm.image, "sleep", "1000000000"],
            timeout: 60)
        #expect(try swarm.docker("w1", ["exec", "s1", "cat", "/sys/class/net/eth0/mtu"]).trimmingCharacters(in: .whitespacesAndNewlines) == "1350")
        _ = try swarm.docker("w1", ["rm", "-f", "s1"])

        // Ground truth: the path between w1 and w2 drops VXLAN packets over 1400 bytes, both ways, silently.
        let ip2 = try swarm.containerIP("c2")
        #expect(swarm.ping(fromContainer: "c1", to: ip2, count: 1, size: 1400), "a full-size overlay packet passes before the fault")
        let vxlan = KindID(proto: .udp, port: 4789)
        try swarm.inject(.bigPacketDrop(from: "w1", to: "w2", kind: vxlan, above: 1400))
        try swarm.inject(.bigPacketDrop(from: "w2", to: "w1", kind: vxlan, above: 1400))
        #expect(swarm.ping(fromContainer: "c1", to: ip2, count: 1, size: 56), "small overlay packets still pass")
        #expect(!swarm.ping(fromContainer: "c1", to: ip2, count: 2, size: 1400), "a 1428-byte overlay packet (1478 on the wire) must vanish")

        // The check: every port open, the path MTU measured from the target's taps (nothing answers on the
        // kernel's VXLAN port), the two cut paths found, against the overlay networks' need read from the API.
        let run = try runSwarmCheck(swarm, image: tag)
        #expect(run.status == 1, "\(run.stderr)")
        let r = run.results
        let nameOf = Dictionary(uniqueKeysWithValues: swarm.lab.nodes.map { ($0.address, $0.name) })
        let byAddress = Dictionary(uniqueKeysWithValues: r.nodes.map { ($0.name, nameOf[$0.address] ?? $0.name) })
        let dataPath = r.checks.filter { $0.kindID == vxlan }
        #expect(dataPath.count == 6 && dataPath.allSatisfy { $0.verdict == .open }, "\(dataPath.map(\.detail))")
        for c in dataPath {
            let from = byAddress[c.from]!, to = byAddress[c.to]!
            let m = try #require(c.pathMTU, "\(from) -> \(to): no path MTU")
            let cut = Set([from, to]) == Set(["w1", "w2"])
            #expect(m.bytes == (cut ? 1400 : 1500) && m.needed == 1500, "\(from) -> \(to): \(m)")
            #expect(m.limit == (cut ? .blackHole : nil), "\(from) -> \(to): \(m)")
        }
        let findings = r.nodeFindings.filter { $0.code == "path-mtu-below-overlay" }
        #expect(Set(findings.map { byAddress[$0.node]! }) == ["w1", "w2"], "\(r.nodeFindings)")
        #expect(findings.allSatisfy { $0.peers?.count == 1 && $0.fix?.contains("com.docker.network.driver.mtu=1400") == true })
        #expect(swarmLeftovers(swarm).isEmpty, "\(swarmLeftovers(swarm))")
    }

    /// Runs `swarmprobe check --swarm` against the lab's manager from the switch namespace.
    func runSwarmCheck(_ swarm: DockerSwarmLab, image: String, extra: [String] = []) throws -> CheckRun {
        let lab = swarm.lab
        let json = lab.directory.appendingPathComponent("swarm-\(UUID().uuidString).json").path
        let report = lab.directory.appendingPathComponent("swarm-\(UUID().uuidString).md").path
        let r = try lab.runInSwitch(
            binary: swarmprobeBinary(),
            [
                "check", "--swarm", "--docker-host", swarm.dockerHost("m1"), "--image", image, "--timeout", "1500ms",
                "--json", json, "--report", report,
            ] + extra)
        guard let data = FileManager.default.contents(atPath: json) else {
            throw ProgramError(command: ["swarmprobe", "check", "--swarm"], status: r.status, message: r.stderr)
        }
        let md = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        return CheckRun(
            status: r.status, stdout: r.stdout, stderr: r.stderr, results: try JSONDecoder().decode(Results.self, from: data), markdown: md)
    }

    /// Services, secrets and configs of swarmprobe left on the swarm, agent processes and tap tables on the nodes.
    func swarmLeftovers(_ swarm: DockerSwarmLab) -> [String] {
        var left: [String] = []
        for kind in ["service", "secret", "config"] {
            let names = (try? swarm.docker("m1", [kind, "ls", "--format", "{{.Name}}"])) ?? "cannot list \(kind)s"
            left += names.split(whereSeparator: \.isNewline).filter { $0.contains("swarmprobe") }.map { "\(kind) \($0)" }
        }
        return left + RemoteLeftovers.find(in: swarm.lab, directoriesBefore: RemoteLeftovers.directories())
    }
}
