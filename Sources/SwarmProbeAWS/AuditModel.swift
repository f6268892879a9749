import SwarmProbeCore

/// How one inventory node maps onto the account: the instance and network interface holding its address.
public struct AWSNodeMatch: Codable, Sendable, Equatable {
    public var node: String
    public var address: IPAddress
    public var instanceId: String?
    public var networkInterfaceId: String?
    public var subnetId: String?
    public var vpcId: String?
    /// The security groups of the network interface holding the address, in the order EC2 lists them.
    public var securityGroups: [String]
    /// The network ACL of the node's subnet (its association, or the VPC's default).
    public var networkAclId: String?
    /// Why the node's paths cannot be evaluated (no instance holds the address, data missing); nil when they can.
    public var problem: String?

    public init(
        node: String, address: IPAddress, instanceId: String? = nil, networkInterfaceId: String? = nil,
        subnetId: String? = nil, vpcId: String? = nil, securityGroups: [String] = [],
        networkAclId: String? = nil, problem: String? = nil
    ) {
        self.node = node
        self.address = address
        self.instanceId = instanceId
        self.networkInterfaceId = networkInterfaceId
        self.subnetId = subnetId
        self.vpcId = vpcId
        self.securityGroups = securityGroups
        self.networkAclId = networkAclId
        self.problem = problem
    }

    enum CodingKeys: String, CodingKey {
        case node, address, instanceId = "instance_id", networkInterfaceId = "network_interface_id", subnetId = "subnet_id"
        case vpcId = "vpc_id", securityGroups = "security_groups", networkAclId = "network_acl_id", problem
    }
}

/// One layer AWS applies to a packet of a check, and what it decides.
public struct AWSLayerDecision: Codable, Sendable, Equatable {
    public enum Layer: String, Codable, Sendable, CaseIterable {
        /// The sender's security groups, outbound rules (stateful: answers pass).
        case sourceSecurityGroup = "source-sg-outbound"
        /// The network ACL of the sender's subnet, outbound entries.
        case sourceNACL = "source-nacl-outbound"
        /// The network ACL of the target's subnet, inbound entries.
        case targetNACL = "target-nacl-inbound"
        /// The target's security groups, inbound rules.
        case targetSecurityGroup = "target-sg-inbound"
        /// The answer leaving: the network ACL of the target's subnet, outbound, to the sender's ephemeral ports.
        case returnTargetNACL = "return-target-nacl-outbound"
        /// The answer arriving: the network ACL of the sender's subnet, inbound, on the sender's ephemeral ports.
        case returnSourceNACL = "return-source-nacl-inbound"

        public var isReturn: Bool { self == .returnTargetNACL || self == .returnSourceNACL }
        public var isNACL: Bool { self != .sourceSecurityGroup && self != .targetSecurityGroup }
    }

    public enum Outcome: String, Codable, Sendable {
        case allow
        case deny
        /// The data to decide is missing (a group, a prefix list, the subnet's ACL).
        case unknown
        /// The layer does not apply (network ACLs between instances of one subnet).
        case notApplicable = "not-applicable"
    }

    public var layer: Layer
    public var outcome: Outcome
    /// The security group or network ACL that decides (`sg-...`, `acl-...`); nil when none does.
    public var resource: String?
    /// The deciding rule: an ACL rule number (`100`, `*` for the final deny), or a security group rule in words.
    public var rule: String?
    /// For a port range (the return to the sender's ephemeral ports): the ports that are denied.
    public var deniedPorts: [PortSpan]
    /// Whether this layer's outcome is part of the verdict. False for the UDP probe-echo path, which swarm's
    /// own traffic does not use (it is reported so `check` and the audit can be compared).
    public var decisive: Bool
    public var detail: String

    public init(
        layer: Layer, outcome: Outcome, resource: String? = nil, rule: String? = nil,
        deniedPorts: [PortSpan] = [], decisive: Bool = true, detail: String
    ) {
        self.layer = layer
        self.outcome = outcome
        self.resource = resource
        self.rule = rule
        self.deniedPorts = deniedPorts
        self.decisive = decisive
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case layer, outcome, resource, rule, deniedPorts = "denied_ports", decisive, detail
    }
}

/// A closed range of ports, `1024-32767` in JSON and text.
public struct PortSpan: Codable, Sendable, Hashable, CustomStringConvertible, Comparable {
    public var from: Int
    public var to: Int
    public init(_ from: Int, _ to: Int) {
        self.from = from
        self.to = to
    }
    public var description: String { from == to ? "\(from)" : "\(from)-\(to)" }
    public static func < (a: PortSpan, b: PortSpan) -> Bool { (a.from, a.to) < (b.from, b.to) }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        let parts = s.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 1 || parts.count == 2 else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a port range: \(s)")
        }
        self.init(parts[0], parts.last!)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// What the audit decides for one ordered pair and one traffic kind, or for one published port on one node
/// (`from` the `--clients` as given, `sg-...` or a CIDR; `kind` `published`).
public struct AWSPathDecision: Codable, Sendable, Equatable {
    public var from: String
    public var to: String
    /// The profile's name for the kind (`overlay-data`); `published` for a published port.
    public var kind: String
    public var kindID: KindID
    public var required: Bool
    public var verdict: Verdict
    /// `network` when the packet is dropped on the way, `return-path` when only the answer is; nil unless blocked.
    public var location: Where?
    public var detail: String
    /// Every layer in the order the packet (then its answer) meets them.
    public var layers: [AWSLayerDecision]
    /// The commands that would open this path (also in `AWSAuditResult.remediation`, once each).
    public var remediation: [String]
    /// Published ports only: why the node does not admit it, one code per blocking rule (empty when admitted);
    /// nil for paths between nodes.
    public var causes: [AWSPublishedCause]?

    public init(
        from: String, to: String, kind: String, kindID: KindID, required: Bool, verdict: Verdict,
        location: Where?, detail: String, layers: [AWSLayerDecision], remediation: [String] = [],
        causes: [AWSPublishedCause]? = nil
    ) {
        self.causes = causes
        self.from = from
        self.to = to
        self.kind = kind
        self.kindID = kindID
        self.required = required
        self.verdict = verdict
        self.location = location
        self.detail = detail
        self.layers = layers
        self.remediation = remediation
    }

    public var decision: Decision { Decision(verdict, location, reason) }

    /// What the configuration says, as a reason code.
    public var reason: Reason {
        switch (verdict, location) {
        case (.open, _): return .awsAllowed
        case (.blocked, .returnPath?): return .awsReturnDenied
        case (.blocked, _): return .awsDenied
        default: return .awsUnknown
        }
    }

    /// The layers that block the path (the decisive denies).
    public var blockers: [AWSLayerDecision] { layers.filter { $0.decisive && $0.outcome == .deny } }

    /// Whether AWS's configuration lets the traffic through both ways (for a published port: the node admits it).
    public var admitted: Bool { verdict == .open }

    enum CodingKeys: String, CodingKey {
        case from, to, kind, kindID = "kind_id", required, verdict, location = "where", detail, layers, remediation, causes
    }
}

/// The audit of one inventory against one account snapshot.
public struct AWSAuditResult: Codable, Sendable, Equatable {
    public var profile: String
    public var nodes: [AWSNodeMatch]
    /// Planner order: by kind (profile order), then sender, then target (inventory order).
    public var paths: [AWSPathDecision]
    /// Every suggested command once, in the order of the paths (then the published ports) they open.
    public var remediation: [String]
    /// Nodes, kinds and profile as the audit used them, for `results`.
    public var inventory: [Node]
    /// `--published` from `--clients`: one decision per port, client and node (in that order), beside `paths`.
    public var published: [AWSPathDecision]
    /// The `--clients` as the published-port decisions used them (the CIDRs assumed for a group).
    public var clients: [AWSClientAddresses]

    public init(
        profile: String, nodes: [AWSNodeMatch], paths: [AWSPathDecision], remediation: [String], inventory: [Node],
        published: [AWSPathDecision] = [], clients: [AWSClientAddresses] = []
    ) {
        self.profile = profile
        self.nodes = nodes
        self.paths = paths
        self.remediation = remediation
        self.inventory = inventory
        self.published = published
        self.clients = clients
    }

    enum CodingKeys: String, CodingKey {
        case profile, nodes, paths, remediation, published, clients
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        profile = try c.decode(String.self, forKey: .profile)
        nodes = try c.decode([AWSNodeMatch].self, forKey: .nodes)
        paths = try c.decode([AWSPathDecision].self, forKey: .paths)
        remediation = try c.decode([String].self, forKey: .remediation)
        published = try c.decodeIfPresent([AWSPathDecision].self, forKey: .published) ?? []
        clients = try c.decodeIfPresent([AWSClientAddresses].self, forKey: .clients) ?? []
        inventory = []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(profile, forKey: .profile)
        try c.encode(nodes, forKey: .nodes)
        try c.encode(paths, forKey: .paths)
        if !clients.isEmpty || !published.isEmpty {
            try c.encode(clients, forKey: .clients)
            try c.encode(published, forKey: .published)
        }
        try c.encode(remediation, forKey: .remediation)
    }

    /// The decision for one published port on one node from one `--clients` value.
    public func published(_ port: PublishedPort, on node: String, from clients: String) -> AWSPathDecision? {
        published.first { $0.kindID == port && $0.to == node && $0.from == clients }
    }

    /// Whether any path or published port is blocked.
    var anyBlocked: Bool { (paths + published).contains { $0.verdict == .blocked } }

    /// The decision for one check, e.g. to combine it with what probes saw.
    public func path(from: String, to: String, kind: KindID) -> AWSPathDecision? {
        paths.first { $0.from == from && $0.to == to && $0.kindID == kind }
    }

    public func node(_ name: String) -> AWSNodeMatch? { nodes.first { $0.node == name } }

    /// Nodes no instance could be found for (each a finding of its own).
    public var unmatchedNodes: [AWSNodeMatch] { nodes.filter { $0.instanceId == nil } }

    /// The audit as a `swarmprobe.results/v1` document: the same schema as `check`, no evidence. Published ports
    /// are checks like the others (`from` the clients as given, `to` the node, kind `published`), counted in the
    /// summary and the exit code; `includingPublished` false leaves them out (for the node-by-node matrices).
    public func results(
        startedAt: String, durationMs: Int, toolVersion: String = SwarmProbeVersion.current, includingPublished: Bool = true
    ) -> Results {
        let nodeResults = inventory.map { n -> NodeResult in
            let m = node(n.name)
            let what: String
            if let m, let id = m.instanceId {
                let groups = m.securityGroups.isEmpty ? "no security group" : m.securityGroups.joined(separator: ", ")
                what = "\(id) in \(m.subnetId ?? "an unknown subnet"), \(groups)"
            } else {
                what = m?.problem ?? "not matched to an instance"
            }
            // Core has no status for "no agent involved"; `up` keeps the renderers from reporting a dead agent.
            return NodeResult(node: n, agent: AgentHealth(.notContacted, "aws audit: \(what)"))
        }
        let checks = (includingPublished ? paths + published : paths).map { p -> CheckResult in
            let k = TrafficKind(name: p.kind, proto: p.kindID.proto, port: p.kindID.port)
            return CheckResult(
                from: p.from, to: p.to, kind: k, required: p.required, decision: p.decision, detail: p.detail,
                sender: nil, receiver: nil)
        }
        return Results(
            toolVersion: toolVersion, profile: profile, startedAt: startedAt, durationMs: durationMs, timeoutMs: 0,
            complete: true, nodes: nodeResults, checks: checks)
    }
}
