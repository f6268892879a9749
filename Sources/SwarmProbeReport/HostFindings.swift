import SwarmProbeCore

/// What one node's host facts mean for the routing mesh, as node findings with stable codes (docs/results.md).
///
/// - `ip-forward-off` (required where dockerd runs, information before): the kernel forwards nothing, so published
///   ports never reach the ingress network. dockerd turns it on as it starts, so on a host without Docker yet
///   (pre-flight) it is what a fresh host has.
/// - `forward-drops-published-ports` (required): this node publishes ingress ports and a forward chain drops
///   by default with nothing in it (or in what it jumps to) that lets them through.
/// - `forward-drop-policy` (information): such a chain with no port published here yet. Docker sets
///   `ip filter FORWARD` to drop itself and adds its accept rules, so a drop policy with Docker's chains in
///   it is normal and no finding at all.
/// - `clock-offset` (required): the node's clock is more than 1 s off the coordinator's.
/// - `checksum-offload-vxlan` (required): the interface's driver is one known to corrupt VXLAN checksums and its
///   transmit checksum offload is on.
/// - `advertise-address-not-local` (required): the node's address (the inventory's, the swarm's advertise address)
///   is on none of its interfaces.
/// - `source-address-differs` (required): toward some peers the kernel would send from another address than the
///   advertised one (moby#53004); one finding per such address, naming the peers.
/// - `ipsec-unsupported` (required, only when the profile probes ESP): the kernel lacks part of what the
///   encrypted overlay needs.
/// - `route-overlaps-ingress`, `route-overlaps-gateway-bridge` (required when the route lies inside that
///   subnet: its hosts exist and are shadowed; information when the route only covers it),
///   `route-overlaps-address-pool` (information: an overlay breaks only when given an overlapping /24).
///   Routes through Docker's own interfaces are Docker's and left out; one finding per route, the most
///   serious.
public enum HostFindings {
    /// Every code a node finding about a host may carry; docs/results.md lists each.
    public enum Code: String, CaseIterable, Sendable {
        case ipForwardOff = "ip-forward-off"
        case forwardDropsPublishedPorts = "forward-drops-published-ports"
        case forwardDropPolicy = "forward-drop-policy"
        case routeOverlapsIngress = "route-overlaps-ingress"
        case routeOverlapsGatewayBridge = "route-overlaps-gateway-bridge"
        case routeOverlapsAddressPool = "route-overlaps-address-pool"
        case checksumOffloadVxlan = "checksum-offload-vxlan"
        case clockOffset = "clock-offset"
        case advertiseAddressNotLocal = "advertise-address-not-local"
        case sourceAddressDiffers = "source-address-differs"
        case ipsecUnsupported = "ipsec-unsupported"
    }

    /// What the check knows beyond the node's own facts.
    public struct Context: Sendable {
        /// The node's address as the check uses it (the inventory's, or the swarm's advertise address).
        public var address: IPAddress?
        /// Every node's name by address, to name peers.
        public var peerNames: [IPAddress: String]
        /// The profile probes ESP: the swarm runs encrypted overlays.
        public var encrypted: Bool

        public init(address: IPAddress? = nil, peerNames: [IPAddress: String] = [:], encrypted: Bool = false) {
            self.address = address
            self.peerNames = peerNames
            self.encrypted = encrypted
        }
    }

    /// A clock surely more than `ClockOffset.toleranceMs` off this host's (`sureMs`: the least the offset can be,
    /// whatever a slow round trip hid); worded with the best estimate, `offsetMs`. Required: swarm's raft and TLS
    /// do not tolerate it.
    public static func clockFinding(node: String, offsetMs: Int, sureMs: Int) -> NodeFinding? {
        guard abs(sureMs) > ClockOffset.toleranceMs else { return nil }
        return NodeFinding(
            node: node, code: Code.clockOffset.rawValue,
            detail: "its clock is \(ClockOffset.words(offsetMs)) this host's; swarm's raft and mutual TLS want clocks within "
                + "1 s (a join fails with a certificate \"not yet valid\": moby#24078, #25112)",
            fix: "run NTP on \(node) and on this host (`apt-get install chrony`, or `timedatectl set-ntp true`); `chronyc makestep` "
                + "steps a clock that is far off at once",
            required: true)
    }

    public static func findings(node: String, facts: HostFacts, subnets: MeshSubnets = .docker, context: Context = Context()) -> [NodeFinding] {
        var out: [NodeFinding] = []
        if let address = context.address {
            if let f = addressFinding(node: node, address: address, held: facts.addresses) {
                out.append(f)
            } else {
                out += sourceFindings(node: node, address: address, facts.otherSources ?? [], names: context.peerNames)
            }
        }
        if context.encrypted, let f = ipsecFinding(node: node, facts.ipsec) { out.append(f) }
        if facts.ipForward == false {
            // dockerd turns forwarding on as it starts: before Docker runs here (pre-flight) 0 is what a fresh host has.
            let docker = facts.dockerChainsPresent
            out.append(
                NodeFinding(
                    node: node, code: Code.ipForwardOff.rawValue,
                    detail: docker
                        ? "net.ipv4.ip_forward is 0: the kernel forwards nothing, so the routing mesh cannot pass published ports "
                            + "into the ingress network, and containers cannot reach past this node"
                        : "net.ipv4.ip_forward is 0; dockerd turns it on when it starts (unless run with --ip-forward=false), and "
                            + "the routing mesh needs it on from then on",
                    fix: "`sysctl -w net.ipv4.ip_forward=1`, and keep it on at boot (`echo net.ipv4.ip_forward=1 > /etc/sysctl.d/90-swarm.conf`); "
                        + "then look for what turned it off (a sysctl file, systemd-networkd's `IPForward=no`)",
                    required: docker))
        }
        if let f = offloadFinding(node: node, facts.interface) { out.append(f) }
        out += forwardFindings(node: node, facts: facts)
        for route in facts.routes {
            if let f = routeFinding(node: node, route: route, subnets: subnets) { out.append(f) }
        }
        return out
    }

    /// The node's address on none of its interfaces: nothing binds there, peers' packets to it reach another host
    /// or none (a typo, an address from another machine, a public address behind NAT).
    static func addressFinding(node: String, address: IPAddress, held: [HostAddress]?) -> NodeFinding? {
        guard let held, !held.contains(where: { $0.address == address }) else { return nil }
        let list = held.isEmpty ? "none it could advertise" : held.map(\.description).joined(separator: ", ")
        let other = held.first { $0.address.isIPv4 == address.isIPv4 }?.address.description ?? "ADDR"
        return NodeFinding(
            node: node, code: Code.advertiseAddressNotLocal.rawValue,
            detail: "its address \(address) is on none of its interfaces (it holds \(list)): swarm's ports bind nothing there, and what "
                + "peers send to \(address) never reaches it (moby#26167)",
            fix: "advertise an address \(node) holds: `docker swarm leave`, then `docker swarm join --advertise-addr \(other) --token TOKEN "
                + "MANAGER:2377` (a manager: `docker node demote` it first); or correct the inventory (`address: \(other)`)",
            required: true)
    }

    /// Peers toward which the kernel picks another source than the advertised address, one finding per such address.
    static func sourceFindings(node: String, address: IPAddress, _ groups: [SourceChoice], names: [IPAddress: String]) -> [NodeFinding] {
        groups.map { g in
            let others = names.keys.filter { $0 != address && $0.isIPv4 == address.isIPv4 }
            let peers: String
            if others.count > 1 && Set(others).isSubset(of: g.peers) {
                peers = "every other node"
            } else {
                let named = g.peers.map { names[$0] ?? $0.description }
                peers = named.count <= 5 ? named.joined(separator: ", ") : named.prefix(4).joined(separator: ", ") + " and \(named.count - 4) more"
            }
            let on = g.device.map { " (\($0))" } ?? ""
            let sample = g.peers[0]
            return NodeFinding(
                node: node, code: Code.sourceAddressDiffers.rawValue,
                detail: "toward \(peers) its kernel sends from \(g.source)\(on), not from its advertise address \(address): VXLAN and gossip "
                    + "arrive from an address peers and their security groups do not expect, and are dropped (moby#53004)",
                fix: "make the route toward \(g.peers.count == 1 ? "it" : "them") use \(address): `ip route get \(sample)` on \(node) shows it; "
                    + "replace it with `src \(address)` (e.g. `ip route replace \(sample)/32 dev \(g.device ?? "DEV") src \(address)`), or "
                    + "advertise \(g.source) instead (`docker swarm join --advertise-addr \(g.source)`)",
                required: true)
        }
    }

    /// What each part of the encrypted overlay is, for a person.
    static let ipsecWords: [String: (what: String, config: String, module: String)] = [
        "esp4": ("ESP (esp4)", "CONFIG_INET_ESP", "esp4"),
        "xfrm_user": ("the xfrm interface dockerd programs IPsec through (xfrm_user)", "CONFIG_XFRM_USER", "xfrm_user"),
        "aes_gcm": ("AES-GCM for IPsec (rfc4106(gcm(aes)), module gcm)", "CONFIG_CRYPTO_GCM", "gcm"),
        "xt_u32": ("iptables' u32 match Docker marks encrypted VXLAN with (xt_u32)", "CONFIG_NETFILTER_XT_MATCH_U32", "xt_u32"),
    ]

    /// The profile runs encrypted overlays and the kernel lacks some of what they need.
    static func ipsecFinding(node: String, _ s: IPsecSupport?) -> NodeFinding? {
        guard let missing = s?.missing, !missing.isEmpty else { return nil }
        let words = missing.compactMap { ipsecWords[$0] }
        return NodeFinding(
            node: node, code: Code.ipsecUnsupported.rawValue,
            detail: "its kernel lacks what encrypted overlays (`--opt encrypted`) need: \(words.map(\.what).joined(separator: ", ")); "
                + "containers on them cannot start or reach each other (libnetwork#1439, moby#45686)",
            fix: "install the kernel's extra modules (`apt-get install linux-modules-extra-$(uname -r)` on Ubuntu) and `modprobe "
                + "\(words.map(\.module).joined(separator: " "))`, or run a kernel built with \(words.map(\.config).joined(separator: ", "))",
            required: true)
    }

    /// Drivers whose transmit checksum offload is known to corrupt VXLAN-encapsulated packets: the overlay's traffic
    /// between containers dies while ping and the swarm's own ports work (vmxnet3: moby#41775, #43386,
    /// calico#9433, fedora-coreos-tracker#1372).
    static let vxlanChecksumBreakers: Set<String> = ["vmxnet3"]

    static func offloadFinding(node: String, _ i: InterfaceFacts?) -> NodeFinding? {
        guard let i, let driver = i.driver, vxlanChecksumBreakers.contains(driver),
            i.txChecksumIPGeneric == true || (i.txChecksumIPGeneric == nil && i.txChecksumming == true)
        else { return nil }
        return NodeFinding(
            node: node, code: Code.checksumOffloadVxlan.rawValue,
            detail: "\(i.name) (driver \(driver)) computes transmit checksums itself, and \(driver) gets VXLAN's wrong: overlay "
                + "traffic between containers is dropped while ping and the swarm's own ports work (moby#41775, #43386)",
            fix: "`ethtool -K \(i.name) tx-checksum-ip-generic off` on \(node), and keep it at boot (a udev rule or NetworkManager's "
                + "`ethtool.feature-tx-checksum-ip-generic off`)",
            required: true)
    }

    static func forwardFindings(node: String, facts: HostFacts) -> [NodeFinding] {
        let ports = facts.ingressPorts ?? []
        var out: [NodeFinding] = []
        for chain in facts.chainsDroppingPublished {
            let blocks = chain.policy == "drop" ? "has policy drop" : "ends in a rule that drops everything"
            let letThrough =
                chain.isDockers
                ? "Restart dockerd (`systemctl restart docker`) so it writes its DOCKER-INGRESS rules and the jump to them again, "
                    + "then find what removed them (a firewall script, `iptables -F`, a firewall reload)"
                : "Let Docker's forwarded traffic through in \(chain.name): `nft insert rule \(chain.family) \(chain.table) \(chain.chain) "
                    + "ct status dnat accept` and `nft insert rule \(chain.family) \(chain.table) \(chain.chain) iifname \"docker_gwbridge\" accept`"
            if !ports.isEmpty {
                let list = ports.map(\.description).joined(separator: ", ")
                let dropped = ports.count == 1 ? "published port \(list) is dropped" : "published ports \(list) are dropped"
                out.append(
                    NodeFinding(
                        node: node, code: Code.forwardDropsPublishedPorts.rawValue,
                        detail: "\(chain.name) \(blocks) and nothing in it lets the routing mesh's traffic through (no jump to "
                            + "DOCKER-INGRESS, no `ct status dnat accept`): \(dropped) here on the way into the ingress network "
                            + "(docker/cli#2274, libnetwork#1526)",
                        fix: letThrough, required: true))
            } else if chain.isDockers {
                // Docker's chain: with Docker's rules in it a drop policy is Docker's own and normal.
                guard !chain.jumpsToDocker else { continue }
                out.append(
                    NodeFinding(
                        node: node, code: Code.forwardDropPolicy.rawValue,
                        detail: "\(chain.name) \(blocks) and none of Docker's chains: dockerd is not running here or runs with "
                            + "--iptables=false. Docker adds its accept rules to this chain when it starts; without them published "
                            + "ports and containers' traffic through docker_gwbridge are dropped (libnetwork#1526)",
                        fix: "Nothing, if dockerd manages iptables (the default); with `--iptables=false`, accept forwarded traffic to and "
                            + "from docker_gwbridge yourself, or `iptables -P FORWARD ACCEPT`",
                        required: false))
            } else {
                out.append(
                    NodeFinding(
                        node: node, code: Code.forwardDropPolicy.rawValue,
                        detail: "\(chain.name) \(blocks) and accepts none of Docker's forwarded traffic; Docker never writes to it, "
                            + "so containers' traffic through docker_gwbridge is dropped, and published ports would be (no port is "
                            + "published through the ingress network here yet)",
                        fix: letThrough, required: false))
            }
        }
        return out
    }

    static func routeFinding(node: String, route: HostRoute, subnets: MeshSubnets) -> NodeFinding? {
        let d = route.destination
        guard !route.isDockers, d.address.isIPv4, d.prefixLength > 0 else { return nil }
        enum Subnet { case ingress, gateway, pool }
        let candidates: [(Subnet, CIDR)] =
            [(.ingress, subnets.ingress), (.gateway, subnets.gatewayBridge)] + subnets.addressPools.map { (.pool, $0) }
        let matches = candidates.filter { d.overlaps($0.1) }.map { c in
            (kind: c.0, subnet: c.1, required: c.0 != .pool && d.prefixLength >= c.1.prefixLength && c.1.contains(d.address))
        }
        guard let match = matches.first(where: { $0.required }) ?? matches.first else { return nil }
        let (kind, subnet, required) = (match.kind, match.subnet, match.required)
        let position = required ? "lies inside" : "covers"
        let text = "route \(d) dev \(route.device)"
        switch kind {
        case .ingress:
            return NodeFinding(
                node: node, code: Code.routeOverlapsIngress.rawValue,
                detail: "\(text) \(position) the ingress network's \(subnet): "
                    + (required ? "clients there" : "a host in \(subnet) reached by it")
                    + " cannot use published ports (their answers go into the ingress network instead), nor can containers on "
                    + "ingress reach them (moby#24220)",
                fix: "Give the ingress network a subnet no route uses, while no service publishes a port: `docker network rm ingress`, "
                    + "then `docker network create --driver overlay --ingress --subnet 10.11.0.0/16 --gateway 10.11.0.1 ingress`",
                required: required)
        case .gateway:
            return NodeFinding(
                node: node, code: Code.routeOverlapsGatewayBridge.rawValue,
                detail: "\(text) \(position) docker_gwbridge's \(subnet): "
                    + (required ? "hosts there" : "a host in \(subnet) reached by it")
                    + " are on-link for every container and the ingress sandbox, so they cannot use published ports nor be "
                    + "reached from containers (moby#27890, docker/for-linux#1422)",
                fix: "Before the node joins (or after `docker swarm leave`), create docker_gwbridge on another subnet: `docker network "
                    + "create --subnet 10.12.0.0/16 --opt com.docker.network.bridge.name=docker_gwbridge --opt "
                    + "com.docker.network.bridge.enable_icc=false --opt com.docker.network.bridge.enable_ip_masquerade=true docker_gwbridge`",
                required: required)
        case .pool:
            return NodeFinding(
                node: node, code: Code.routeOverlapsAddressPool.rawValue,
                detail: "\(text) overlaps the overlay address pool \(subnet): an overlay network given a /24 inside it would "
                    + "shadow this route for its containers (only then does anything break)",
                fix: "Create overlay networks with an explicit `--subnet` outside \(d), or give the swarm another pool at init "
                    + "(`docker swarm init --default-addr-pool 10.20.0.0/16`)",
                required: false)
        }
    }
}
