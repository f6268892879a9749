import SwarmProbeCore

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
            out.append("- Interrupted: each path is decided from what the agents had when it stopped; the rest are undecided (reason `interrupted`)")
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
                [
                    n.name, n.address.description, n.role.rawValue, g.groupName(g.groups.groupOf[i]), describe(n.agent),
                    n.listeners.filter { $0.mode == .unavailable }.map { "\($0.kind) \(describe($0))" }.joined(separator: "; "),
                    n.taps.isEmpty ? "-" : n.taps.map(describe).joined(separator: "; "),
                    n.clockOffsetMs.map { formatOffset(ms: $0) } ?? "-",
                ]
            }
            out += table(["Node", "Address", "Role", "Group", "Agent", "Listeners unavailable", "Capture taps", "Clock offset"], rows)
            if attention.count > 200 { out.append(""); out.append("... and \(attention.count - 200) more; the JSON results list every node.") }
        }

        out += ["", "## Matrices (node group x node group)", ""]
        if g.kinds.isEmpty {
            out.append("No checks ran.")
        } else {
            out.append(
                "Rows: from (sender group); columns: to (target group). Each cell: `ok` when every check between the two groups is open; "
                    + "otherwise how many are not, by symbol: `NET` blocked in the network · `FW` blocked by the target's own firewall · `RET` blocked on the return path · "
                    + "`??` blocked, place unknown · `cl` closed · `dn` agent down · `?` inconclusive; `(..)` not required by swarm; `.` not checked."
            )
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
            out.append(
                "\(thousands(summary.requiredNotOpen)) required paths not open, grouped by cause and by node group; each names the rule that fixes it."
            )
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
                out.append(
                    GroupedReport.agentText(a)
                        + ". **Fix:** start the agent (`swarmprobe agent`) and make sure the coordinator reaches its control port at \(g.nodes[a.node].control)."
                )
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
        if let mesh = r.routingMesh {
            out += ["", "## Routing mesh", ""] + RoutingMeshSection.markdown(mesh, checks: g.published, findings: r.nodeFindings)
        }
        out += NodeFindingLines.markdown(g.nodeFindings, nodes: g.nodes)
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
                [
                    c.from, c.to, "\(c.kindID)", c.required ? "yes" : "no", c.verdict.rawValue, c.location?.rawValue ?? "",
                    c.detail, describe(c.sender), describe(c.receiver),
                ]
            }
            out += table(["From", "To", "Kind", "Required", "Verdict", "Where", "Detail", "Sender", "Receiver"], rows)
        }
        if summary.open > 0 {
            let perKind = g.kinds.enumerated().compactMap { k, kind -> String? in
                g.openPerKind[k] == 0 ? nil : "\(thousands(g.openPerKind[k])) on \(kind.id)"
            }
            out.append("")
            out.append(
                "\(thousands(summary.open)) open checks (\(perKind.joined(separator: ", "))), not listed here; the JSON results hold every one.")
        }
        return out.joined(separator: "\n") + "\n"
    }
}
