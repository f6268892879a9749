/// What an agent reads about its own host that the routing mesh depends on; read, never changed.
/// nil fields: the agent could not read that fact (and says nothing about it).
public struct HostFacts: Codable, Sendable, Equatable, Hashable {
    /// `net.ipv4.ip_forward`.
    public var ipForward: Bool?
    /// The policy of the filter table's FORWARD chain (`accept` or `drop`), from nft or iptables-nft.
    public var forwardPolicy: String?
    /// The host's IPv4 routes (main table), as `ip route` gives them.
    public var routes: [HostRoute]
    /// Ports a `DOCKER-INGRESS` chain (nat table) redirects, when that chain exists; nil: no such chain.
    public var ingressPorts: [PublishedPort]?

    public init(ipForward: Bool? = nil, forwardPolicy: String? = nil, routes: [HostRoute] = [], ingressPorts: [PublishedPort]? = nil) {
        self.ipForward = ipForward
        self.forwardPolicy = forwardPolicy
        self.routes = routes
        self.ingressPorts = ingressPorts
    }

    enum CodingKeys: String, CodingKey {
        case ipForward = "ip_forward", forwardPolicy = "forward_policy", routes, ingressPorts = "ingress_ports"
    }
}

/// One route: destination prefix and the interface it leaves by.
public struct HostRoute: Codable, Sendable, Equatable, Hashable {
    public var destination: CIDR
    public var device: String
    public init(destination: CIDR, device: String) {
        self.destination = destination
        self.device = device
    }
}

/// A published port: `8080/tcp`.
public typealias PublishedPort = KindID
