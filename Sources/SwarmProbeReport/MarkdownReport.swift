import SwarmProbeCore

/// The report a human pastes into a firewall ticket: verdict first, run facts, matrices,
/// findings with the rule that fixes each, then the evidence behind them.
public enum MarkdownReport {
    /// Open checks are listed one by one up to this many; above it, only counted.
    public static let openListLimit = 50

    public static func render(_ r: Results) -> String {
        if r.nodes.count > GroupedReport.nodeLimit {
            return render(head: r, groups: CheckGroups(r))
        }
        let m = ReportModel(r)
        var out: [String] = []
        out.append("# swarmprobe connectivity report")
        out.append("")
        out.append("**\(m.verdictLine)** (\(m.countsLine))")
        out.append("")
        out.append("- Started: \(r.startedAt)")
        out.append("- Profile: \(r.profile)")
        out.append("- Probe timeout: \(timeoutText(r, long: true))")
        out.append("- Duration: \(formatDuration(ms: r.durationMs))")
        out.append("- swarmprobe: \(r.toolVersion)")
        if !r.complete {
            out.append(
                "- Interrupted: each path is decided from what the agents had when it stopped; the rest are undecided (`?`, reason `interrupted`)")
        }

        out += section("Nodes", nodes(m))
        out += section("Matrices", matrices(m))
        if let mesh = r.routingMesh {
            out += section("Routing mesh", RoutingMeshSection.markdown(mesh, checks: m.published, findings: r.nodeFindings))
        }
        out += section("Findings", findings(m))
        out += NodeFindingLines.markdown(r.nodeFindings, nodes: r.nodes)
        let info = information(m)
        if !info.isEmpty { out += section("Not required (information)", info) }
        let notes = notes(m)
        if !notes.isEmpty { out += section("Notes", notes) }
        out += section("Evidence", evidence(m))
        return out.joined(separator: "\n") + "\n"
    }

    private static func section(_ title: String, _ body: [String]) -> [String] {
        ["", "## \(title)", ""] + body
    }

    // MARK: - Nodes

    private static func nodes(_ m: ReportModel) -> [String] {
        var kinds = m.kinds.map(\.id)
        for n in m.results.nodes {
            for l in n.listeners where !kinds.contains(l.kind) { kinds.append(l.kind) }
        }
        var header = ["#", "Node", "Address", "Role", "Agent", "Control"]
        header += kinds.map(\.description)
        header.append("Capture taps")
        header.append("Clock offset")
        var rows: [[String]] = []
        for (i, name) in m.nodeNames.enumerated() {
            guard let n = m.nodes[name] else {
                rows.append([String(i + 1), name, "?", "?", "not in the node list", "?"] + kinds.map { _ in "-" } + ["-", "-"])
                continue
            }
            var agent = describe(n.agent)
            if n.agent.isUp, let v = n.agentVersion { agent += " (\(v))" }
            var row = [String(i + 1), n.name, n.address.description, n.role.rawValue, agent, n.control]
            row += kinds.map { k in n.listeners.first { $0.kind == k }.map(describe) ?? "-" }
            row.append(n.taps.isEmpty ? "-" : n.taps.map(describe).joined(separator: "; "))
            if let o = n.clockOffsetMs {
                row.append(formatOffset(ms: o) + (abs(o) > ReportModel.clockSkewLimitMs ? " (over 30 s)" : ""))
            } else {
                row.append("-")
            }
            rows.append(row)
        }
        var out = table(header, rows)
        out.append("")
        out.append(
            "Listeners: `listening` the agent holds the port and answers; `observing` another program (dockerd, the kernel's VXLAN socket) holds it and the agent watches arrivals by capture; `unavailable` neither, so only an answer confirms arrival; `closed` nothing holds it on this live swarm node (2377 on a worker), so it really is closed."
        )
        out.append("")
        out.append(
            "Capture taps: `interface` sees probes arrive before the node's own firewall; `nflog` (an nftables rule at input priority 100) sees only what the firewall let through. Together they tell a drop in the network from one in the host firewall; without them a silent drop is reported with `where: unknown`."
        )
        return out
    }

    // MARK: - Matrices

    private static func matrices(_ m: ReportModel) -> [String] {
        guard !m.kinds.isEmpty else { return ["No checks ran."] }
        let legend = Cell.legend.map { "`\($0.0)` \($0.1)" }.joined(separator: " · ")
        var out = [
            "Rows: from (sender); columns: to (target)"
                + (m.numberedColumns ? ", numbered like the rows" : "") + ". " + legend
        ]
        for s in m.kinds {
            out.append("")
            out.append("### \(s.id) (\(s.name))")
            out.append("")
            let header = ["from \\ to"] + m.nodeNames.map(m.columnLabel)
            let rows = m.nodeNames.map { from in
                [m.rowLabel(from)]
                    + m.nodeNames.map { to in
                        from == to ? Cell.diagonal : Cell.symbol(s.check(from: from, to: to))
                    }
            }
            out += table(header, rows, centered: Set(1..<header.count))
        }
        return out
    }

    // MARK: - Findings

    private static func findings(_ m: ReportModel) -> [String] {
        var out: [String] = []
        let required = m.requiredNotOpen
        if required == 0 && m.agentFindings.isEmpty && m.sourceFindings.isEmpty && m.undecided.isEmpty {
            if m.publishedNotOpen > 0 { return ["None between the nodes; the published ports not answered are in the routing mesh section above."] }
            return [
                m.status == .incomplete
                    ? "None so far: every required path that was checked is open."
                    : "None: every required path is open."
            ]
        }
        out.append("\(plural(required, "required path")) not open, grouped by cause; each names the rule that fixes it.")
        var number = 0
        func heading(_ title: String) {
            number += 1
            out += ["", "### \(number). \(title)", ""]
        }
        func paragraph(_ e: Explanation, subject: String? = nil) -> String {
            (subject.map { "**\($0).** " } ?? "") + e.seen + " **Fix:** " + e.fix
        }
        for f in m.causeFindings {
            heading(Remedy.title(f))
            if f.verdict == .inconclusive {
                for c in f.targets.flatMap(\.checks) {
                    out.append("- \(c.from) -> \(m.labeled(c.to)): \(c.detail)")
                }
                out.append("")
                out.append(paragraph(Remedy.explain(f, f.targets[0], m)))
            } else {
                for (i, t) in f.targets.enumerated() {
                    if i > 0 { out.append("") }
                    out.append(paragraph(Remedy.explain(f, t, m), subject: Remedy.subject(t, m)))
                }
            }
        }
        for a in m.agentFindings {
            heading(Remedy.title(a, m))
            out.append(paragraph(Remedy.explain(a, m)))
        }
        for s in m.sourceFindings {
            heading(Remedy.title(s, m))
            out.append(paragraph(Remedy.explain(s, m)))
        }
        if !m.undecided.isEmpty {
            heading("Undecided: the check was interrupted before \(plural(m.undecided.count, "required path")) ended")
            out.append(m.undecidedList + ". Run the check again to decide them.")
        }
        return out
    }

    private static func information(_ m: ReportModel) -> [String] {
        guard !m.information.isEmpty else { return [] }
        var out = ["Swarm does not need these paths (given the roles and the profile); they are not findings."]
        out.append("")
        for g in m.information {
            let pairs = g.checks.map { "\($0.from) -> \($0.to)" }.joined(separator: ", ")
            out.append("- \(g.kind) (\(g.kindName)), \(describe(g.verdict, g.location)): \(pairs)")
        }
        return out
    }

    private static func notes(_ m: ReportModel) -> [String] {
        var out: [String] = []
        for (node, l) in m.unavailableListeners {
            out.append(
                "- \(m.labeled(node)) has no listener on \(l.kind)" + (l.detail.map { " (\($0))" } ?? "")
                    + ": arrival there is confirmed only by an answer.")
        }
        if let late = m.lateAnswersNote(timeoutMs: m.results.timeoutMs) { out.append("- " + late) }
        for (node, offset) in m.skewedClocks {
            out.append(
                "- The clock of \(m.labeled(node)) is \(formatOffset(ms: offset)) off the coordinator's: 2377/tcp mTLS fails with clock skew (moby#25112). Sync it with NTP/chrony."
            )
        }
        return out
    }

    // MARK: - Evidence

    private static func evidence(_ m: ReportModel) -> [String] {
        let notOpen = m.results.checks.filter { $0.verdict != .open }
        let open = m.results.checks.filter { $0.verdict == .open }
        var out: [String] = []
        if notOpen.isEmpty {
            out.append(m.results.checks.isEmpty ? "No checks ran." : "Every check is open.")
        } else {
            out.append("\(plural(notOpen.count, "check")) not open:")
            out.append("")
            let rows = notOpen.map { c in
                [
                    c.from, c.to, "\(c.kindID)", c.required ? "yes" : "no", c.verdict.rawValue, c.location?.rawValue ?? "",
                    c.detail, describe(c.sender), describe(c.receiver),
                ]
            }
            out += table(["From", "To", "Kind", "Required", "Verdict", "Where", "Detail", "Sender", "Receiver"], rows)
        }
        guard !open.isEmpty else { return out }
        out.append("")
        if open.count > openListLimit {
            let perKind = m.kinds.compactMap { s -> String? in
                let n = s.checks.count { $0.verdict == .open }
                return n == 0 ? nil : "\(n) on \(s.id)"
            }
            out.append("\(plural(open.count, "open check")) (\(perKind.joined(separator: ", "))), not listed here; the JSON results hold every one.")
        } else {
            out.append("<details><summary>\(plural(open.count, "open check"))</summary>")
            out.append("")
            let rows = open.map { c in [c.from, c.to, "\(c.kindID)", c.required ? "yes" : "no", describe(c.sender), c.detail] }
            out += table(["From", "To", "Kind", "Required", "Sender", "Detail"], rows)
            out.append("")
            out.append("</details>")
        }
        return out
    }

    // MARK: - Tables

    /// A pipe table padded so it also reads as plain text.
    static func table(_ header: [String], _ rows: [[String]], centered: Set<Int> = []) -> [String] {
        let cells = ([header] + rows).map { $0.map(escape) }
        var widths = Array(repeating: 3, count: header.count)
        for row in cells {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ row: [String]) -> String {
            "| " + row.enumerated().map { $0.element.padded(widths[$0.offset]) }.joined(separator: " | ") + " |"
        }
        let rule =
            "|"
            + widths.enumerated().map { i, w in
                centered.contains(i) ? ":" + String(repeating: "-", count: w) + ":" : String(repeating: "-", count: w + 2)
            }.joined(separator: "|") + "|"
        return [line(cells[0]), rule] + cells.dropFirst().map(line)
    }

    private static func escape(_ s: String) -> String {
        s.replacing("|", with: "\\|").replacing("\n", with: " ")
    }
}
