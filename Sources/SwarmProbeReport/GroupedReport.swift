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
            return "INCOMPLETE: interrupted after \(thousands(s.checks)) checks; \(thousands(s.requiredNotOpen)) required paths not open so far"
        default: return "FAIL: \(thousands(s.requiredNotOpen)) of \(thousands(required)) required paths not open"
        }
    }

    static func countsLine(_ s: Summary) -> String {
        var parts = ["\(thousands(s.open)) open"]
        if s.blocked > 0 { parts.append("\(thousands(s.blocked)) blocked") }
        if s.closed > 0 { parts.append("\(thousands(s.closed)) closed") }
        if s.agentDown > 0 { parts.append("\(thousands(s.agentDown)) agent-down") }
        if s.inconclusive > 0 { parts.append("\(thousands(s.inconclusive)) inconclusive") }
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
        let symbols = ["ok", "NET", "FW", "RET", "??", "cl", "dn", "?"]
        var parts: [String] = []
        for s in 1..<symbols.count {
            if c[s * 2 + 1] > 0 { parts.append("\(symbols[s]) \(c[s * 2 + 1])") }
        }
        for s in 1..<symbols.count {
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
        return ["\(c.kind) \(describe(c.verdict, c.location)): \(c.pairs.count) group pairs, \(c.senders.count) senders -> "
            + "\(c.targets.count) targets (\(thousands(c.checks)) checks); sample: \(first.sample.from) -> \(first.sample.to)"]
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
            return Explanation(seen: seen, fix: "Allow inbound \(rule) to \(targets) from \(senders) in the security group / network ACL / cloud firewall between them."
                + (c.kind.proto == .udp ? " Make sure the rule is for UDP: a TCP rule for the same port does not cover it (moby#25836)." : ""))
        case (.blocked, .hostFirewall?):
            let match = c.kind.port.map { "\(c.kind.proto.rawValue) dport \($0)" } ?? "meta l4proto esp"
            return Explanation(seen: seen, fix: "Accept inbound \(rule) from the swarm's nodes in the own firewall of \(targets), "
                + "e.g. `nft insert rule inet filter input \(match) accept` restricted to the nodes' subnets.")
        case (.blocked, .returnPath?) where c.pairs.first.map({ Remedy.droppedBySender($0.sample) }) == true:
            return Explanation(seen: seen, fix: "The answers reach the senders (\(senders)) and their own firewall drops them: let established traffic in "
                + "before any drop there (`nft insert rule inet filter input ct state established,related accept`).")
        case (.blocked, .returnPath?):
            return Explanation(seen: seen, fix: "Allow the answers from \(targets) back to \(senders): a stateless network ACL needs the return traffic "
                + "(\(c.kind.port == nil ? "IP protocol 50" : "\(c.kind.proto.rawValue.uppercased()) ephemeral ports 1024-65535")) allowed both ways; otherwise look for asymmetric routing.")
        case (.blocked, _):
            return Explanation(seen: seen, fix: "Run the agents on \(targets) with capture privileges to tell the network from the host firewall; until then check both for \(rule) from \(senders).")
        case (.closed, _):
            return Explanation(seen: seen, fix: "Make sure a program holds \(c.kind) on \(targets) (the agent for a pre-flight check, dockerd in a live swarm).")
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

// MARK: - Terminal

extension TerminalReport {
    /// The report of many nodes (see `GroupedReport`), from the head of the results and the grouped checks.
    public static func render(head r: Results, groups g: CheckGroups, color: Bool) -> String {
        let paint = Painter(on: color)
        let summary = g.summary(complete: r.complete)
        var out = wrap(GroupedReport.header(r, g), width: width, indent: "  ")
        out.append("")
        out.append(paint.bold("Node groups (by \(g.groups.basis.rawValue))"))
        for i in 0..<g.groups.count {
            let f = GroupedReport.groupFacts(g, i)
            let down = f.nodes - f.up
            out.append("  \(g.groups.names[i].padded(16)) \(plural(f.nodes, "node")), \(plural(f.managers, "manager"))"
                + (down > 0 ? ", \(down) agents not up" : "") + "; \(GroupedReport.subnetText(f.subnets))")
        }
        for (k, kind) in g.kinds.enumerated() {
            out.append("")
            out.append(paint.bold("\(kind.id)  \(kind.name)") + "  (group x group; each cell counts the checks that are not open)")
            let (header, rows) = GroupedReport.matrixRows(g, kind: k)
            var widths = header.map(\.count)
            for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
            func line(_ row: [String]) -> String {
                "  " + row.enumerated().map { i, c in i == row.count - 1 ? c : c.padded(widths[i]) }.joined(separator: "  ")
            }
            out.append(line(header))
            out += rows.map(line)
        }
        if !g.kinds.isEmpty {
            out.append("")
            out += wrap("Legend: ok every check open; otherwise the checks that are not, by symbol: NET blocked in the network, FW blocked by the "
                + "target's own firewall, RET blocked on the return path, ?? blocked, place unknown, cl closed, dn agent down, ? inconclusive; "
                + "(..) not required by swarm; . not checked", width: width, indent: "  ", firstIndent: "")
        }

        out.append("")
        let heading = r.complete ? "Findings" : "Findings so far"
        if summary.requiredNotOpen == 0 && g.agents.isEmpty {
            out.append(paint.bold("\(heading): none") + ", every required path that was checked is open")
        } else {
            out.append(paint.bold("\(heading): \(thousands(summary.requiredNotOpen)) required paths not open, by cause and node group"))
            for c in g.causes {
                out.append(paint.forVerdict(c.verdict, "  " + GroupedReport.title(c)))
                out += wrap(GroupedReport.scope(c, g), width: width, indent: "      ", firstIndent: "    ")
                for l in GroupedReport.pairLines(c, g, limit: 16) { out += wrap(l, width: width, indent: "        ", firstIndent: "    ") }
                let e = GroupedReport.explain(c, g)
                out += wrap(e.seen, width: width, indent: "      ", firstIndent: "    ")
                out += wrap("Fix: " + e.fix, width: width, indent: "      ", firstIndent: "    ")
            }
            for a in g.agents.prefix(GroupedReport.agentLimit) {
                out.append(paint.yellow("  " + GroupedReport.agentTitle(a, g)))
                out += wrap(GroupedReport.agentText(a), width: width, indent: "    ")
            }
            if let more = GroupedReport.moreAgents(g) { out += wrap(more, width: width, indent: "    ", firstIndent: "  ").map(paint.yellow) }
        }

        var notes: [String] = []
        if !g.information.isEmpty {
            notes.append("  Not required by swarm (information):")
            for c in g.information {
                for l in GroupedReport.pairLines(c, g) { notes += wrap(l, width: width, indent: "      ", firstIndent: "    ") }
            }
        }
        for s in g.sources { notes += wrap(GroupedReport.sourceText(s, g), width: width, indent: "    ", firstIndent: "  ") }
        let unavailable = g.nodes.filter { n in n.listeners.contains { $0.mode == .unavailable } }
        if !unavailable.isEmpty {
            notes += wrap("Listener unavailable on \(plural(unavailable.count, "node")): \(GroupedReport.nameList(unavailable.map(\.name))); "
                + "arrival there is confirmed only by an answer", width: width, indent: "    ", firstIndent: "  ")
        }
        if g.lateAnswers.count > 0 {
            notes += wrap("Late answers: " + g.lateAnswers.sentence(to: nil, timeoutMs: r.timeoutMs),
                          width: width, indent: "    ", firstIndent: "  ")
        }
        let skewed = g.nodes.filter { ($0.clockOffsetMs.map(abs) ?? 0) > ReportModel.clockSkewLimitMs }
        if !skewed.isEmpty {
            notes += wrap("Clock: \(plural(skewed.count, "node")) more than 30 s off the coordinator's clock: \(GroupedReport.nameList(skewed.map(\.name))); "
                + "2377/tcp mTLS fails with clock skew (moby#25112): sync them with NTP/chrony", width: width, indent: "    ", firstIndent: "  ")
        }
        if !notes.isEmpty {
            out.append("")
            out.append(paint.bold("Notes"))
            out += notes
        }
        out.append("")
        let status: ReportModel.Status = summary.status == "pass" ? .pass : summary.status == "incomplete" ? .incomplete : .fail
        out.append(paint.verdict(status, GroupedReport.verdictLine(summary, required: g.requiredChecks)))
        return out.joined(separator: "\n") + "\n"
    }
}

// MARK: - Markdown

extension MarkdownReport {
    /// The report of many nodes (see `GroupedReport`), from the head of the results and the grouped checks.
    public static func render(head r: Results, groups g: CheckGroups) -> String {
        let summary = g.summary(complete: r.complete)
        var out: [String] = []
        out.append("# swarmprobe connectivity report")
        out.append("")
        out.append("**\(GroupedReport.verdictLine(summary, required: g.requiredChecks))** (\(GroupedReport.countsLine(summary)))")
        out.append("")
        out.append("- Started: \(r.startedAt)")
        out.append("- Profile: \(r.profile)")
        out.append("- Nodes: \(r.nodes.count) in \(plural(g.groups.count, "group")) (by \(g.groups.basis.rawValue))")
        out.append("- Probe timeout: \(timeoutText(r, long: true))")
        out.append("- Duration: \(formatDuration(ms: r.durationMs))")
        out.append("- swarmprobe: \(r.toolVersion)")
        if !r.complete {
            out.append("- Interrupted: what is below is what ran before the interruption")
        }

        // Node groups, and only the nodes that need a look.
        var groupRows: [[String]] = []
        for i in 0..<g.groups.count {
            let f = GroupedReport.groupFacts(g, i)
            let names = g.groups.members[i].map { g.nodes[$0].name }
            let range = names.count == 1 ? names[0] : "\(names.first!) ... \(names.last!)"
            groupRows.append([g.groups.names[i], String(f.nodes), String(f.managers), String(f.up), GroupedReport.subnetText(f.subnets), range])
        }
        var nodesBody = table(["Group", "Nodes", "Managers", "Agents up", "Subnets", "Nodes (first ... last)"], groupRows)
        let attention = g.nodes.enumerated().filter { _, n in
            !n.agent.isUp || n.listeners.contains { $0.mode == .unavailable } || n.taps.contains { !$0.active }
                || (n.clockOffsetMs.map(abs) ?? 0) > ReportModel.clockSkewLimitMs
        }
        out += ["", "## Node groups", ""] + nodesBody
        nodesBody = []
        if !attention.isEmpty {
            out.append("")
            out.append("Nodes that need a look (agent not up, a listener unavailable, a capture tap off, or the clock off):")
            out.append("")
            let rows = attention.prefix(200).map { i, n in
                [n.name, n.address.description, n.role.rawValue, g.groupName(g.groups.groupOf[i]), describe(n.agent),
                 n.listeners.filter { $0.mode == .unavailable }.map { "\($0.kind) \(describe($0))" }.joined(separator: "; "),
                 n.taps.isEmpty ? "-" : n.taps.map(describe).joined(separator: "; "),
                 n.clockOffsetMs.map { formatOffset(ms: $0) } ?? "-"]
            }
            out += table(["Node", "Address", "Role", "Group", "Agent", "Listeners unavailable", "Capture taps", "Clock offset"], rows)
            if attention.count > 200 { out.append(""); out.append("... and \(attention.count - 200) more; the JSON results list every node.") }
        }

        out += ["", "## Matrices (node group x node group)", ""]
        if g.kinds.isEmpty {
            out.append("No checks ran.")
        } else {
            out.append("Rows: from (sender group); columns: to (target group). Each cell: `ok` when every check between the two groups is open; "
                + "otherwise how many are not, by symbol: `NET` blocked in the network · `FW` blocked by the target's own firewall · `RET` blocked on the return path · "
                + "`??` blocked, place unknown · `cl` closed · `dn` agent down · `?` inconclusive; `(..)` not required by swarm; `.` not checked.")
            for (k, kind) in g.kinds.enumerated() {
                out += ["", "### \(kind.id) (\(kind.name))", ""]
                let (header, rows) = GroupedReport.matrixRows(g, kind: k)
                out += table(header, rows, centered: Set(1..<header.count))
            }
        }

        out += ["", "## Findings", ""]
        if summary.requiredNotOpen == 0 && g.agents.isEmpty && g.sources.isEmpty {
            out.append(r.complete ? "None: every required path is open." : "None so far: every required path that was checked is open.")
        } else {
            out.append("\(thousands(summary.requiredNotOpen)) required paths not open, grouped by cause and by node group; each names the rule that fixes it.")
            var number = 0
            for c in g.causes {
                number += 1
                out += ["", "### \(number). \(GroupedReport.title(c))", ""]
                out.append("\(GroupedReport.scope(c, g)).")
                out.append("")
                for l in GroupedReport.pairLines(c, g, limit: 16) { out.append("- " + l) }
                let e = GroupedReport.explain(c, g)
                out.append("")
                out.append(e.seen + " **Fix:** " + e.fix)
            }
            for a in g.agents.prefix(GroupedReport.agentLimit) {
                number += 1
                out += ["", "### \(number). \(GroupedReport.agentTitle(a, g))", ""]
                out.append(GroupedReport.agentText(a) + ". **Fix:** start the agent (`swarmprobe agent`) and make sure the coordinator reaches its control port at \(g.nodes[a.node].control).")
            }
            if let more = GroupedReport.moreAgents(g) {
                out.append("")
                out.append(more + ".")
            }
            for s in g.sources {
                number += 1
                out += ["", "### \(number). Unexpected source address: \(g.nodes[s.sender].name)", ""]
                out.append(GroupedReport.sourceText(s, g) + ".")
            }
        }
        if g.lateAnswers.count > 0 {
            out += ["", "## Notes", "", "- " + g.lateAnswers.sentence(to: nil, timeoutMs: r.timeoutMs)]
        }
        if !g.information.isEmpty {
            out += ["", "## Not required (information)", ""]
            out.append("Swarm does not need these paths (given the roles and the profile); they are not findings.")
            out.append("")
            for c in g.information { for l in GroupedReport.pairLines(c, g) { out.append("- " + l) } }
        }

        out += ["", "## Evidence", ""]
        let samples = (g.causes + g.information).flatMap { c in c.pairs.map(\.sample) }
        if samples.isEmpty {
            out.append(g.counter.checks == 0 ? "No checks ran." : "Every check is open or its agent was down.")
        } else {
            out.append("One sample check per cause and node-group pair (\(plural(samples.count, "sample"))); the JSON results hold every check.")
            out.append("")
            let rows = samples.map { c in
                [c.from, c.to, "\(c.kindID)", c.required ? "yes" : "no", c.verdict.rawValue, c.location?.rawValue ?? "",
                 c.detail, describe(c.sender), describe(c.receiver)]
            }
            out += table(["From", "To", "Kind", "Required", "Verdict", "Where", "Detail", "Sender", "Receiver"], rows)
        }
        if summary.open > 0 {
            let perKind = g.kinds.enumerated().compactMap { k, kind -> String? in
                g.openPerKind[k] == 0 ? nil : "\(thousands(g.openPerKind[k])) on \(kind.id)"
            }
            out.append("")
            out.append("\(thousands(summary.open)) open checks (\(perKind.joined(separator: ", "))), not listed here; the JSON results hold every one.")
        }
        return out.joined(separator: "\n") + "\n"
    }
}
