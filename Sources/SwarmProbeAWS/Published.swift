import Foundation
import SwarmProbeCore

// Published ports (the routing mesh): can a load balancer, or clients at some addresses, reach a port every node
// publishes? Per node: the node's security groups (inbound, stateful), the network ACL of its subnet inbound on
// the port and outbound to the clients' ephemeral ports (stateless: the answers need a rule of their own), and,
// for a client group, that group's own outbound rules.

/// Who reaches the published ports (`--clients`): a security group (a load balancer's) or a CIDR.
public enum AWSClients: Sendable, Hashable, CustomStringConvertible {
    case group(String)
    case cidr(CIDR)

    /// `sg-0abc...`, or a prefix `203.0.113.0/24` whose host bits are clear; nil otherwise.
    public init?(_ text: String) {
        if text.hasPrefix("sg-") {
            let rest = text.dropFirst(3)
            guard !rest.isEmpty, rest.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }), rest == rest.lowercased() else { return nil }
            self = .group(text)
        } else if let c = CIDR(text), c.network == c {
            self = .cidr(c)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case let .group(g): return g
        case let .cidr(c): return c.description
        }
    }

    /// `--clients` as given: values separated by commas (the option may be repeated); an error names the flag.
    public static func parse(_ values: [String]) throws(InputError) -> [AWSClients] {
        var out: [AWSClients] = []
        for text in values.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let t = text.trimmingCharacters(in: .whitespaces)
            guard let c = AWSClients(t) else {
                if let cidr = CIDR(t), cidr.network != cidr {
                    throw InputError(source: "--clients", "`\(t)` has host bits set: the prefix is \(cidr.network)")
                }
                if IPAddress(t) != nil {
                    throw InputError(
                        source: "--clients", "`\(t)` is an address, not a CIDR: write \(t)/\(t.contains(":") ? 128 : 32) for one address")
                }
                throw InputError(
                    source: "--clients", "`\(t)` is neither a CIDR (203.0.113.0/24) nor a security group id (sg-0123abcd)")
            }
            if !out.contains(c) { out.append(c) }
        }
        guard !out.isEmpty else { throw InputError(source: "--clients", "give a CIDR or a security group id (sg-...)") }
        return out
    }
}

/// The `--clients` as the audit used them: for a group, the CIDRs its traffic is taken to come from (network ACL
/// rules are CIDRs), and where they come from.
public struct AWSClientAddresses: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable {
        /// `--clients` was a CIDR.
        case given
        /// The subnets of the group's network interfaces.
        case networkInterfaces = "network-interfaces"
        /// No interface of the group in the data: its VPC's CIDR.
        case vpc
        /// Neither is known: network ACLs cannot be evaluated.
        case unknown
    }

    /// As given: `sg-...` or a CIDR.
    public var clients: String
    /// The group with its name (`sg-1 (lb)`), for a group.
    public var group: String?
    public var cidrs: [CIDR]
    public var source: Source
    /// The assumption in words: `10.0.3.0/24, the subnet of sg-1's network interfaces (subnet-3)`.
    public var detail: String

    public init(clients: String, group: String?, cidrs: [CIDR], source: Source, detail: String) {
        self.clients = clients
        self.group = group
        self.cidrs = cidrs
        self.source = source
        self.detail = detail
    }

    /// `the client group sg-1 (lb)`, `the clients 203.0.113.0/24`.
    var text: String { group.map { "the client group \($0)" } ?? "the clients \(clients)" }

    var peer: ClientPeer {
        ClientPeer(group: group == nil ? nil : clients, cidrs: cidrs, text: text)
    }

    /// How network ACL decisions name one of the CIDRs.
    func remoteText(_ c: CIDR) -> String {
        switch source {
        case .given: return "\(c) (the clients)"
        case .networkInterfaces: return "\(c) (assumed for \(clients): a subnet of its network interfaces)"
        case .vpc, .unknown: return "\(c) (assumed for \(clients): its VPC's CIDR)"
        }
    }
}

extension AWSAudit {
    /// The CIDRs `clients` send from: a CIDR as given; for a group, the subnets its network interfaces (and any
    /// instance's interfaces) are in, else the CIDR of its VPC (or the nodes' VPC).
    static func addresses(of clients: AWSClients, snapshot: AWSSnapshot, nodeVPCs: [String]) -> AWSClientAddresses {
        let group: String
        switch clients {
        case let .cidr(c):
            return AWSClientAddresses(clients: c.description, group: nil, cidrs: [c], source: .given, detail: "\(c), as given")
        case let .group(g):
            group = g
        }
        let sg = snapshot.securityGroups.first { $0.groupId == group }
        let label = sg?.label ?? group
        let interfaces =
            snapshot.networkInterfaces.filter { $0.groups.contains { $0.groupId == group } }
            + snapshot.instances.filter { $0.state != "terminated" }.flatMap { i in
                i.networkInterfaces.filter { $0.groups.contains { $0.groupId == group } }
            }
        let subnetIds = orderedUnique(interfaces.compactMap(\.subnetId))
        let subnets = subnetIds.compactMap { id in snapshot.subnets.first { $0.subnetId == id } }
        let cidrs = subnets.compactMap { $0.cidrBlock.flatMap(CIDR.init) }
        if !subnetIds.isEmpty, cidrs.count == subnetIds.count {
            var unique: [CIDR] = []
            for c in cidrs where !unique.contains(c) { unique.append(c) }
            let what = subnetIds.count == 1 ? "the subnet" : "the subnets"
            return AWSClientAddresses(
                clients: group, group: label, cidrs: unique, source: .networkInterfaces,
                detail:
                    "\(unique.map(\.description).joined(separator: ", ")), \(what) of \(group)'s network interfaces (\(subnetIds.joined(separator: ", ")))"
            )
        }
        let why =
            subnetIds.isEmpty
            ? "no network interface of \(group) in the data" : "the CIDR of subnet \(subnetIds.joined(separator: ", ")) is not in the data"
        let vpcIds = orderedUnique([sg?.vpcId].compactMap { $0 } + nodeVPCs)
        for id in vpcIds {
            guard let vpc = snapshot.vpcs.first(where: { $0.vpcId == id }) else { continue }
            let blocks = vpc.cidrBlocks.compactMap(CIDR.init)
            guard !blocks.isEmpty else { continue }
            return AWSClientAddresses(
                clients: group, group: label, cidrs: blocks, source: .vpc,
                detail: "\(blocks.map(\.description).joined(separator: ", ")), the CIDR of \(id) (\(why))")
        }
        return AWSClientAddresses(
            clients: group, group: label, cidrs: [], source: .unknown,
            detail: "\(why), and no VPC CIDR either")
    }

    // MARK: - One node, one port

    /// `check --aws` for the routing mesh: does AWS's configuration admit the published `port` on `node` from
    /// `clients` (a load balancer's security group, or a CIDR)?
    ///
    /// Evaluates, as `aws audit --published --clients` does for every node: the node's security groups inbound
    /// (the clients' group, or a CIDR or prefix list holding every client address), the network ACL of the node's
    /// subnet inbound on the port and outbound to the clients' ephemeral ports 1024-65535 (ACLs are stateless), and
    /// for a group its own outbound rules. Network ACL rules are CIDRs: for a group, the CIDRs of the subnets its
    /// network interfaces are in (`snapshot.networkInterfaces`), else its VPC's CIDR (`snapshot.vpcs`).
    ///
    /// The answer: `admitted` (verdict `open`; `blocked` with `where` `network` or `return-path`; `inconclusive`
    /// when the data does not settle it), `detail` the one-line reason naming the security group or ACL rule,
    /// `causes` the stable codes, `remediation` the commands that would admit it (least-privilege: from the
    /// client group or CIDR; ACL entries numbered below any deny that matches). `cluster`, when given (every
    /// node), lets the remedy name the security group all nodes share, as the audit does; else the node's first.
    public static func publishedPort(
        _ port: PublishedPort, on node: Node, from clients: AWSClients, snapshot: AWSSnapshot,
        cluster: [Node] = [], style: AWSCommandStyle = AWSCommandStyle()
    ) -> AWSPathDecision {
        let resolved = ([node] + cluster.filter { $0.name != node.name }).map { resolve($0, snapshot) }
        let t = resolved[0]
        let who = Self.addresses(of: clients, snapshot: snapshot, nodeVPCs: resolved.compactMap(\.match.vpcId))
        let (decision, fixes) = evaluatePublished(t, port: port, clients: who, snapshot: snapshot, cluster: clusterGroup(resolved))
        var p = decision
        p.remediation = render([fixes], snapshot: snapshot, style: style).perPath[0]
        return p
    }

    static func evaluatePublished(
        _ t: Resolved, port: PublishedPort, clients: AWSClientAddresses, snapshot: AWSSnapshot, cluster: String?
    ) -> (AWSPathDecision, [Fix]) {
        func path(
            _ v: Verdict, _ w: Where?, _ detail: String, _ layers: [AWSLayerDecision], _ causes: [AWSPublishedCause]
        )
            -> AWSPathDecision
        {
            AWSPathDecision(
                from: clients.clients, to: t.name, kind: "published", kindID: port, required: true, verdict: v, location: w,
                detail: detail, layers: layers, causes: causes)
        }
        if t.match.problem != nil {
            let why =
                t.match.instanceId == nil ? "\(t.name) (\(t.address)) matches no EC2 instance's private address" : "\(t.name): \(t.match.problem!)"
            return (path(.inconclusive, nil, "\(why); nothing is claimed about its published port \(port)", [], []), [])
        }
        let traffic = Traffic(kind: port)
        let back = Traffic(proto: traffic.proto, ports: ephemeralPorts)
        let peer = clients.peer
        var layers: [AWSLayerDecision] = []
        var causes: [AWSPublishedCause] = []
        var fixes: [Fix] = []
        let nodeGroup = cluster.flatMap { t.groups.contains($0) ? $0 : nil } ?? t.groups.first

        // The client group's own outbound rules (a load balancer's group must let it reach the targets).
        if let g = peer.group {
            if snapshot.securityGroups.contains(where: { $0.groupId == g }) {
                let l = evaluateSecurityGroups(
                    [g], egress: true, traffic: traffic, peer: t.address, peerName: t.name, peerGroups: t.groups, snapshot: snapshot,
                    layer: .sourceSecurityGroup)
                layers.append(l)
                if l.outcome == .deny {
                    causes.append(.clientEgressDenied)
                    fixes.append(
                        .securityGroup(
                            group: g, egress: true, proto: port.proto, port: port.port, peerGroup: nodeGroup,
                            peerCIDR: nodeGroup == nil ? CIDR(host: t.address) : nil))
                }
            } else {
                layers.append(
                    AWSLayerDecision(
                        layer: .sourceSecurityGroup, outcome: .unknown, resource: g, decisive: false,
                        detail: "\(g) is not in the describe-security-groups data: its outbound rules are not checked"))
            }
        }

        // The node's subnet's network ACL, inbound on the port from each client CIDR.
        let nodeSubnet = t.match.subnetId.flatMap { id in snapshot.subnets.first { $0.subnetId == id }?.cidrBlock }.flatMap(CIDR.init)
        func aclLayer(_ c: CIDR, egress: Bool, _ tr: Traffic, _ layer: AWSLayerDecision.Layer, purpose: String) -> AWSLayerDecision {
            if let nodeSubnet, nodeSubnet.holds(c) {
                return AWSLayerDecision(
                    layer: layer, outcome: .notApplicable,
                    detail: "\(clients.remoteText(c)) is inside \(t.subnetText): network ACLs apply only between subnets")
            }
            guard let a = t.acl else {
                return AWSLayerDecision(
                    layer: layer, outcome: .unknown,
                    detail:
                        "no network ACL in the describe-network-acls data is associated with \(t.subnetText), and its VPC's default ACL is not there either"
                )
            }
            let l = aclDecision(
                a, subnetText: t.subnetText, egress: egress, traffic: tr, remote: c, remoteText: clients.remoteText(c), layer: layer,
                purpose: purpose)
            if l.outcome == .deny { fixes += aclFixes(a, egress: egress, traffic: tr, remote: c) }
            return l
        }
        if clients.cidrs.isEmpty {
            let why = "cannot tell which addresses \(clients.clients) sends from (\(clients.detail))"
            layers.append(AWSLayerDecision(layer: .targetNACL, outcome: .unknown, detail: why))
        }
        for c in clients.cidrs {
            let l = aclLayer(c, egress: false, traffic, .targetNACL, purpose: "")
            if l.outcome == .deny && !causes.contains(.naclInboundDenied) { causes.append(.naclInboundDenied) }
            layers.append(l)
        }

        // The node's security groups, inbound.
        let (sg, sgCause) = evaluatePublishedSecurityGroups(t.groups, node: t.name, traffic: traffic, clients: peer, snapshot: snapshot)
        layers.append(sg)
        if let sgCause, let nodeGroup {
            causes.append(sgCause)
            if let g = peer.group {
                fixes.insert(.publishedIngress(group: nodeGroup, proto: port.proto, port: port.port!, peerGroup: g, peerCIDR: nil), at: 0)
            } else {
                fixes.insert(
                    contentsOf: clients.cidrs.map {
                        Fix.publishedIngress(group: nodeGroup, proto: port.proto, port: port.port!, peerGroup: nil, peerCIDR: $0)
                    },
                    at: 0)
            }
        }

        // The answers: out of the node's subnet to the clients' ephemeral ports.
        if clients.cidrs.isEmpty {
            layers.append(
                AWSLayerDecision(
                    layer: .returnTargetNACL, outcome: .unknown, detail: "cannot tell which addresses the answers go to (\(clients.detail))"))
        }
        for c in clients.cidrs {
            let l = aclLayer(c, egress: true, back, .returnTargetNACL, purpose: ", the answers to the clients' ephemeral ports")
            if l.outcome == .deny && !causes.contains(.naclReturnDenied) { causes.append(.naclReturnDenied) }
            layers.append(l)
        }

        let decisive = layers.filter(\.decisive)
        let forward = decisive.filter { $0.outcome == .deny && !$0.layer.isReturn }
        let backDenied = decisive.filter { $0.outcome == .deny && $0.layer.isReturn }
        let unknown = decisive.filter { $0.outcome == .unknown }
        if !forward.isEmpty {
            var detail = "\(t.name) does not admit \(port) from \(clients.clients): " + forward.map(\.detail).joined(separator: "; ")
            if !backDenied.isEmpty { detail += "; and on the way back: " + backDenied.map(\.detail).joined(separator: "; ") }
            return (path(.blocked, .network, detail, layers, causes), fixes)
        }
        if !backDenied.isEmpty {
            let detail =
                "\(t.name) gets \(port) from \(clients.clients), but its answers are dropped (network ACLs are stateless): "
                + backDenied.map(\.detail).joined(separator: "; ")
            return (path(.blocked, .returnPath, detail, layers, causes), fixes)
        }
        if !unknown.isEmpty {
            return (path(.inconclusive, nil, unknown.map(\.detail).joined(separator: "; "), layers, []), [])
        }
        var allowed = orderedUnique(decisive.filter { $0.outcome == .allow }.map(short))
        if decisive.contains(where: { $0.outcome == .notApplicable }) { allowed.append("clients in \(t.name)'s own subnet pass no network ACL") }
        return (path(.open, nil, "\(t.name) admits \(port) from \(clients.clients): " + allowed.joined(separator: "; "), layers, []), [])
    }
}
