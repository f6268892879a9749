import Foundation
import SwarmProbeCoordinator
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// Why the Docker swarm lab cannot run here, or nil when it can.
let dockerLabUnavailable: String? = {
    if let why = DockerSwarmLab.canBuild() { return why }
    if !FileManager.default.isExecutableFile(atPath: swarmprobeBinary()) {
        return "swarmprobe binary not built at \(swarmprobeBinary()) (run `swift build` first)"
    }
    return nil
}()

/// A real Docker swarm: one dockerd per namespace, 1 manager and 2 workers.
/// Discovery is checked against it, and container pings over the overlay are the ground truth
/// that dropping 4789/udp in the network breaks the data path between exactly the pair dropped.
@Suite("docker swarm lab", .serialized, .enabled(if: dockerLabUnavailable == nil, "\(dockerLabUnavailable ?? "")"))
struct DockerLabTests {
    @Test("discover a 3-node swarm; overlay pings; a 4789 drop breaks exactly w1 <-> w2")
    func swarm() async throws {
        let lab = try DockerSwarmLab(nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)])
        defer { lab.destroy() }
        let expected = lab.nodes.map { Node(name: $0.name, address: $0.address, role: $0.role) }

        // Discovery through the library, against the manager's socket.
        let inv = try await DockerDiscovery.discover(dockerHost: lab.dockerHost("m1"))
        #expect(inv.nodes.sorted { $0.name < $1.name } == expected.sorted { $0.name < $1.name })

        // Through the binary; its output must be an inventory `check` accepts.
        let r = try Program.capture([swarmprobeBinary(), "discover", "--docker-host", lab.dockerHost("m1")])
        #expect(r.status == 0, "\(r.stderr)")
        let parsed = try Inventory.parse(r.stdout, source: "swarmprobe discover")
        #expect(parsed.nodes.sorted { $0.name < $1.name } == expected.sorted { $0.name < $1.name }, "\(r.stdout)")
        let file = lab.lab.directory.appendingPathComponent("discovered.yaml").path
        let w = try Program.capture([swarmprobeBinary(), "discover", "--docker-host", lab.dockerHost("m1"), "-o", file])
        #expect(w.status == 0 && w.stdout.isEmpty, "\(w.stderr)")
        #expect((try? String(contentsOfFile: file, encoding: .utf8)).map { (try? Inventory.parse($0, source: file)) != nil } == true)

        // A worker's API refuses: one clear line, exit code 2.
        await #expect(throws: InputError.self) { _ = try await DockerDiscovery.discover(dockerHost: lab.dockerHost("w1")) }
        let worker = try Program.capture([swarmprobeBinary(), "discover", "--docker-host", lab.dockerHost("w1")])
        #expect(worker.status == 2)
        #expect(
            worker.stderr.contains("--docker-host") && worker.stderr.contains("worker") && worker.stderr.split(separator: "\n").count == 1,
            "\(worker.stderr)")
        // No socket there.
        let missing = lab.lab.directory.appendingPathComponent("nothing.sock").path
        do {
            _ = try await DockerDiscovery.discover(dockerHost: "unix://" + missing)
            Issue.record("discover on a missing socket did not fail")
        } catch let e as InputError {
            #expect(e.source == "--docker-host" && e.description.contains("no Docker socket at \(missing)"), "\(e)")
        }

        // Ground truth on the overlay.
        try lab.runContainer(node: "m1", name: "c-m1")
        try lab.runContainer(node: "w1", name: "c-w1")
        try lab.runContainer(node: "w2", name: "c-w2")
        let ipM1 = try lab.containerIP("c-m1"), ipW1 = try lab.containerIP("c-w1"), ipW2 = try lab.containerIP("c-w2")
        #expect(lab.ping(fromContainer: "c-w1", to: ipW2, count: 1), "w1 -> w2 over the overlay before any fault")

        let vxlan = KindID(proto: .udp, port: 4789)
        try lab.inject(.networkDrop(from: "w1", to: "w2", kind: vxlan))
        try lab.inject(.networkDrop(from: "w2", to: "w1", kind: vxlan))
        #expect(!lab.ping(fromContainer: "c-w1", to: ipW2, count: 2), "4789/udp dropped both ways: w1 -> w2 must fail")
        #expect(lab.ping(fromContainer: "c-m1", to: ipW1, count: 1), "m1 -> w1 is not dropped")
        #expect(lab.ping(fromContainer: "c-w1", to: ipM1, count: 1), "w1 -> m1 is not dropped")
    }
}

/// `GET /nodes` answers mapped to inventories, and Docker host strings: no daemon needed.
@Suite("docker discovery mapping")
struct DockerDiscoveryMappingTests {
    let endpoint = DockerDiscovery.Endpoint(kind: .unix(path: "/var/run/docker.sock"), source: "--docker-host")

    func node(
        _ id: String, _ host: String, _ role: String, state: String = "ready", addr: String, manager: String? = nil,
        updated: String = "2026-01-01T00:00:00Z"
    ) -> String {
        let ms = manager.map { #", "ManagerStatus": {"Leader": true, "Reachability": "reachable", "Addr": "\#($0)"}"# } ?? ""
        return
            #"{"ID": "\#(id)", "UpdatedAt": "\#(updated)", "Spec": {"Role": "\#(role)", "Availability": "active"}, "Description": {"Hostname": "\#(host)", "Engine": {"EngineVersion": "20.10.24"}}, "Status": {"State": "\#(state)", "Addr": "\#(addr)"}\#(ms)}"#
    }

    func parse(_ nodes: [String]) throws -> DockerDiscovery.Discovery {
        try DockerDiscovery.parseNodes(Array(("[" + nodes.joined(separator: ",") + "]").utf8), endpoint: endpoint)
    }

    @Test("managers take ManagerStatus.Addr without the port; workers Status.Addr; down nodes stay")
    func addresses() throws {
        let d = try parse([
            node("aaa111", "m1", "manager", addr: "0.0.0.0", manager: "10.0.1.11:2377"),
            node("bbb222", "w1", "worker", addr: "10.0.1.21"),
            node("ccc333", "w2", "worker", state: "down", addr: "10.0.1.22"),
            node("ddd444", "m6", "manager", addr: "fd00::6", manager: "[fd00::6]:2377"),
        ])
        // Managers first, then by hostname.
        #expect(d.inventory.nodes.map(\.name) == ["m1", "m6", "w1", "w2"])
        #expect(d.inventory.nodes.map(\.address.description) == ["10.0.1.11", IPAddress("fd00::6")!.description, "10.0.1.21", "10.0.1.22"])
        #expect(d.inventory.nodes.map(\.role) == [.manager, .manager, .worker, .worker])
        let yaml = DockerDiscovery.inventoryYAML(d)
        #expect(yaml.contains("- name: w2  # state: down"), "\(yaml)")
        #expect(try Inventory.parse(yaml, source: "t") == d.inventory)
        #expect(try Inventory.parse(DockerDiscovery.inventoryYAML(d.inventory), source: "t") == d.inventory)
    }

    @Test("alike hostnames get the node ID; a stale entry with a live node's address is left out")
    func duplicates() throws {
        let d = try parse([
            node("aaa111xyz", "vm", "manager", addr: "10.0.1.11", manager: "10.0.1.11:2377"),
            node("bbb222xyz", "vm", "worker", addr: "10.0.1.21"),
            node("old999xyz", "w-old", "worker", state: "down", addr: "10.0.1.21", updated: "2025-01-01T00:00:00Z"),
            node("eee555xyz", "a host!", "worker", addr: "10.0.1.23"),
        ])
        #expect(d.inventory.nodes.map(\.name) == ["vm-aaa111", "a-host-", "vm-bbb222"])
        #expect(d.skipped.count == 1 && d.skipped[0].contains("old999xyz"), "\(d.skipped)")
        #expect(try Inventory.parse(DockerDiscovery.inventoryYAML(d), source: "t") == d.inventory)
    }

    @Test("API errors are one line naming the source")
    func errors() throws {
        let worker = Array(
            #"{"message":"This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."}"#
                .utf8)
        let e = DockerDiscovery.apiError(endpoint, status: 503, body: worker)
        #expect(e.source == "--docker-host" && e.description.contains("worker") && !e.description.contains("\n"), "\(e)")
        let notSwarm = Array(
            #"{"message":"This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."}"#
                .utf8)
        #expect(DockerDiscovery.apiError(endpoint, status: 503, body: notSwarm).description.contains("not part of a swarm"))
        #expect(DockerDiscovery.apiError(endpoint, status: 500, body: Array("boom\nmore".utf8)).description.hasSuffix("answered 500: boom more"))
        #expect(throws: InputError.self) { try DockerDiscovery.parseNodes(Array("{}".utf8), endpoint: endpoint) }
    }

    @Test("docker hosts: flag, DOCKER_HOST, default socket")
    func hosts() throws {
        #expect(
            try DockerDiscovery.resolve(dockerHost: nil, environment: [:])
                == .init(kind: .unix(path: "/var/run/docker.sock"), source: "/var/run/docker.sock"))
        #expect(
            try DockerDiscovery.resolve(dockerHost: nil, environment: ["DOCKER_HOST": "unix:///x/d.sock"])
                == .init(kind: .unix(path: "/x/d.sock"), source: "DOCKER_HOST"))
        #expect(
            try DockerDiscovery.resolve(dockerHost: "tcp://10.0.0.1:2375", environment: ["DOCKER_HOST": "unix:///x"])
                == .init(kind: .http(base: "http://10.0.0.1:2375"), source: "--docker-host"))
        #expect(try DockerDiscovery.resolve(dockerHost: "tcp://10.0.0.1", environment: [:]).kind == .http(base: "http://10.0.0.1:2375"))
        #expect(try DockerDiscovery.resolve(dockerHost: "https://[fd00::1]:2376/", environment: [:]).kind == .http(base: "https://[fd00::1]:2376"))
        for bad in ["ssh://me@host", "unix://relative", "tcp://h:99999", "nonsense"] {
            #expect(throws: InputError.self, "\(bad)") { try DockerDiscovery.resolve(dockerHost: bad, environment: [:]) }
        }
    }
}

/// `GET /services` and `GET /tasks` answers mapped to published ports: no daemon needed.
@Suite("published services mapping")
struct PublishedServicesMappingTests {
    let nodes = try! DockerDiscoveryMappingTests().parse([
        DockerDiscoveryMappingTests().node("id1", "m1", "manager", addr: "198.18.1.11", manager: "198.18.1.11:2377"),
        DockerDiscoveryMappingTests().node("id2", "w1", "worker", addr: "198.18.1.12"),
        DockerDiscoveryMappingTests().node("id3", "w2", "worker", addr: "198.18.1.13"),
    ]).nodes

    func parse(_ services: String, _ tasks: String) throws(InputError) -> [PublishedTarget] {
        try PublishedServices.parse(services: Array(services.utf8), tasks: Array(tasks.utf8), nodes: nodes, source: "--docker-host")
    }

    @Test("ingress and host ports, running tasks only, SCTP and unassigned ports left out")
    func mapping() throws {
        let services = #"""
            [{"ID": "s1", "Spec": {"Name": "web"}, "Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}, {"Protocol": "sctp", "TargetPort": 9, "PublishedPort": 9, "PublishMode": "ingress"}]}},
             {"ID": "s2", "Spec": {"Name": "dns"}, "Endpoint": {"Ports": [{"Protocol": "udp", "TargetPort": 53, "PublishedPort": 9053, "PublishMode": "host"}]}},
             {"ID": "s3", "Spec": {"Name": "quiet"}, "Endpoint": {}},
             {"ID": "s4", "Spec": {"Name": "pending"}, "Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishMode": "ingress"}]}}]
            """#
        let tasks = #"""
            [{"ServiceID": "s1", "NodeID": "id3", "Status": {"State": "running"}},
             {"ServiceID": "s1", "NodeID": "id2", "Status": {"State": "running"}},
             {"ServiceID": "s1", "NodeID": "id1", "Status": {"State": "starting"}},
             {"ServiceID": "s2", "NodeID": "id1", "Status": {"State": "running"}},
             {"ServiceID": "s2", "NodeID": "gone", "Status": {"State": "running"}}]
            """#
        let targets = try parse(services, tasks)
        #expect(targets.count == 2)
        #expect(targets[0] == PublishedTarget(port: KindID("8080/tcp")!, mode: .ingress, service: "web", nodes: nil, taskNodes: ["w1", "w2"]))
        #expect(targets[1] == PublishedTarget(port: KindID("9053/udp")!, mode: .host, service: "dns", nodes: ["m1"], taskNodes: ["m1"]))
    }

    @Test("an answer that is not Docker's: one line naming the source")
    func bad() {
        do {
            _ = try parse("{\"not\": \"a list\"}", "[]")
            Issue.record("accepted")
        } catch {
            #expect(error.source == "--docker-host" && !error.description.contains("\n"), "\(error)")
        }
    }
}

/// `GET /networks` and `GET /swarm` answers mapped to the swarm's own address ranges: no daemon needed.
@Suite("swarm subnets mapping")
struct SwarmSubnetsMappingTests {
    @Test("the ingress network's, docker_gwbridge's and the pools' ranges; Docker's defaults for what is missing")
    func mapping() {
        let networks = #"""
            [{"Name": "ingress", "Ingress": true, "IPAM": {"Config": [{"Subnet": "10.11.0.0/16", "Gateway": "10.11.0.1"}]}},
             {"Name": "docker_gwbridge", "IPAM": {"Config": [{"Subnet": "192.168.200.0/24"}]}},
             {"Name": "bridge", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]}}]
            """#
        let s = SwarmSubnets.parse(networks: Array(networks.utf8), swarm: Array(#"{"DefaultAddrPool": ["10.20.0.0/16"]}"#.utf8))
        #expect(s == MeshSubnets(ingress: CIDR("10.11.0.0/16")!, gatewayBridge: CIDR("192.168.200.0/24")!, addressPools: [CIDR("10.20.0.0/16")!]))
        #expect(SwarmSubnets.parse(networks: Array("[]".utf8), swarm: Array("not json".utf8)) == .docker)
    }
}
