import Foundation
import SwarmProbeCore

/// The ports a live swarm's services publish, read from the Engine API: `GET /services` for each port and its
/// publish mode, `GET /tasks` for where the running tasks are (a host-mode port answers only there).
public enum PublishedServices {
    /// Every published port of every service, in the API's order; host-mode ones with their task nodes.
    public static func read(
        _ endpoint: DockerDiscovery.Endpoint, nodes: [DockerDiscovery.DiscoveredNode]
    ) async throws(InputError) -> [PublishedTarget] {
        let (status, services) = try await DockerEngine.request(endpoint, "GET", "/services")
        guard status == 200 else { throw DockerDiscovery.apiError(endpoint, status: status, body: services, request: "GET /services") }
        let filter = #"{"desired-state":["running"]}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let (taskStatus, tasks) = try await DockerEngine.request(endpoint, "GET", "/tasks?filters=\(filter)")
        guard taskStatus == 200 else { throw DockerDiscovery.apiError(endpoint, status: taskStatus, body: tasks, request: "GET /tasks") }
        return try parse(services: services, tasks: tasks, nodes: nodes, source: endpoint.source)
    }

    /// The same from the two bodies (tests give saved ones).
    public static func parse(
        services: [UInt8], tasks: [UInt8], nodes: [DockerDiscovery.DiscoveredNode], source: String
    ) throws(InputError) -> [PublishedTarget] {
        struct Service: Decodable {
            struct Spec: Decodable { var Name: String? }
            struct Endpoint: Decodable { var Ports: [Port]? }
            struct Port: Decodable {
                var `Protocol`: String?
                var PublishedPort: Int?
                var PublishMode: String?
            }
            var ID: String
            var Spec: Spec?
            var Endpoint: Endpoint?
        }
        struct Task: Decodable {
            struct Status: Decodable { var State: String? }
            var ServiceID: String?
            var NodeID: String?
            var Status: Status?
        }
        let decodedServices: [Service]
        let decodedTasks: [Task]
        do {
            decodedServices = try JSONDecoder().decode([Service].self, from: Data(services))
            decodedTasks = try JSONDecoder().decode([Task].self, from: Data(tasks))
        } catch {
            throw InputError(source: source, "the Engine API's services or tasks are not what Docker sends: \(error)")
        }
        let names = Dictionary(nodes.map { ($0.id, $0.node.name) }, uniquingKeysWith: { a, _ in a })
        var running: [String: [String]] = [:]
        for t in decodedTasks where t.Status?.State == "running" {
            guard let service = t.ServiceID, let node = t.NodeID.flatMap({ names[$0] }) else { continue }
            if !(running[service]?.contains(node) ?? false) { running[service, default: []].append(node) }
        }
        var out: [PublishedTarget] = []
        for s in decodedServices {
            for p in s.Endpoint?.Ports ?? [] {
                guard let number = p.PublishedPort, (1...65535).contains(number),
                    let proto = p.Protocol.flatMap(TransportProtocol.init(rawValue:)), proto != .esp
                else { continue }  // sctp, or a port swarm has not assigned yet
                let mode: PublishMode = p.PublishMode == "host" ? .host : .ingress
                let order = nodes.map(\.node.name)
                let taskNodes = (running[s.ID] ?? []).sorted { (order.firstIndex(of: $0) ?? 0) < (order.firstIndex(of: $1) ?? 0) }
                out.append(
                    PublishedTarget(
                        port: KindID(proto: proto, port: number), mode: mode, service: s.Spec?.Name ?? String(s.ID.prefix(12)),
                        nodes: mode == .host ? taskNodes : nil, taskNodes: taskNodes))
            }
        }
        return out
    }
}
