import SwarmProbeCore

/// Why a published port does not answer on one node, put together from what the check already knows (where
/// the probe died, the node's forwarding and firewall facts, its routes, its data path to the service's tasks)
/// and said in one finding that a person fixing a load balancer or a node can act on.
public enum RoutingMeshExplanation {
    /// Everything known about one published port on one node.
    public struct Case: Sendable {
        public var port: RoutingMesh.Port
        /// The vantage's name: where the probe came from.
        public var client: String
        /// The published-port check to this node.
        public var check: CheckResult
        /// The node's facts, when its agent read them.
        public var host: HostFacts?
        /// This node's checks on the data-path port to each node running the service's tasks.
        public var dataPath: [CheckResult]
        /// The ingress network's and docker_gwbridge's address ranges (the live swarm's, or Docker's defaults).
        public var meshSubnets: MeshSubnets
        /// With `--aws`: the rule that keeps the port out, and the command that lets it in.
        public var aws: (reason: String, remedy: String)?

        public init(
            port: RoutingMesh.Port, client: String, check: CheckResult, host: HostFacts? = nil, dataPath: [CheckResult] = [],
            meshSubnets: MeshSubnets = .docker, aws: (reason: String, remedy: String)? = nil
        ) {
            self.port = port
            self.client = client
            self.check = check
            self.host = host
            self.dataPath = dataPath
            self.meshSubnets = meshSubnets
            self.aws = aws
        }
    }

    /// nil when the port answered, or when the node's agent could not say anything (its own finding covers that).
    public static func finding(_ c: Case) -> NodeFinding? {
        let check = c.check, node = check.to
        let id = "\(c.port.port)/\(c.port.proto.rawValue)"
        let what = c.port.service.map { "\(id) (service \($0))" } ?? id
        func make(_ code: String, _ detail: String, _ fix: String?) -> NodeFinding {
            NodeFinding(node: node, code: "published-port-\(code)", detail: detail, fix: fix, required: true, port: c.port.kindID)
        }
        switch check.verdict {
        case .open, .agentDown:
            return nil
        case .closed:
            if let why = meshFault(c, what: what) { return make(why.code, why.detail, why.fix) }
            if c.port.service == nil, check.receiver != nil, check.receiver?.listener == nil {
                return make(
                    "closed", "\(node) refused \(what): nothing listens there, and its agent was not started with --published \(id)",
                    "start the agent on \(node) with `--published \(id)` (check --ssh and --swarm do), then check again")
            }
            return make(
                "closed", "\(node) refused \(what): nothing listens there",
                c.port.service == nil
                    ? "stop whatever holds \(id) on \(node), or pick another port to publish"
                    : "check that \(node)'s dockerd runs the routing mesh (`docker service ps` and its log)")
        case .blocked:
            switch check.location ?? .unknown {
            case .network:
                return make(
                    "network",
                    "\(what) from \(c.client) never reached \(node): a security group, network ACL, route or cloud firewall in front of it drops it"
                        + (c.aws.map { " (\($0.reason))" } ?? ""),
                    c.aws?.remedy
                        ?? "allow \(id) into \(node) from the load balancer's security group or the clients' addresses (`swarmprobe aws audit --published \(id) --clients ...` names the rule)"
                )
            case .hostFirewall:
                let verb = check.reason == .rejectedByTargetFirewall ? "rejected" : "dropped"
                return make(
                    "host-firewall", "\(what) reached \(node) and \(node)'s own firewall \(verb) it",
                    c.port.service == nil
                        ? "on \(node): `nft insert rule inet filter input \(c.port.proto.rawValue) dport \(c.port.port) accept` (or `ufw allow \(id)`)"
                        : "on \(node): `iptables -I DOCKER-USER -p \(c.port.proto.rawValue) --dport \(c.port.port) -j ACCEPT` (published ports are forwarded, so the input chain does not see them)"
                )
            case .returnPath:
                return make(
                    "return-path",
                    "\(node) answered \(what), but the answer never reached \(c.client): a stateless rule on the way back (a network ACL without outbound 1024-65535 to the clients) or asymmetric routing",
                    "allow outbound 1024-65535 to the clients' addresses in the network ACL of \(node)'s subnet, and check that \(node) routes the clients back the way they came"
                )
            case .unknown, .senderFirewall:
                // The vantage has no taps and marks no refused send: never the sender's firewall here.
                break
            }
        case .inconclusive:
            if check.reason == .interrupted { return nil }
        }
        // Silent, and no capture tap to say where: what the node's own facts say, else that nothing can tell.
        if let why = meshFault(c, what: what) { return make(why.code, why.detail, why.fix) }
        let reached = check.receiver?.capture?.seenAtInterface == true
        return make(
            reached ? "unanswered" : "unknown",
            reached
                ? "\(what) reaches \(node) and no answer comes back, though its forwarding, firewall and data path look right"
                : "\(what) got no answer from \(node), and \(node)'s capture taps could not tell where it died",
            reached ? "look at \(node)'s dockerd log and `docker service ps`" : "run the agent with its capture taps (root, libpcap) on \(node)")
    }

    /// The node's own reason a published port cannot get through the routing mesh, most basic first.
    static func meshFault(_ c: Case, what: String) -> (code: String, detail: String, fix: String)? {
        let node = c.check.to
        let id = "\(c.port.port)/\(c.port.proto.rawValue)"
        if let host = c.host {
            if host.ipForward == false {
                return (
                    "forwarding-off", "\(node) does not forward \(what) into the ingress network: net.ipv4.ip_forward is 0",
                    "on \(node): `sysctl -w net.ipv4.ip_forward=1`, and set it in /etc/sysctl.d/ so it stays"
                )
            }
            // The firewall facts exist only when the agent could read the ruleset.
            if c.port.service != nil, c.port.mode == .ingress, host.forwardChains != nil {
                if let ports = host.ingressPorts {
                    if !ports.contains(c.port.kindID) {
                        return (
                            "no-ingress-rule",
                            "\(node)'s DOCKER-INGRESS chain has no rule for \(id): its dockerd has not set up the routing mesh for it",
                            "restart dockerd on \(node), or `docker service update --force \(c.port.service ?? "SERVICE")`"
                        )
                    }
                } else {
                    return (
                        "no-ingress-rule",
                        "\(node) has no DOCKER-INGRESS chain, so nothing takes \(id) into the routing mesh: its dockerd runs with --iptables=false, or something flushed its rules",
                        "let dockerd manage iptables on \(node) (no `--iptables=false`), then restart it so it writes its rules again"
                    )
                }
            }
            if let chain = host.chainsDroppingPublished.first {
                return (
                    "forward-drop",
                    "\(node)'s \(chain.name) drops by default and nothing in it lets the routing mesh's traffic through",
                    "on \(node): `iptables -I DOCKER-USER -p \(c.port.proto.rawValue) --dport \(c.port.port) -j ACCEPT`, or restart dockerd so it writes its rules again"
                )
            }
            // Routes through Docker's own interfaces are the mesh's own, not a conflict with it.
            for route in host.routes where !route.isDockers {
                let mesh = [c.meshSubnets.ingress, c.meshSubnets.gatewayBridge]
                guard let subnet = mesh.first(where: { $0.overlaps(route.destination) }) else { continue }
                return (
                    "subnet-overlap",
                    "\(node) routes \(route.destination) via \(route.device), which overlaps the routing mesh's \(subnet): answers meant for it leave the wrong way",
                    "give the mesh a free range: recreate the ingress network with `--subnet` outside \(route.destination) (docker network create --driver overlay --ingress --subnet ...)"
                )
            }
        }
        let blocked = c.dataPath.filter { $0.verdict != .open && $0.from == node }
        if c.port.service != nil, c.port.mode == .ingress, !blocked.isEmpty {
            let targets = blocked.map(\.to)
            let first = blocked[0]
            let how = first.verdict == .blocked ? "blocked (\((first.location ?? .unknown).rawValue))" : first.verdict.rawValue
            let kind = "\(first.port.map(String.init) ?? "")/\(first.proto.rawValue)"
            return (
                "no-data-path",
                "\(what) reaches \(node), but \(node) cannot reach the service's tasks on \(targets.joined(separator: ", ")) over \(kind): \(how)",
                "open \(kind) from \(node) to \(targets.joined(separator: ", ")) (the \(kind) finding says where it is blocked)"
            )
        }
        return nil
    }
}

extension RoutingMeshExplanation {
    /// The finding for every published port that does not answer on a node, in the routing mesh's order, from
    /// the results' checks and each node's host facts. `dataPath`: the profile's VXLAN kind; `aws`: the audit's
    /// rule and remedy for a port on a node.
    public static func findings(
        _ r: Results, dataPath: KindID?, meshSubnets: MeshSubnets = .docker,
        aws: (_ node: String, _ port: KindID) -> (reason: String, remedy: String)? = { _, _ in nil }
    ) -> [NodeFinding] {
        guard let mesh = r.routingMesh else { return [] }
        let facts = Dictionary(r.nodes.compactMap { n in n.host.map { (n.name, $0) } }, uniquingKeysWith: { a, _ in a })
        var out: [NodeFinding] = []
        for port in mesh.ports {
            for check in r.checks where check.published != nil && check.from == mesh.client && check.kindID == port.kindID {
                let node = check.to
                let dataPathChecks = r.checks.filter { c in
                    c.published == nil && c.kindID == dataPath && c.from == node && port.taskNodes.contains(c.to)
                }
                let c = Case(
                    port: port, client: mesh.client, check: check, host: facts[node], dataPath: dataPathChecks,
                    meshSubnets: meshSubnets, aws: aws(node, port.kindID))
                if let f = finding(c) { out.append(f) }
            }
        }
        return out
    }
}
