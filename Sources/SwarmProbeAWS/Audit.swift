import SwarmProbeCore
import SwarmProbeProcess

/// How suggested commands address the account: the same `--region`/`--profile` the audit used
/// (never `--endpoint-url`: commands are for the user's real account).
public struct AWSCommandStyle: Sendable, Equatable {
    public var region: String?
    public var profile: String?
    public init(region: String? = nil, profile: String? = nil) {
        self.region = region
        self.profile = profile
    }
    var suffix: String {
        var s = ""
        if let region { s += " --region \(Program.shellQuoted(region))" }
        if let profile { s += " --profile \(Program.shellQuoted(profile))" }
        return s
    }
}

/// The audit: what the account's security groups and network ACLs do to every check of a profile.
///
/// Evaluated as AWS does, per packet: the sender's security groups (outbound), the network ACL of the sender's
/// subnet (outbound), the network ACL of the target's subnet (inbound), the target's security groups
/// (inbound). Security groups are stateful, so answers pass them. Network ACLs are stateless and are
/// evaluated in rule-number order, first match wins, ending in the `*` deny; they do not apply between
/// instances of one subnet. For TCP the answers go to the sender's ephemeral ports, 1024-65535, and both ACLs
/// must let the whole range through in the reverse direction. UDP (gossip, VXLAN) and ESP have no answers in
/// swarm: each direction is its own flow, which is the check of the reverse pair, so the verdict does not
/// depend on a return. For UDP the echo of a swarmprobe probe (to the sender's `source-port`, or its ephemeral
/// ports) is still evaluated and reported as a non-decisive layer, so `check` and the audit can be compared.
public enum AWSAudit {
    /// The ephemeral ports TCP answers go to (the range AWS documents for network ACLs).
    public static let ephemeralPorts = PortSpan(1024, 65535)

    /// `published` and `clients` (`--published`, `--clients`): every port from every client to every node, beside
    /// the paths between nodes (see `publishedPort(_:on:from:snapshot:cluster:style:)`).
    public static func evaluate(
        inventory: Inventory, profile: Profile, snapshot: AWSSnapshot, published: [PublishedPort] = [], clients: [AWSClients] = [],
        style: AWSCommandStyle = AWSCommandStyle()
    ) -> AWSAuditResult {
        let resolved = inventory.nodes.map { resolve($0, snapshot) }
        let byName = Dictionary(resolved.map { ($0.node.name, $0) }, uniquingKeysWith: { a, _ in a })
        let cluster = clusterGroup(resolved)

        var paths: [AWSPathDecision] = []
        var fixes: [[Fix]] = []
        for check in Planner.checks(inventory: inventory, profile: profile) {
            let s = byName[check.from.name]!, t = byName[check.to.name]!
            let p = evaluatePath(s, t, kind: check.kind, required: check.required, snapshot: snapshot)
            paths.append(p)
            // Only what swarm needs: a path the roles do not require is information, never opened.
            fixes.append(p.verdict == .blocked && p.required ? fixesFor(p, s, t, cluster: cluster) : [])
        }
        let clientAddresses = clients.map { Self.addresses(of: $0, snapshot: snapshot, nodeVPCs: resolved.compactMap(\.match.vpcId)) }
        var publishedPaths: [AWSPathDecision] = []
        for port in published {
            for c in clientAddresses {
                for t in resolved {
                    let (p, f) = evaluatePublished(t, port: port, clients: c, snapshot: snapshot, cluster: cluster)
                    publishedPaths.append(p)
                    fixes.append(f)
                }
            }
        }
        // One numbering of new ACL entries over both, so no two commands take the same rule number.
        let rendered = render(fixes, snapshot: snapshot, style: style)
        for i in paths.indices { paths[i].remediation = rendered.perPath[i] }
        for i in publishedPaths.indices { publishedPaths[i].remediation = rendered.perPath[paths.count + i] }
        return AWSAuditResult(
            profile: profile.name, nodes: resolved.map(\.match), paths: paths,
            remediation: rendered.all, inventory: inventory.nodes, published: publishedPaths, clients: clientAddresses)
    }

    // MARK: - Nodes

    struct Resolved {
        var node: Node
        var match: AWSNodeMatch
        var acl: NetworkAcl?
        var name: String { node.name }
        var address: IPAddress { node.address }
        var groups: [String] { match.securityGroups }
        var peerText: String { "\(node.address) (\(node.name))" }
        var subnetText: String { "\(match.subnetId ?? "unknown subnet") of \(node.name)" }
    }

    static func resolve(_ node: Node, _ snapshot: AWSSnapshot) -> Resolved {
        var m = AWSNodeMatch(node: node.name, address: node.address)
        let live = snapshot.instances.filter { $0.state != "terminated" && $0.state != "shutting-down" }
        search: for inst in live {
            for eni in inst.networkInterfaces {
                let addresses = (eni.privateIpAddresses + [eni.privateIpAddress].compactMap { $0 }).compactMap(IPAddress.init)
                if addresses.contains(node.address) {
                    m.instanceId = inst.instanceId
                    m.networkInterfaceId = eni.networkInterfaceId
                    m.subnetId = eni.subnetId ?? inst.subnetId
                    m.vpcId = eni.vpcId ?? inst.vpcId
                    m.securityGroups = (eni.groups.isEmpty ? inst.securityGroups : eni.groups).map(\.groupId)
                    break search
                }
            }
            if inst.networkInterfaces.isEmpty, let a = inst.privateIpAddress.flatMap(IPAddress.init), a == node.address {
                m.instanceId = inst.instanceId
                m.subnetId = inst.subnetId
                m.vpcId = inst.vpcId
                m.securityGroups = inst.securityGroups.map(\.groupId)
                break search
            }
        }
        guard m.instanceId != nil else {
            m.problem =
                "no EC2 instance in the describe-instances data has the private address \(node.address) "
                + "(another account or region? a public or NAT address in the inventory? a stopped instance?)"
            return Resolved(node: node, match: m, acl: nil)
        }
        var acl: NetworkAcl?
        if let subnet = m.subnetId {
            let vpc = m.vpcId ?? snapshot.subnets.first { $0.subnetId == subnet }?.vpcId
            acl =
                snapshot.networkAcls.first { $0.subnetIds.contains(subnet) }
                ?? snapshot.networkAcls.first { $0.isDefault && $0.vpcId != nil && $0.vpcId == vpc }
        }
        m.networkAclId = acl?.networkAclId
        return Resolved(node: node, match: m, acl: acl)
    }

    /// A security group every matched node's interface has: the least-privilege source for rules between nodes.
    static func clusterGroup(_ nodes: [Resolved]) -> String? {
        let matched = nodes.filter { $0.match.instanceId != nil }
        guard let first = matched.first else { return nil }
        return first.groups.first { g in matched.allSatisfy { $0.groups.contains(g) } }
    }

    // MARK: - Paths

    static func evaluatePath(
        _ s: Resolved, _ t: Resolved, kind: TrafficKind, required: Bool,
        snapshot: AWSSnapshot
    ) -> AWSPathDecision {
        func path(_ v: Verdict, _ w: Where?, _ detail: String, _ layers: [AWSLayerDecision]) -> AWSPathDecision {
            AWSPathDecision(
                from: s.name, to: t.name, kind: kind.name, kindID: kind.kindID, required: required,
                verdict: v, location: w, detail: detail, layers: layers)
        }
        let unmatched = [s, t].filter { $0.match.problem != nil }
        if !unmatched.isEmpty {
            let why = unmatched.map { n in
                n.match.instanceId == nil ? "\(n.name) (\(n.address)) matches no EC2 instance's private address" : "\(n.name): \(n.match.problem!)"
            }.joined(separator: "; ")
            return path(.inconclusive, nil, "\(why); nothing is claimed about this path", [])
        }

        let traffic = Traffic(kind: kind.kindID)
        var layers: [AWSLayerDecision] = []
        layers.append(
            evaluateSecurityGroups(
                s.groups, egress: true, traffic: traffic, peer: t.address, peerName: t.name,
                peerGroups: t.groups, snapshot: snapshot, layer: .sourceSecurityGroup))
        let sameSubnet = s.match.subnetId == t.match.subnetId
        if sameSubnet {
            let why = "\(s.name) and \(t.name) are both in \(s.match.subnetId ?? "one subnet"): network ACLs apply only between subnets"
            layers.append(AWSLayerDecision(layer: .sourceNACL, outcome: .notApplicable, detail: why))
            layers.append(AWSLayerDecision(layer: .targetNACL, outcome: .notApplicable, detail: why))
        } else {
            layers.append(acl(s, egress: true, traffic, remote: t, layer: .sourceNACL))
            layers.append(acl(t, egress: false, traffic, remote: s, layer: .targetNACL))
        }
        layers.append(
            evaluateSecurityGroups(
                t.groups, egress: false, traffic: traffic, peer: s.address, peerName: s.name,
                peerGroups: s.groups, snapshot: snapshot, layer: .targetSecurityGroup))
        if !sameSubnet {
            switch kind.proto {
            case .tcp:
                let back = Traffic(proto: IPProto.tcp, ports: ephemeralPorts)
                let purpose = ", the answers to \(s.name)'s ephemeral ports"
                layers.append(acl(t, egress: true, back, remote: s, layer: .returnTargetNACL, purpose: purpose))
                layers.append(acl(s, egress: false, back, remote: t, layer: .returnSourceNACL, purpose: purpose))
            case .udp:
                let back = Traffic(proto: IPProto.udp, ports: kind.sourcePort.map { PortSpan($0, $0) } ?? ephemeralPorts)
                let purpose = ", the echo of a swarmprobe probe (not swarm traffic)"
                layers.append(acl(t, egress: true, back, remote: s, layer: .returnTargetNACL, decisive: false, purpose: purpose))
                layers.append(acl(s, egress: false, back, remote: t, layer: .returnSourceNACL, decisive: false, purpose: purpose))
            case .esp:
                break
            }
        }

        let decisive = layers.filter(\.decisive)
        let forward = decisive.filter { $0.outcome == .deny && !$0.layer.isReturn }
        let back = decisive.filter { $0.outcome == .deny && $0.layer.isReturn }
        let unknown = decisive.filter { $0.outcome == .unknown }
        if !forward.isEmpty {
            var detail = forward.map(\.detail).joined(separator: "; ")
            if !back.isEmpty { detail += "; and on the way back: " + back.map(\.detail).joined(separator: "; ") }
            return path(.blocked, .network, detail, layers)
        }
        if !back.isEmpty {
            let detail = "\(t.name) gets \(kind.id) from \(s.name), but its answers are dropped: " + back.map(\.detail).joined(separator: "; ")
            return path(.blocked, .returnPath, detail, layers)
        }
        if !unknown.isEmpty {
            return path(.inconclusive, nil, unknown.map(\.detail).joined(separator: "; "), layers)
        }
        var allowed = decisive.filter { $0.outcome == .allow }.map(short).joined(separator: "; ")
        if sameSubnet { allowed += "; same subnet, no network ACL" }
        var detail = "allowed: \(allowed)"
        switch kind.proto {
        case .udp, .esp:
            detail += "; no answer is needed (swarm's traffic back is the check \(t.name) -> \(s.name))"
        case .tcp:
            break
        }
        let echo = layers.filter { !$0.decisive && $0.outcome == .deny }
        if !echo.isEmpty {
            detail +=
                "; note: a swarmprobe probe's echo would be dropped (" + echo.map(\.detail).joined(separator: "; ")
                + "), so `swarmprobe check` reports return-path here although swarm's own traffic passes"
        }
        return path(.open, nil, detail, layers)
    }

    static func acl(
        _ host: Resolved, egress: Bool, _ traffic: Traffic, remote: Resolved, layer: AWSLayerDecision.Layer,
        decisive: Bool = true, purpose: String = ""
    ) -> AWSLayerDecision {
        guard let a = host.acl else {
            return AWSLayerDecision(
                layer: layer, outcome: .unknown, decisive: decisive,
                detail:
                    "no network ACL in the describe-network-acls data is associated with \(host.subnetText), and its VPC's default ACL is not there either"
            )
        }
        return aclDecision(
            a, subnetText: host.subnetText, egress: egress, traffic: traffic, remote: remote.address,
            remoteName: remote.name, layer: layer, decisive: decisive, purpose: purpose)
    }

    /// `sg-1 outbound all traffic to 0.0.0.0/0`, `acl-1 inbound rule 100`.
    static func short(_ l: AWSLayerDecision) -> String {
        let dir: String
        switch l.layer {
        case .sourceSecurityGroup, .sourceNACL, .returnTargetNACL: dir = "outbound"
        case .targetSecurityGroup, .targetNACL, .returnSourceNACL: dir = "inbound"
        }
        let res = l.resource ?? "?"
        let text = l.layer.isNACL ? "\(res) \(dir) rule \(l.rule ?? "?")" : "\(res) \(dir) \(l.rule ?? "?")"
        return l.layer.isReturn ? "answers: \(text)" : text
    }

    // MARK: - Remediation

    enum Fix: Hashable {
        /// A security group rule: `egress` false for an ingress rule. `peerGroup` or `peerCIDR`.
        case securityGroup(group: String, egress: Bool, proto: TransportProtocol, port: Int?, peerGroup: String?, peerCIDR: CIDR?)
        /// A network ACL allow entry, numbered below `below` (the deny that matched), or anywhere when nil.
        case acl(acl: String, egress: Bool, proto: Int, ports: PortSpan?, cidr: CIDR, below: Int?)
        /// An ingress rule for a published port, from the client group or CIDR (always `--ip-permissions`).
        case publishedIngress(group: String, proto: TransportProtocol, port: Int, peerGroup: String?, peerCIDR: CIDR?)
    }

    static func fixesFor(_ p: AWSPathDecision, _ s: Resolved, _ t: Resolved, cluster: String?) -> [Fix] {
        var out: [Fix] = []
        func sgFix(host: Resolved, peer: Resolved, egress: Bool) -> Fix? {
            let group = cluster.flatMap { host.groups.contains($0) ? $0 : nil } ?? host.groups.first
            guard let group else { return nil }
            let peerGroup = cluster.flatMap { peer.groups.contains($0) ? $0 : nil }
            return .securityGroup(
                group: group, egress: egress, proto: p.kindID.proto, port: p.kindID.port,
                peerGroup: peerGroup, peerCIDR: peerGroup == nil ? CIDR(host: peer.address) : nil)
        }
        let order: [AWSLayerDecision.Layer] = [
            .targetSecurityGroup, .sourceSecurityGroup, .targetNACL, .sourceNACL, .returnTargetNACL, .returnSourceNACL,
        ]
        for layer in order {
            guard let l = p.blockers.first(where: { $0.layer == layer }) else { continue }
            switch layer {
            case .targetSecurityGroup:
                if let f = sgFix(host: t, peer: s, egress: false) { out.append(f) }
            case .sourceSecurityGroup:
                if let f = sgFix(host: s, peer: t, egress: true) { out.append(f) }
            case .targetNACL, .sourceNACL, .returnTargetNACL, .returnSourceNACL:
                guard let aclID = l.resource else { continue }
                let onSource = layer == .sourceNACL || layer == .returnSourceNACL
                let egress = layer == .sourceNACL || layer == .returnTargetNACL
                let remote = onSource ? t : s
                let host = onSource ? s : t
                guard var a = host.acl else { continue }
                a.networkAclId = aclID
                let traffic = layer.isReturn ? Traffic(proto: IPProto.tcp, ports: ephemeralPorts) : Traffic(kind: p.kindID)
                out += aclFixes(a, egress: egress, traffic: traffic, remote: CIDR(host: remote.address))
            }
        }
        return out
    }

    /// The allow entries that let `traffic` through `acl` for every address of `remote`.
    static func aclFixes(_ a: NetworkAcl, egress: Bool, traffic: Traffic, remote: CIDR) -> [Fix] {
        var out: [Fix] = []
        let spans = evaluateACL(a, egress: egress, traffic: traffic, remote: remote).filter { !$0.allow }
        // Ports no entry matched: one entry over all of them (overlapping allowed ports is harmless).
        let implicit = spans.filter { $0.ruleNumber == nil || $0.ruleNumber == 32767 }
        if let first = implicit.first {
            let ports = first.ports.map { PortSpan($0.from, implicit.last!.ports!.to) }
            out.append(.acl(acl: a.networkAclId, egress: egress, proto: traffic.proto, ports: ports, cidr: remote, below: nil))
        }
        // Ports an explicit deny matched: an allow numbered below that deny, for exactly those ports.
        for span in spans where !implicit.contains(span) {
            out.append(.acl(acl: a.networkAclId, egress: egress, proto: traffic.proto, ports: span.ports, cidr: remote, below: span.ruleNumber))
        }
        return out
    }

    /// Commands for every path's fixes: each fix once, network ACL entries numbered so they match before the deny.
    static func render(_ fixes: [[Fix]], snapshot: AWSSnapshot, style: AWSCommandStyle) -> (perPath: [[String]], all: [String]) {
        var used: [String: Set<Int>] = [:]
        for a in snapshot.networkAcls {
            for e in a.entries { used["\(a.networkAclId)/\(e.egress)", default: []].insert(e.ruleNumber) }
        }
        var text: [Fix: String] = [:]
        var all: [String] = []
        var perPath: [[String]] = []
        for pathFixes in fixes {
            var mine: [String] = []
            for f in pathFixes {
                if text[f] == nil {
                    let command: String
                    switch f {
                    case let .securityGroup(group, egress, proto, port, peerGroup, peerCIDR):
                        command =
                            sgCommand(group: group, egress: egress, proto: proto, port: port, peerGroup: peerGroup, peerCIDR: peerCIDR) + style.suffix
                    case let .acl(acl, egress, proto, ports, cidr, below):
                        let key = "\(acl)/\(egress)"
                        let number = freeRuleNumber(used[key, default: []], below: below)
                        if let number { used[key, default: []].insert(number) }
                        command = aclCommand(acl: acl, egress: egress, proto: proto, ports: ports, cidr: cidr, number: number) + style.suffix
                    case let .publishedIngress(group, proto, port, peerGroup, peerCIDR):
                        command =
                            sgCommand(
                                group: group, egress: false, proto: proto, port: port, peerGroup: peerGroup, peerCIDR: peerCIDR,
                                shorthand: false) + style.suffix
                    }
                    text[f] = command
                    if !all.contains(command) { all.append(command) }
                }
                if !mine.contains(text[f]!) { mine.append(text[f]!) }
            }
            perPath.append(mine)
        }
        return (perPath, all)
    }

    /// Below an explicit deny: the highest free number under it. Otherwise the first free multiple of 10 from 100.
    static func freeRuleNumber(_ used: Set<Int>, below: Int?) -> Int? {
        if let below {
            return stride(from: below - 1, through: 1, by: -1).first { !used.contains($0) }
        }
        return stride(from: 100, through: 32760, by: 10).first { !used.contains($0) }
            ?? (1..<32767).first { !used.contains($0) }
    }

    /// `shorthand`: an IPv4 ingress rule for one port as `--protocol --port --cidr`; else `--ip-permissions`.
    static func sgCommand(
        group: String, egress: Bool, proto: TransportProtocol, port: Int?, peerGroup: String?, peerCIDR: CIDR?, shorthand: Bool = true
    ) -> String {
        let verb = egress ? "authorize-security-group-egress" : "authorize-security-group-ingress"
        let head = "aws ec2 \(verb) --group-id \(group)"
        if shorthand, !egress, let cidr = peerCIDR, cidr.address.isIPv4, let port, proto != .esp {
            return "\(head) --protocol \(proto.rawValue) --port \(port) --cidr \(cidr)"
        }
        let protoPorts: String
        if let port, proto != .esp {
            protoPorts = "IpProtocol=\(proto.rawValue),FromPort=\(port),ToPort=\(port)"
        } else {
            protoPorts = "IpProtocol=50,FromPort=-1,ToPort=-1"  // EC2 wants -1/-1 for a protocol without ports
        }
        let peer: String
        if let peerGroup {
            peer = "UserIdGroupPairs=[{GroupId=\(peerGroup)}]"
        } else if let cidr = peerCIDR, cidr.address.isIPv4 {
            peer = "IpRanges=[{CidrIp=\(cidr)}]"
        } else {
            peer = "Ipv6Ranges=[{CidrIpv6=\(peerCIDR?.description ?? "::/128")}]"
        }
        return "\(head) --ip-permissions '\(protoPorts),\(peer)'"
    }

    static func aclCommand(acl: String, egress: Bool, proto: Int, ports: PortSpan?, cidr: CIDR, number: Int?) -> String {
        let protoText = proto == IPProto.tcp ? "tcp" : proto == IPProto.udp ? "udp" : String(proto)
        var c = "aws ec2 create-network-acl-entry --network-acl-id \(acl) \(egress ? "--egress" : "--ingress")"
        c += " --rule-number \(number.map(String.init) ?? "FREE-RULE-NUMBER") --protocol \(protoText)"
        if let ports { c += " --port-range From=\(ports.from),To=\(ports.to)" }
        c += cidr.address.isIPv4 ? " --cidr-block \(cidr)" : " --ipv6-cidr-block \(cidr)"
        c += " --rule-action allow"
        return c
    }
}
