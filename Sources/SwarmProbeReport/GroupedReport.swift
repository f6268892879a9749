import SwarmProbeCore

/// Reports of many nodes: instead of a node-by-node matrix per kind (a million cells at 1,000 nodes),
/// a node-group-by-node-group matrix, and the findings grouped by cause and by node group.
public enum GroupedReport {
    /// Above this many nodes the terminal and markdown reports group; up to it they show every pair.
    public static let nodeLimit = 32
    /// Node names listed in one line before the rest are only counted.
    static let nameLimit = 8

    static func header(_ head: Results, _ g: CheckGroups) -> String {
        let interrupted = head.complete ? "" : ", interrupted"
        return "swarmprobe \(head.toolVersion): profile \(head.profile), \(plural(head.nodes.count, "node")) in "
            + "\(plural(g.groups.count, "group")) (by \(g.groups.basis.rawValue)), \(thousands(g.counter.checks)) checks in "
            + "\(formatDuration(ms: head.durationMs)) (probe timeout \(timeoutText(head)))\(interrupted)"
    }

    static func verdictLine(_ s: Summary, required: Int) -> String {
        switch s.status {
        case "pass": return "PASS: all \(thousands(required)) required paths open"
        case "incomplete":
            return IncompleteHeadline.line(s, count: thousands) + NodeFindingLines.verdictPart(s)
        default:
            let paths =
                s.requiredNotOpen == 0
                ? "all \(thousands(required)) required paths open"
                : "\(thousands(s.requiredNotOpen)) of \(thousands(required)) required paths not open"
            return "FAIL: " + paths + NodeFindingLines.verdictPart(s)
        }
    }

    static func countsLine(_ s: Summary) -> String {
        var parts = ["\(thousands(s.open)) open"]
        if s.blocked > 0 { parts.append("\(thousands(s.blocked)) blocked") }
        if s.closed > 0 { parts.append("\(thousands(s.closed)) closed") }
        if s.agentDown > 0 { parts.append("\(thousands(s.agentDown)) agent-down") }
        if s.inconclusive > 0 {
            parts.append("\(thousands(s.inconclusive)) inconclusive" + (s.undecided > 0 ? " (\(thousands(s.undecided)) of them undecided)" : ""))
        }
        return "\(thousands(s.checks)) checks: " + parts.joined(separator: ", ")
    }

    /// `n-0001, n-0002 and 248 more`.
    static func nameList(_ names: [String]) -> String {
        if names.count <= nameLimit { return names.joined(separator: ", ") }
        return names.prefix(nameLimit).joined(separator: ", ") + " and \(names.count - nameLimit) more"
    }

    /// Group facts: `250 nodes (2 managers), 10.0.1.0/24`.
    static func groupFacts(_ g: CheckGroups, _ i: Int) -> (nodes: Int, managers: Int, up: Int, subnets: [String]) {
        let members = g.groups.members[i].map { g.nodes[$0] }
        var subnets: [String] = []
        for n in members {
            let s = NodeGroups.subnet(n.address)
            if !subnets.contains(s) { subnets.append(s) }
        }
        return (members.count, members.count { $0.role == .manager }, members.count { $0.agent.isUp }, subnets)
    }

    static func subnetText(_ subnets: [String]) -> String {
        subnets.count <= 3 ? subnets.joined(separator: ", ") : subnets.prefix(3).joined(separator: ", ") + " and \(subnets.count - 3) more"
    }

    /// A group x group cell: `ok` when every check is open, else what is not, by symbol (`NET 62500`),
    /// checks swarm does not need in parentheses; `.` when nothing was checked.
    static func cellText(_ counts: ArraySlice<Int>) -> String {
        let c = Array(counts)
        if c.allSatisfy({ $0 == 0 }) { return "." }
        // `CheckGroups.symbolIndex` order: the sender's firewall came last, so the others kept their slots.
        let symbols = ["ok", "NET", "FW", "RET", "??", "cl", "dn", "?", "OUT"]
        let count = min(symbols.count, c.count / 2)
        var parts: [String] = []
        for s in 1..<count {
            if c[s * 2 + 1] > 0 { parts.append("\(symbols[s]) \(c[s * 2 + 1])") }
        }
        for s in 1..<count {
            if c[s * 2] > 0 { parts.append("(\(symbols[s]) \(c[s * 2]))") }
        }
        return parts.isEmpty ? "ok" : parts.joined(separator: " ")
    }

    static func matrixRows(_ g: CheckGroups, kind: Int) -> (header: [String], rows: [[String]]) {
        let idx = g.groupIndexes
        let header = ["from \\ to"] + idx.map { g.groupName($0) }
        let rows = idx.map { f in [g.groupName(f)] + idx.map { t in cellText(g.cell(kind: kind, from: f, to: t)) } }
        return (header, rows)
    }

    /// `4789/udp blocked in the network: group az-a -> group az-b, 250 x 250 paths (62,500 checks); sample: n-0001 -> n-0251`
    static func pairLine(_ c: CauseGroup, _ p: GroupPair, _ g: CheckGroups) -> String {
        let what = "\(c.kind) \(describe(c.verdict, c.location))"
        return "\(what): \(g.groupLabel(p.fromGroup)) -> \(g.groupLabel(p.toGroup)), \(p.senderCount) x \(p.targetCount) paths "
            + "(\(thousands(p.checks)) \(p.checks == 1 ? "check" : "checks")); sample: \(p.sample.from) -> \(p.sample.to)"
    }

    /// Lines for a cause: one per group pair, or one for the whole cause when it spans many pairs.
    static func pairLines(_ c: CauseGroup, _ g: CheckGroups, limit: Int = 6) -> [String] {
        guard c.pairs.count > limit, let first = c.pairs.first else { return c.pairs.map { pairLine(c, $0, g) } }
        return [
            "\(c.kind) \(describe(c.verdict, c.location)): \(c.pairs.count) group pairs, \(c.senders.count) senders -> "
                + "\(c.targets.count) targets (\(thousands(c.checks)) checks); sample: \(first.sample.from) -> \(first.sample.to)"
        ]
    }

    static func title(_ c: CauseGroup) -> String {
        let text: String
        switch c.verdict {
        case .blocked: text = describe(.blocked, c.location)
        case .closed: text = "closed"
        case .inconclusive: text = "inconclusive"
        case .agentDown: text = "agent down"
        case .open: text = "open"
        }
        return text.prefix(1).uppercased() + text.dropFirst() + ": \(c.kind) (\(c.kindName)), \(thousands(c.checks)) "
            + (c.checks == 1 ? "check" : "checks")
    }

    /// Who the cause touches: few targets or senders are named, many are counted.
    static func scope(_ c: CauseGroup, _ g: CheckGroups) -> String {
        "\(c.senders.count) \(c.senders.count == 1 ? "sender" : "senders") -> \(c.targets.count) \(c.targets.count == 1 ? "target" : "targets")"
            + (c.targets.count <= nameLimit ? ": " + g.names(c.targets).joined(separator: ", ") : "")
    }

    /// What was seen (the sample's detail) and what fixes it, for a whole cause.
    static func explain(_ c: CauseGroup, _ g: CheckGroups) -> Explanation {
        let rule = ruleName(c.kind)
        func side(_ set: NodeSet, _ groupsOf: [Int]) -> String {
            if set.count <= nameLimit {
                return set.members.map { "\(g.nodes[$0].name) (\(g.nodes[$0].address))" }.joined(separator: ", ")
            }
            let labels = groupsOf.map { i -> String in
                guard i < g.groups.count else { return g.groupLabel(i) }
                return "\(g.groupLabel(i)) (\(subnetText(groupFacts(g, i).subnets)))"
            }
            return "\(set.count) nodes in " + labels.joined(separator: ", ")
        }
        var fromGroups: [Int] = [], toGroups: [Int] = []
        for p in c.pairs {
            if !fromGroups.contains(p.fromGroup) { fromGroups.append(p.fromGroup) }
            if !toGroups.contains(p.toGroup) { toGroups.append(p.toGroup) }
        }
        let targets = side(c.targets, toGroups), senders = side(c.senders, fromGroups)
        let seen = "Sample \(c.pairs.first.map { "\($0.sample.from) -> \($0.sample.to)" } ?? ""): \(c.pairs.first?.sample.detail ?? "")."
        switch (c.verdict, c.location) {
        case (.blocked, .network?):
            return Explanation(
                seen: seen,
                fix: "Allow inbound \(rule) to \(targets) from \(senders) in the security group / network ACL / cloud firewall between them."
                    + (c.kind.proto == .udp ? " Make sure the rule is for UDP: a TCP rule for the same port does not cover it (moby#25836)." : ""))
        case (.blocked, .hostFirewall?):
            let match = c.kind.port.map { "\(c.kind.proto.rawValue) dport \($0)" } ?? "meta l4proto esp"
            return Explanation(
                seen: seen,
                fix: "Accept inbound \(rule) from the swarm's nodes in the own firewall of \(targets), "
                    + "e.g. `nft insert rule inet filter input \(match) accept` restricted to the nodes' subnets.")
        case (.blocked, .senderFirewall?):
            return Explanation(
                seen: seen,
                fix: "The probes never leave \(senders): their own firewall's output rules drop them. On each sender accept outgoing \(rule) "
                    + "to the swarm's nodes before any drop, e.g. `nft insert rule inet filter output \(Remedy.outputMatch(c.kind)) accept`, "
                    + "`iptables -I OUTPUT \(Remedy.iptablesMatch(c.kind)) -j ACCEPT` or `\(Remedy.ufwOut(c.kind, to: nil))`, restricted to the nodes' subnets."
            )
        case (.blocked, .returnPath?) where c.pairs.first.map({ Remedy.droppedBySender($0.sample) }) == true:
            return Explanation(
                seen: seen,
                fix: "The answers reach the senders (\(senders)) and their own firewall drops them: let established traffic in "
                    + "before any drop there (`nft insert rule inet filter input ct state established,related accept`).")
        case (.blocked, .returnPath?):
            return Explanation(
                seen: seen,
                fix: "Allow the answers from \(targets) back to \(senders): a stateless network ACL needs the return traffic "
                    + "(\(c.kind.port == nil ? "IP protocol 50" : "\(c.kind.proto.rawValue.uppercased()) ephemeral ports 1024-65535")) allowed both ways; otherwise look for asymmetric routing."
            )
        case (.blocked, _):
            return Explanation(
                seen: seen,
                fix:
                    "Run the agents on \(targets) with capture privileges to tell the network from the host firewall; until then check both for \(rule) from \(senders)."
            )
        case (.closed, _):
            return Explanation(
                seen: seen, fix: "Make sure a program holds \(c.kind) on \(targets) (the agent for a pre-flight check, dockerd in a live swarm).")
        default:
            return Explanation(seen: seen, fix: "Do what the sample's detail says, then run the check again.")
        }
    }

    /// Agents not up listed one by one; the rest are summed up in one line.
    static let agentLimit = 20

    static func moreAgents(_ g: CheckGroups) -> String? {
        guard g.agents.count > agentLimit else { return nil }
        let rest = g.agents.dropFirst(agentLimit)
        return "... and \(rest.count) more agents not up (\(thousands(rest.reduce(0) { $0 + $1.checks })) required checks): "
            + nameList(rest.map { g.nodes[$0.node].name })
    }

    static func agentTitle(_ a: AgentGroup, _ g: CheckGroups) -> String {
        let n = g.nodes[a.node]
        let what: String
        switch a.health.status {
        case .down: what = "Agent down"
        case .authFailed: what = "Authentication failed"
        case .incompatible: what = "Agent of another version"
        case .up: what = "Agent stopped answering"
        case .notContacted: what = "Not contacted"
        }
        return "\(what): \(n.name) (\(n.address), \(g.groupLabel(g.groups.groupOf[a.node])))"
    }

    static func agentText(_ a: AgentGroup) -> String {
        let d = a.health.detail.map { ": \($0)" } ?? ""
        if a.checks == 0 { return "\(a.health.status.rawValue)\(d); it takes part in no required check" }
        return "\(a.health.status.rawValue)\(d); \(thousands(a.checks)) required checks to and from it ("
            + a.kinds.map(\.description).joined(separator: ", ") + ") say nothing about the path"
    }

    static func sourceText(_ s: SourceGroup, _ g: CheckGroups) -> String {
        let n = g.nodes[s.sender]
        return "Unexpected source address: probes from \(n.name) (\(n.address)) arrived at \(s.targetCount) nodes from "
            + s.addresses.map(\.description).joined(separator: ", ") + " on " + s.kinds.map(\.description).joined(separator: ", ")
            + ", not from its advertise address (wrong --advertise-addr, NAT or a second NIC; moby#53004)"
    }
}
