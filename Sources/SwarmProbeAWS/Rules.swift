import SwarmProbeCore

/// IP protocol numbers and how rules and reports name them.
enum IPProto {
    static let all = -1
    static let tcp = 6
    static let udp = 17
    static let esp = 50

    /// `-1`/`all` -> -1, `tcp` -> 6, `udp` -> 17, `icmp` -> 1, `icmpv6` -> 58, `esp` -> 50, or the number itself.
    static func number(_ text: String) -> Int? {
        switch text.lowercased() {
        case "-1", "all": return all
        case "tcp": return tcp
        case "udp": return udp
        case "icmp": return 1
        case "icmpv6": return 58
        case "esp": return esp
        default: return Int(text)
        }
    }

    static func number(_ p: TransportProtocol) -> Int {
        switch p {
        case .tcp: return tcp
        case .udp: return udp
        case .esp: return esp
        }
    }

    /// `TCP`, `UDP`, `ESP`, `all traffic`, `IP protocol 47`.
    static func name(_ n: Int) -> String {
        switch n {
        case all: return "all traffic"
        case tcp: return "TCP"
        case udp: return "UDP"
        case esp: return "ESP"
        case 1: return "ICMP"
        case 58: return "ICMPv6"
        default: return "IP protocol \(n)"
        }
    }

    static func hasPorts(_ n: Int) -> Bool { n == tcp || n == udp }
}

/// One packet as a rule sees it: protocol and destination ports (one port, a range, or none for ESP).
struct Traffic {
    var proto: Int
    var ports: PortSpan?

    init(kind: KindID) {
        proto = IPProto.number(kind.proto)
        ports = kind.port.map { PortSpan($0, $0) }
    }

    init(proto: Int, ports: PortSpan?) {
        self.proto = proto
        self.ports = ports
    }

    /// `UDP 4789`, `TCP 1024-65535`, `ESP (IP protocol 50)`.
    var text: String {
        if let ports { return "\(IPProto.name(proto)) \(ports)" }
        return proto == IPProto.esp ? "ESP (IP protocol 50)" : IPProto.name(proto)
    }
}

// MARK: - Security groups

/// Whether a security group rule's peer (CIDRs, groups, prefix lists) covers an address.
enum PeerMatch {
    case yes(String)
    case unknown(String)
    case no
}

extension IpPermission {
    var protocolNumber: Int? { IPProto.number(ipProtocol) }

    /// Protocol and ports in words: `UDP 4789`, `TCP all ports`, `all traffic`, `ESP`.
    var trafficText: String {
        guard let p = protocolNumber else { return "protocol \(ipProtocol)" }
        guard IPProto.hasPorts(p) else { return IPProto.name(p) }
        guard let from = fromPort, from != -1 else { return "\(IPProto.name(p)) all ports" }
        let to = toPort ?? from
        return "\(IPProto.name(p)) \(from == to ? "\(from)" : "\(from)-\(to)")"
    }

    var peersText: String {
        let all = groupPairs + ipRanges + ipv6Ranges + prefixListIds
        return all.isEmpty ? "nowhere" : all.joined(separator: ", ")
    }

    func matchesProtocol(_ t: Traffic) -> Bool {
        guard let p = protocolNumber else { return false }
        return p == IPProto.all || p == t.proto
    }

    func matchesPorts(_ t: Traffic) -> Bool {
        guard let p = protocolNumber, p != IPProto.all, IPProto.hasPorts(p), let want = t.ports else { return true }
        guard let from = fromPort, from != -1 else { return true }
        let to = toPort ?? from
        return from <= want.from && want.to <= to
    }

    func coversPortsIgnoringProtocol(_ t: Traffic) -> Bool {
        guard let p = protocolNumber, IPProto.hasPorts(p) else { return false }
        guard let from = fromPort, from != -1 else { return true }
        let to = toPort ?? from
        guard let want = t.ports else { return from <= 1 && to >= 65535 }
        return from <= want.from && want.to <= to
    }

    /// Whether the rule's peers cover `address` (a peer whose interface has `groups`).
    func matchesPeer(_ address: IPAddress, groups: [String], prefixLists: [String: [String]]) -> PeerMatch {
        if let g = groupPairs.first(where: { groups.contains($0) }) { return .yes(g) }
        for c in (address.isIPv4 ? ipRanges : ipv6Ranges) {
            if let cidr = CIDR(c), cidr.contains(address) { return .yes(c) }
        }
        var unknown: String?
        for id in prefixListIds {
            guard let entries = prefixLists[id] else {
                unknown = id
                continue
            }
            if entries.contains(where: { CIDR($0)?.contains(address) == true }) { return .yes(id) }
        }
        if let unknown { return .unknown(unknown) }
        return .no
    }
}

/// Security groups allow only; a packet passes when any rule of any of the interface's groups allows it.
func evaluateSecurityGroups(
    _ groupIds: [String], egress: Bool, traffic: Traffic, peer: IPAddress, peerName: String,
    peerGroups: [String], snapshot: AWSSnapshot, layer: AWSLayerDecision.Layer
) -> AWSLayerDecision {
    let direction = egress ? "outbound" : "inbound"
    let fromTo = egress ? "to" : "from"
    let peerText = "\(peer) (\(peerName))"
    var missing: [String] = []
    var unknownLists: [String] = []
    var otherProtocol: [String] = []
    var otherPeer: [String] = []
    var groupLabels: [String] = []
    if groupIds.isEmpty {
        return AWSLayerDecision(
            layer: layer, outcome: .unknown,
            detail: "the network interface lists no security group, so its \(direction) rules are unknown")
    }
    for id in groupIds {
        guard let g = snapshot.securityGroups.first(where: { $0.groupId == id }) else {
            missing.append(id)
            groupLabels.append(id)
            continue
        }
        groupLabels.append(g.label)
        for p in egress ? g.ipPermissionsEgress : g.ipPermissions {
            let peerMatch = p.matchesPeer(peer, groups: peerGroups, prefixLists: snapshot.prefixLists)
            let proto = p.matchesProtocol(traffic), ports = p.matchesPorts(traffic)
            switch peerMatch {
            case let .yes(via):
                if proto && ports {
                    let rule = "\(p.trafficText) \(fromTo) \(via)"
                    return AWSLayerDecision(
                        layer: layer, outcome: .allow, resource: g.groupId, rule: rule,
                        detail: "\(g.label) allows \(direction) \(rule)")
                }
                // A near miss worth naming: the same port (or, for ESP, every port) under another protocol.
                if !proto && p.coversPortsIgnoringProtocol(traffic) {
                    otherProtocol.append("\(g.groupId) allows \(p.trafficText) \(fromTo) \(via)")
                }
            case let .unknown(list):
                if proto && ports {
                    unknownLists.append("\(g.groupId) allows \(p.trafficText) \(fromTo) prefix list \(list), whose entries are unknown")
                }
            case .no:
                if proto && ports { otherPeer.append("\(g.groupId) allows \(p.trafficText) \(fromTo) \(p.peersText) only") }
            }
        }
    }
    if !missing.isEmpty || !unknownLists.isEmpty {
        var why: [String] = []
        if !missing.isEmpty { why.append("security group \(missing.joined(separator: ", ")) is not in the describe-security-groups data") }
        why += unknownLists
        return AWSLayerDecision(
            layer: layer, outcome: .unknown, resource: (missing.first ?? nil),
            detail: "cannot tell whether \(direction) \(traffic.text) \(fromTo) \(peerText) is allowed: " + why.joined(separator: "; "))
    }
    var detail = "no \(direction) rule of \(groupLabels.joined(separator: ", ")) allows \(traffic.text) \(fromTo) \(peerText)"
    let near = otherProtocol + otherPeer
    if !near.isEmpty { detail += "; " + near.joined(separator: "; ") }
    if let hint = protocolHint(traffic, near: otherProtocol) { detail += " (\(hint))" }
    return AWSLayerDecision(layer: layer, outcome: .deny, resource: groupIds.first, rule: nil, detail: detail)
}

/// The known ways a mesh breaks on exactly this, named after the issues users filed.
private func protocolHint(_ t: Traffic, near: [String]) -> String? {
    if t.proto == IPProto.esp {
        return "ESP is IP protocol 50, not TCP or UDP: it needs a rule of its own (moby#27425)"
    }
    guard t.proto == IPProto.udp, !near.isEmpty else { return nil }
    if t.ports == PortSpan(7946, 7946) { return "gossip needs UDP 7946 as well as TCP 7946 (docker/for-aws#166)" }
    if t.ports == PortSpan(4789, 4789) { return "VXLAN is UDP: a TCP rule for 4789 does not cover it (moby#25836)" }
    return "a TCP rule for the port does not cover UDP"
}

// MARK: - Network ACLs

/// A span of ports and the network ACL entry that decides it (nil rule number: no entry, the final `*` deny).
struct ACLSpan: Equatable {
    var ports: PortSpan?
    var allow: Bool
    var ruleNumber: Int?

    var ruleText: String { ruleNumber.map { $0 == 32767 ? "*" : String($0) } ?? "*" }
}

extension NetworkAclEntry {
    /// The ports the entry covers for `traffic`, or nil when it does not match its protocol or `remote`.
    /// `remote` is one address (a /32) or a range of clients: an allow must hold every address of it, while a
    /// deny that holds any of them matches (some of the clients are denied), so a verdict of allow is for all.
    func covers(_ traffic: Traffic, remote: CIDR) -> PortSpan?? {
        guard let p = IPProto.number(proto) else { return nil }
        guard p == IPProto.all || p == traffic.proto else { return nil }
        let block = remote.address.isIPv4 ? cidrBlock : ipv6CidrBlock
        guard let block, let cidr = CIDR(block), isAllow ? cidr.holds(remote) : cidr.overlaps(remote) else { return nil }
        if p != IPProto.all, IPProto.hasPorts(p), let r = portRange, let from = r.from, let to = r.to {
            return .some(PortSpan(from, to))
        }
        return .some(nil)  // every port
    }

    var isAllow: Bool { ruleAction.lowercased() == "allow" }
}

/// Rule-number order, first match wins, per port: the result partitions `traffic.ports` (or is one span for ESP).
func evaluateACL(_ acl: NetworkAcl, egress: Bool, traffic: Traffic, remote: IPAddress) -> [ACLSpan] {
    evaluateACL(acl, egress: egress, traffic: traffic, remote: CIDR(host: remote))
}

/// The same for a range of remote addresses (a published port's clients).
func evaluateACL(_ acl: NetworkAcl, egress: Bool, traffic: Traffic, remote: CIDR) -> [ACLSpan] {
    let entries = acl.entries.filter { $0.egress == egress }.sorted { $0.ruleNumber < $1.ruleNumber }
    guard let wanted = traffic.ports else {
        for e in entries where e.covers(traffic, remote: remote) != nil {
            return [ACLSpan(ports: nil, allow: e.isAllow, ruleNumber: e.ruleNumber)]
        }
        return [ACLSpan(ports: nil, allow: false, ruleNumber: nil)]
    }
    var undecided = [wanted]
    var decided: [ACLSpan] = []
    for e in entries {
        guard !undecided.isEmpty else { break }
        guard let covered = e.covers(traffic, remote: remote) else { continue }
        let range = covered ?? PortSpan(0, 65535)
        var rest: [PortSpan] = []
        for u in undecided {
            let lo = max(u.from, range.from), hi = min(u.to, range.to)
            guard lo <= hi else {
                rest.append(u)
                continue
            }
            decided.append(ACLSpan(ports: PortSpan(lo, hi), allow: e.isAllow, ruleNumber: e.ruleNumber))
            if u.from < lo { rest.append(PortSpan(u.from, lo - 1)) }
            if hi < u.to { rest.append(PortSpan(hi + 1, u.to)) }
        }
        undecided = rest
    }
    decided += undecided.map { ACLSpan(ports: $0, allow: false, ruleNumber: nil) }
    // Sorted by port; neighbours decided by the same rule are merged.
    var merged: [ACLSpan] = []
    for s in decided.sorted(by: { $0.ports! < $1.ports! }) {
        if var last = merged.last, last.allow == s.allow, last.ruleNumber == s.ruleNumber, last.ports!.to + 1 == s.ports!.from {
            last.ports = PortSpan(last.ports!.from, s.ports!.to)
            merged[merged.count - 1] = last
        } else {
            merged.append(s)
        }
    }
    return merged
}

/// One layer's decision from the spans of one network ACL.
func aclDecision(
    _ acl: NetworkAcl, subnetText: String, egress: Bool, traffic: Traffic, remote: IPAddress, remoteName: String,
    layer: AWSLayerDecision.Layer, decisive: Bool = true, purpose: String = ""
) -> AWSLayerDecision {
    aclDecision(
        acl, subnetText: subnetText, egress: egress, traffic: traffic, remote: CIDR(host: remote),
        remoteText: "\(remote) (\(remoteName))", layer: layer, decisive: decisive, purpose: purpose)
}

/// The same for a range of remote addresses, named by `remoteText` (`10.0.3.0/24 (the subnet of sg-lb's ...)`).
func aclDecision(
    _ acl: NetworkAcl, subnetText: String, egress: Bool, traffic: Traffic, remote: CIDR, remoteText: String,
    layer: AWSLayerDecision.Layer, decisive: Bool = true, purpose: String = ""
) -> AWSLayerDecision {
    let spans = evaluateACL(acl, egress: egress, traffic: traffic, remote: remote)
    let direction = egress ? "outbound" : "inbound"
    let fromTo = egress ? "to" : "from"
    let what = "\(traffic.text) \(fromTo) \(remoteText)\(purpose)"
    let aclText = "\(acl.networkAclId) (\(subnetText))"
    let denied = spans.filter { !$0.allow }
    if denied.isEmpty {
        let rules = Array(Set(spans.map(\.ruleText))).sorted()
        let r = rules.joined(separator: ", ")
        return AWSLayerDecision(
            layer: layer, outcome: .allow, resource: acl.networkAclId, rule: r, decisive: decisive,
            detail: "\(aclText) \(direction) rule \(r) allows \(what)")
    }
    let deniedPorts = denied.compactMap(\.ports)
    let firstDeny = denied[0]
    let rule = firstDeny.ruleText
    var detail: String
    if traffic.ports == nil || spans.count == 1 {
        detail =
            firstDeny.ruleNumber == nil || firstDeny.ruleNumber == 32767
            ? "\(aclText) has no \(direction) rule allowing \(what): the final rule * denies it"
            : "\(aclText) \(direction) rule \(rule) denies \(what)"
    } else {
        var byRule: [(rule: String, ports: [String])] = []
        for s in denied {
            if let i = byRule.firstIndex(where: { $0.rule == s.ruleText }) {
                byRule[i].ports.append(s.ports!.description)
            } else {
                byRule.append((s.ruleText, [s.ports!.description]))
            }
        }
        let parts = byRule.map { "\($0.ports.joined(separator: ", ")) by rule \($0.rule)" }.joined(separator: "; ")
        detail =
            "\(aclText) \(direction) \(fromTo) \(remoteText) denies \(IPProto.name(traffic.proto)) ports \(parts) "
            + "of \(traffic.ports!)\(purpose)"
        let allowed = spans.filter(\.allow)
        if !allowed.isEmpty {
            detail += " (allowed: " + allowed.map { "\($0.ports!) by rule \($0.ruleText)" }.joined(separator: ", ") + ")"
        }
    }
    return AWSLayerDecision(
        layer: layer, outcome: .deny, resource: acl.networkAclId, rule: rule,
        deniedPorts: traffic.ports == nil ? [] : deniedPorts, decisive: decisive, detail: detail)
}

// MARK: - Published ports: the clients as rules see them

extension CIDR {
    /// Whether every address of `other` is inside this prefix (same family).
    func holds(_ other: CIDR) -> Bool {
        prefixLength <= other.prefixLength && contains(other.address)
    }

    /// The prefix with its host bits cleared (`10.0.3.5/24` -> `10.0.3.0/24`).
    var network: CIDR {
        var bytes = address.bytes16
        let offset = address.isIPv4 ? 96 : 0
        for bit in (offset + prefixLength)..<128 { bytes[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
        var c = self
        c.address = IPAddress(bytes16: bytes) ?? address
        return c
    }
}

/// Who reaches a published port, as a node's security group rules see them: a group (a load balancer's), whose
/// addresses are `cidrs` as far as they are known, or addresses alone.
struct ClientPeer {
    var group: String?
    var cidrs: [CIDR]
    /// `the client group sg-1 (lb)`, `the clients 203.0.113.0/24`.
    var text: String
}

extension IpPermission {
    /// Whether the rule's peers admit every client: the clients' group, or CIDRs or a prefix list holding all of
    /// their addresses.
    func matchesClients(_ c: ClientPeer, prefixLists: [String: [String]]) -> PeerMatch {
        if let g = c.group, groupPairs.contains(g) { return .yes(g) }
        guard !c.cidrs.isEmpty else { return .no }
        let ranges = (ipRanges + ipv6Ranges).compactMap { r in CIDR(r).map { (r, $0) } }
        func held(_ prefixes: [CIDR]) -> Bool { c.cidrs.allSatisfy { client in prefixes.contains { $0.holds(client) } } }
        if held(ranges.map(\.1)) {
            return .yes(ranges.first { r in c.cidrs.contains { r.1.holds($0) } }!.0)
        }
        var unknown: String?
        for id in prefixListIds {
            guard let entries = prefixLists[id] else {
                unknown = id
                continue
            }
            if held(entries.compactMap(CIDR.init)) { return .yes(id) }
        }
        if let unknown { return .unknown(unknown) }
        return .no
    }
}

/// Why a node does not admit a published port, as a stable code (`causes` of a published-port path).
public enum AWSPublishedCause: String, Codable, Sendable, CaseIterable {
    /// No inbound rule of the node's security groups opens the port to anyone.
    case portNotInSecurityGroups = "port-not-in-security-groups"
    /// The port is open in the node's security groups, but only from other groups or CIDRs than the clients.
    case allowedFromOtherSource = "allowed-from-other-source"
    /// The network ACL of the node's subnet denies the port inbound from the clients.
    case naclInboundDenied = "nacl-inbound-denied"
    /// The network ACL of the node's subnet lets the requests in but not the answers out (stateless).
    case naclReturnDenied = "nacl-return-denied"
    /// The clients' own security group has no outbound rule to the node on the port.
    case clientEgressDenied = "client-egress-denied"
}

/// A node's security groups, inbound, for a published port from `clients`: which rule admits them, or why none does.
func evaluatePublishedSecurityGroups(
    _ groupIds: [String], node: String, traffic: Traffic, clients: ClientPeer, snapshot: AWSSnapshot
) -> (AWSLayerDecision, AWSPublishedCause?) {
    let layer = AWSLayerDecision.Layer.targetSecurityGroup
    if groupIds.isEmpty {
        return (
            AWSLayerDecision(
                layer: layer, outcome: .unknown,
                detail: "\(node)'s network interface lists no security group, so its inbound rules are unknown"), nil
        )
    }
    func label(_ id: String) -> String { snapshot.securityGroups.first { $0.groupId == id }?.label ?? id }
    var missing: [String] = []
    var unknownLists: [String] = []
    var otherSources: [(group: String, peers: [String])] = []
    var nearMiss: [String] = []
    var labels: [String] = []
    for id in groupIds {
        guard let g = snapshot.securityGroups.first(where: { $0.groupId == id }) else {
            missing.append(id)
            labels.append(id)
            continue
        }
        labels.append(g.label)
        for p in g.ipPermissions {
            let match = p.matchesClients(clients, prefixLists: snapshot.prefixLists)
            let proto = p.matchesProtocol(traffic), ports = p.matchesPorts(traffic)
            switch match {
            case let .yes(via):
                if proto && ports {
                    let rule = "\(p.trafficText) from \(via)"
                    return (
                        AWSLayerDecision(
                            layer: layer, outcome: .allow, resource: g.groupId, rule: rule, detail: "\(g.label) allows inbound \(rule)"), nil
                    )
                }
                // The clients are let in, on another port or protocol: worth naming (a target group on the wrong port).
                nearMiss.append("\(g.groupId) lets them in on \(p.trafficText) only")
            case let .unknown(list):
                if proto && ports { unknownLists.append("\(g.groupId) allows \(p.trafficText) from prefix list \(list), whose entries are unknown") }
            case .no:
                guard proto && ports else { continue }
                var peers = p.groupPairs.map(label)
                for r in p.ipRanges + p.ipv6Ranges {
                    let part = CIDR(r).flatMap { cidr in clients.cidrs.first { cidr.overlaps($0) } }
                    peers.append(part.map { "\(r) (only part of \($0))" } ?? r)
                }
                peers += p.prefixListIds
                if let i = otherSources.firstIndex(where: { $0.group == g.label }) {
                    let known = otherSources[i].peers
                    otherSources[i].peers += peers.filter { !known.contains($0) }
                } else {
                    otherSources.append((g.label, peers.isEmpty ? ["nowhere"] : peers))
                }
            }
        }
    }
    if !missing.isEmpty || !unknownLists.isEmpty {
        var why: [String] = []
        if !missing.isEmpty { why.append("security group \(missing.joined(separator: ", ")) is not in the describe-security-groups data") }
        why += unknownLists
        return (
            AWSLayerDecision(
                layer: layer, outcome: .unknown, resource: missing.first,
                detail: "cannot tell whether \(node)'s security groups admit \(traffic.text) from \(clients.text): " + why.joined(separator: "; ")),
            nil
        )
    }
    let cause: AWSPublishedCause
    var detail: String
    if otherSources.isEmpty {
        cause = .portNotInSecurityGroups
        detail =
            "\(traffic.text) is not open at all in \(node)'s security groups \(labels.joined(separator: ", ")): "
            + "no inbound rule allows it from any source, so \(clients.text) cannot reach the published port"
    } else {
        cause = .allowedFromOtherSource
        let allowed = otherSources.map { "\($0.group) allows \(traffic.text) only from \($0.peers.joined(separator: ", "))" }
        let not = clients.group != nil ? "is not one of them" : "are not within them"
        detail = "\(allowed.joined(separator: "; ")): \(clients.text) \(not)"
    }
    if !nearMiss.isEmpty { detail += " (\(nearMiss.joined(separator: "; ")))" }
    return (AWSLayerDecision(layer: layer, outcome: .deny, resource: groupIds.first, detail: detail), cause)
}
