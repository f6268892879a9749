import Foundation

/// How swarm publishes a port: on every node through the routing mesh, or only where a task runs.
public enum PublishMode: String, Codable, Sendable, Hashable {
    case ingress
    case host
}

/// A port clients reach the swarm's services on, and which nodes must answer on it. `check --published`
/// makes them before any service exists; a live swarm's services make them (`PublishedServices`).
public struct PublishedTarget: Sendable, Hashable {
    public var port: KindID
    public var mode: PublishMode
    /// The service publishing it; nil before the service exists.
    public var service: String?
    /// Host mode: the nodes running one of the service's tasks, the only ones that answer there. nil: every node.
    public var nodes: [String]?
    /// Where the service's tasks run (live): an ingress port's traffic crosses the overlay to one of them.
    public var taskNodes: [String]

    public init(port: KindID, mode: PublishMode = .ingress, service: String? = nil, nodes: [String]? = nil, taskNodes: [String] = []) {
        self.port = port
        self.mode = mode
        self.service = service
        self.nodes = nodes
        self.taskNodes = taskNodes
    }

    /// The service exists: its own program answers, so probes only open and close a handshake (TCP) or
    /// leave the answer to the target's capture (UDP), and send none of the tool's bytes to it.
    public var live: Bool { service != nil }

    /// Whether `node` must answer on the port.
    public func expects(_ node: String) -> Bool { nodes?.contains(node) ?? true }

    /// The kind its checks are reported under: `web 8080/tcp`, or `published 8080/tcp` before a service exists.
    public var kind: TrafficKind {
        TrafficKind(
            name: "\(service ?? "published") \(port)", proto: port.proto, port: port.port, from: [], required: true, published: true,
            description: service.map { "published by service \($0) (\(mode.rawValue) mode)" } ?? "published port (pre-flight)")
    }

    /// The agent's flags for `targets`: `--published` for those it holds until a service exists,
    /// `--published-live` for a live service's, which it only watches.
    public static func agentArguments(_ targets: [PublishedTarget]) -> [String] {
        var args: [String] = []
        let before = targets.filter { !$0.live }.map(\.port.description), live = targets.filter(\.live).map(\.port.description)
        if !before.isEmpty { args += ["--published", before.joined(separator: ",")] }
        if !live.isEmpty { args += ["--published-live", live.joined(separator: ",")] }
        return args
    }

    /// `8080/tcp,53/udp`: the ports `--published` names; every error names `source`.
    public static func parsePorts(_ text: String, source: String) throws(InputError) -> [KindID] {
        var out: [KindID] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let word = item.trimmingCharacters(in: .whitespaces)
            guard let id = KindID(word), id.proto != .esp else {
                throw InputError(source: source, "\"\(word)\" is not a published port (PORT/tcp or PORT/udp, e.g. 8080/tcp)")
            }
            if out.contains(id) { throw InputError(source: source, "\(id) is listed twice") }
            out.append(id)
        }
        return out
    }
}

/// What a published-port check adds to its result: the service and how it publishes the port.
public struct PublishedCheck: Codable, Sendable, Equatable, Hashable {
    public var service: String?
    public var mode: PublishMode

    public init(service: String?, mode: PublishMode) {
        self.service = service
        self.mode = mode
    }
}

/// The results' `routing_mesh`: who probed the published ports, and which ports on which terms.
public struct RoutingMesh: Codable, Sendable, Equatable {
    /// The vantage's name (`--client-name`) and source address.
    public var client: String
    public var clientAddress: IPAddress
    public var ports: [Port]

    public struct Port: Codable, Sendable, Equatable {
        public var port: Int
        public var proto: TransportProtocol
        public var service: String?
        public var mode: PublishMode
        /// Nodes running the service's tasks (live).
        public var taskNodes: [String]

        public init(_ t: PublishedTarget) {
            port = t.port.port ?? 0
            proto = t.port.proto
            service = t.service
            mode = t.mode
            taskNodes = t.taskNodes
        }

        public var kindID: KindID { KindID(proto: proto, port: port) }

        enum CodingKeys: String, CodingKey {
            case port, proto = "protocol", service, mode, taskNodes = "task_nodes"
        }
    }

    public init(client: String, clientAddress: IPAddress, ports: [Port]) {
        self.client = client
        self.clientAddress = clientAddress
        self.ports = ports
    }

    enum CodingKeys: String, CodingKey {
        case client, clientAddress = "client_address", ports
    }
}
