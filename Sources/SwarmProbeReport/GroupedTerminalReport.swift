import SwarmProbeCore

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
            out.append(
                "  \(g.groups.names[i].padded(16)) \(plural(f.nodes, "node")), \(plural(f.managers, "manager"))"
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
            out += wrap(
                "Legend: ok every check open; otherwise the checks that are not, by symbol: NET blocked in the network, FW blocked by the "
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
        out += NodeFindingLines.terminal(g.nodeFindings, nodes: g.nodes, paint: paint, width: width)

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
            notes += wrap(
                "Listener unavailable on \(plural(unavailable.count, "node")): \(GroupedReport.nameList(unavailable.map(\.name))); "
                    + "arrival there is confirmed only by an answer", width: width, indent: "    ", firstIndent: "  ")
        }
        if g.lateAnswers.count > 0 {
            notes += wrap(
                "Late answers: " + g.lateAnswers.sentence(to: nil, timeoutMs: r.timeoutMs),
                width: width, indent: "    ", firstIndent: "  ")
        }
        let skewed = g.nodes.filter { ($0.clockOffsetMs.map(abs) ?? 0) > ReportModel.clockSkewLimitMs }
        if !skewed.isEmpty {
            notes += wrap(
                "Clock: \(plural(skewed.count, "node")) more than 30 s off the coordinator's clock: \(GroupedReport.nameList(skewed.map(\.name))); "
                    + "2377/tcp mTLS fails with clock skew (moby#25112): sync them with NTP/chrony", width: width, indent: "    ", firstIndent: "  ")
        }
        if let mesh = r.routingMesh {
            out.append("")
            out += RoutingMeshSection.terminal(mesh, checks: g.published, findings: r.nodeFindings, paint: paint)
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
