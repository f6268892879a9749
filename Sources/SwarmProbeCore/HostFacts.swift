/// What an agent reads about its own host that the routing mesh depends on; read, never changed.
/// nil fields: the agent could not read that fact (and says nothing about it).
public struct HostFacts: Codable, Sendable, Equatable, Hashable {
    /// `net.ipv4.ip_forward`.
    public var ipForward: Bool?
    /// The forward hook's policy, from nft (iptables-nft's `ip filter FORWARD` and native base chains alike):
    /// `drop` when any IPv4 base chain on the forward hook has policy drop, `accept` when there are such
    /// chains and all accept; nil when nft could not be read or lists none (rules of iptables-legacy are
    /// invisible to nft).
    public var forwardPolicy: String?
    /// The host's IPv4 routes (main table), as `ip route` gives them; empty when they could not be read.
    public var routes: [HostRoute]
    /// Ports a `DOCKER-INGRESS` chain (nat table) redirects, when that chain exists; nil: no such chain.
    public var ingressPorts: [PublishedPort]?
    /// Every IPv4 base chain (families `ip` and `inet`) hooked on forward; nil: nft could not be read.
    public var forwardChains: [ForwardChain]?
    /// The interface holding the agent's address: what VXLAN leaves by.
    public var interface: InterfaceFacts?
    /// The addresses the host holds that could be advertised (loopback, link-local and Docker's own interfaces
    /// left out), the agent's own always included when held: without it, its address is on no interface.
    public var addresses: [HostAddress]?
    /// The peers toward which the kernel would send from another address than the agent's, grouped by that
    /// address; empty: every peer gets the agent's address; nil: not read (no peers named in the hello).
    public var otherSources: [SourceChoice]?
    /// What the encrypted overlay needs of the kernel (IPsec), each as loaded, built in, a module, or missing.
    public var ipsec: IPsecSupport?

    public init(
        ipForward: Bool? = nil, forwardPolicy: String? = nil, routes: [HostRoute] = [], ingressPorts: [PublishedPort]? = nil,
        forwardChains: [ForwardChain]? = nil, interface: InterfaceFacts? = nil, addresses: [HostAddress]? = nil,
        otherSources: [SourceChoice]? = nil, ipsec: IPsecSupport? = nil
    ) {
        self.addresses = addresses
        self.otherSources = otherSources
        self.ipsec = ipsec
        self.interface = interface
        self.ipForward = ipForward
        self.forwardPolicy = forwardPolicy
        self.routes = routes
        self.ingressPorts = ingressPorts
        self.forwardChains = forwardChains
    }

    enum CodingKeys: String, CodingKey {
        case ipForward = "ip_forward", forwardPolicy = "forward_policy", routes, ingressPorts = "ingress_ports"
        case forwardChains = "forward_chains", interface, addresses, otherSources = "other_sources", ipsec
    }

    /// iptables-nft's `ip filter FORWARD`, the chain Docker writes its rules into; nil when it is not there.
    public var dockerForwardChain: ForwardChain? {
        forwardChains?.first { $0.family == "ip" && $0.table == "filter" && $0.chain == "FORWARD" }
    }

    /// Whether `ip filter FORWARD` jumps to `DOCKER-INGRESS` (Docker's accept rules for ingress-published
    /// ports); nil when that chain is not there.
    public var forwardJumpsToIngress: Bool? { dockerForwardChain.map { $0.jumps.contains(ForwardChain.dockerIngress) } }

    /// The forward-hook chains that drop by default and let nothing published through: each one keeps
    /// published ports out of the ingress network.
    public var chainsDroppingPublished: [ForwardChain] { (forwardChains ?? []).filter { $0.blocksByDefault && !$0.acceptsPublished } }

    /// Whether Docker's chains are hooked on forward (a base chain jumps to a `DOCKER-*` chain): dockerd runs
    /// here and manages iptables.
    public var dockerChainsPresent: Bool { forwardChains?.contains { $0.jumpsToDocker } ?? false }
}

/// One route: destination prefix and the interface it leaves by.
public struct HostRoute: Codable, Sendable, Equatable, Hashable {
    public var destination: CIDR
    public var device: String
    public init(destination: CIDR, device: String) {
        self.destination = destination
        self.device = device
    }

    /// Docker's own interfaces: docker_gwbridge, docker0, user bridges (`br-<id>`), container veths, and the
    /// VXLAN and overlay devices. Routes through them are Docker's, never a site's.
    public var isDockers: Bool {
        device == "docker_gwbridge" || device == "docker0"
            || ["br-", "veth", "vx-", "ov-"].contains { device.hasPrefix($0) }
    }
}

/// A base chain on the forward hook, as much of it as the routing mesh's fate depends on.
public struct ForwardChain: Codable, Sendable, Equatable, Hashable {
    public static let dockerIngress = "DOCKER-INGRESS"

    /// `ip` or `inet`.
    public var family: String
    /// `filter` (iptables-nft, ufw on iptables-nft), `firewalld`, ...
    public var table: String
    public var chain: String
    /// `accept` or `drop`.
    public var policy: String
    /// The chains its rules jump or go to, in order, each once.
    public var jumps: [String]
    /// A rule in it, or in a chain it reaches, lets new forwarded connections to a published port through:
    /// a jump to `DOCKER-INGRESS`, `ct status dnat accept` (firewalld), an accept of what leaves by
    /// docker_gwbridge, or an accept of everything.
    public var acceptsPublished: Bool
    /// Its last rule drops or rejects whatever reached it (firewalld's `reject with icmpx admin-prohibited`):
    /// it blocks by default whatever its policy says.
    public var endsInDrop: Bool

    public init(
        family: String, table: String, chain: String, policy: String, jumps: [String] = [], acceptsPublished: Bool = false,
        endsInDrop: Bool = false
    ) {
        self.family = family
        self.table = table
        self.chain = chain
        self.policy = policy
        self.jumps = jumps
        self.acceptsPublished = acceptsPublished
        self.endsInDrop = endsInDrop
    }

    enum CodingKeys: String, CodingKey {
        case family, table, chain, policy, jumps, acceptsPublished = "accepts_published", endsInDrop = "ends_in_drop"
    }

    /// `table ip filter chain FORWARD`: how nft names it.
    public var name: String { "table \(family) \(table) chain \(chain)" }
    /// Drops what no rule accepted: policy drop, or a last rule that drops everything.
    public var blocksByDefault: Bool { policy == "drop" || endsInDrop }
    /// Jumps to one of Docker's chains (`DOCKER-USER`, `DOCKER-INGRESS`, `DOCKER-ISOLATION-STAGE-1`, ...).
    public var jumpsToDocker: Bool { jumps.contains { $0.hasPrefix("DOCKER") } }
    /// iptables-nft's `ip filter FORWARD`: Docker adds its accept rules to this chain and no other.
    public var isDockers: Bool { family == "ip" && table == "filter" && chain == "FORWARD" }
}

/// A published port: `8080/tcp`.
public typealias PublishedPort = KindID

/// The subnets the routing mesh uses on every node: the ingress network, docker_gwbridge, and the pools
/// overlay networks are given subnets from. Docker's defaults unless the live swarm says otherwise.
public struct MeshSubnets: Sendable, Equatable, Hashable {
    public var ingress: CIDR
    public var gatewayBridge: CIDR
    public var addressPools: [CIDR]

    public init(ingress: CIDR, gatewayBridge: CIDR, addressPools: [CIDR]) {
        self.ingress = ingress
        self.gatewayBridge = gatewayBridge
        self.addressPools = addressPools
    }

    /// Docker's defaults: ingress 10.255.0.0/16, docker_gwbridge 172.18.0.0/16, the default address pool
    /// 10.0.0.0/8 (a /24 per overlay).
    public static let docker = MeshSubnets(
        ingress: CIDR("10.255.0.0/16")!, gatewayBridge: CIDR("172.18.0.0/16")!, addressPools: [CIDR("10.0.0.0/8")!])
}

/// The interface the agent's address is on: its MTU, its driver, and its transmit checksum offloads (from
/// `ethtool -k`), which some drivers get wrong for VXLAN. nil fields: not readable (no ethtool, a virtual device).
public struct InterfaceFacts: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var mtu: Int?
    /// The kernel driver (`vmxnet3`, `ena`, `virtio_net`); nil for a device without one (veth, bridge).
    public var driver: String?
    /// `tx-checksumming`, and its `tx-checksum-ip-generic` part: the NIC fills in checksums, VXLAN's inner ones too.
    public var txChecksumming: Bool?
    public var txChecksumIPGeneric: Bool?

    public init(name: String, mtu: Int? = nil, driver: String? = nil, txChecksumming: Bool? = nil, txChecksumIPGeneric: Bool? = nil) {
        self.name = name
        self.mtu = mtu
        self.driver = driver
        self.txChecksumming = txChecksumming
        self.txChecksumIPGeneric = txChecksumIPGeneric
    }

    enum CodingKeys: String, CodingKey {
        case name, mtu, driver, txChecksumming = "tx_checksumming", txChecksumIPGeneric = "tx_checksum_ip_generic"
    }
}
