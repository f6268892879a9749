import SwarmProbeCore

/// What `swarmprobe check` prints: a header, one node-by-node matrix per traffic kind,
/// the findings grouped by cause, notes, and the verdict as the last line.
public enum TerminalReport {
    /// Lines are wrapped at this many columns (matrices of many nodes may be wider).
    public static let width = 100

    public static func render(_ r: Results, color: Bool) -> String {
        if r.nodes.count > GroupedReport.nodeLimit {
            return render(head: r, groups: CheckGroups(r), color: color)
        }
        let m = ReportModel(r)
        let paint = Painter(on: color)
        var out: [String] = []

        let interrupted = r.complete ? "" : ", interrupted"
        out.append(
            "swarmprobe \(r.toolVersion): profile \(r.profile), \(plural(m.nodeNames.count, "node")), "
                + "\(plural(r.checks.count, "check")) in \(formatDuration(ms: r.durationMs)) (probe timeout \(timeoutText(r)))\(interrupted)")

        for section in m.kinds {
            out.append("")
            out.append(paint.bold("\(section.id)  \(section.name)"))
            out += matrix(section, m, paint)
        }
        if !m.kinds.isEmpty {
            out.append("")
            var entries = Cell.legend.map { "\($0.0) \($0.1)," }
            entries[entries.count - 1].removeLast()
            if m.numberedColumns { entries.append("(columns are numbered like the rows)") }
            out += wrap(tokens: ["Legend:"] + entries, width: width, indent: "  ", firstIndent: "")
        }

        if let mesh = r.routingMesh {
            out.append("")
            out += RoutingMeshSection.terminal(mesh, checks: m.published, findings: r.nodeFindings, paint: paint)
        }

        out.append("")
        out += findings(m, paint)
        out += NodeFindingLines.terminal(r.nodeFindings, nodes: r.nodes, paint: paint, width: width)

        let notes = notes(m)
        if !notes.isEmpty {
            out.append("")
            out.append(paint.bold("Notes"))
            out += notes
        }

        out.append("")
        out.append(paint.verdict(m.status, m.verdictLine))
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: - Matrix

    private static func matrix(_ s: KindSection, _ m: ReportModel, _ paint: Painter) -> [String] {
        let corner = "from \\ to"
        let rowWidth = max(corner.count, m.nodeNames.map { m.rowLabel($0).count }.max() ?? 0)
        let columns = m.nodeNames.map { (name: $0, label: m.columnLabel($0)) }
        let widths = columns.map { max(Cell.width, $0.label.count) }
        let gap = "  "

        var head = "  " + corner.padded(rowWidth)
        for (i, c) in columns.enumerated() {
            head += gap + (i == columns.count - 1 ? c.label : c.label.padded(widths[i]))
        }
        var lines = [head]
        for from in m.nodeNames {
            var line = "  " + m.rowLabel(from).padded(rowWidth)
            for (i, to) in columns.enumerated() {
                let check = from == to.name ? nil : s.check(from: from, to: to.name)
                let symbol = from == to.name ? Cell.diagonal : Cell.symbol(check)
                let pad = i == columns.count - 1 ? "" : String(repeating: " ", count: max(0, widths[i] - symbol.count))
                line += gap + paint.cell(symbol, check) + pad
            }
            lines.append(line)
        }
        return lines
    }

    // MARK: - Findings

    private static func findings(_ m: ReportModel, _ paint: Painter) -> [String] {
        let count = m.requiredNotOpen
        let heading = m.status == .incomplete ? "Findings so far" : "Findings"
        guard count > 0 || !m.agentFindings.isEmpty || !m.undecided.isEmpty else {
            if m.publishedNotOpen > 0 {
                return [paint.bold("\(heading): none between the nodes") + "; the published ports not answered are in the routing mesh section"]
            }
            return [paint.bold("\(heading): none") + ", every required path that was checked is open"]
        }
        var out = [paint.bold("\(heading): \(plural(count, "required path")) not open")]
        func explanation(_ e: Explanation, indent: String) {
            out += wrap(e.seen, width: width, indent: indent)
            out += wrap("Fix: " + e.fix, width: width, indent: indent)
        }
        for f in m.causeFindings {
            out.append(paint.forVerdict(f.verdict, "  " + Remedy.title(f)))
            if f.verdict == .inconclusive {
                for c in f.targets.flatMap(\.checks) {
                    out += wrap("\(c.from) -> \(m.labeled(c.to)): \(c.detail)", width: width, indent: "      ", firstIndent: "    ")
                }
                explanation(Remedy.explain(f, f.targets[0], m), indent: "    ")
                continue
            }
            for t in f.targets {
                out.append("    " + Remedy.subject(t, m))
                explanation(Remedy.explain(f, t, m), indent: "      ")
            }
        }
        for a in m.agentFindings {
            out.append(paint.yellow("  " + Remedy.title(a, m)))
            explanation(Remedy.explain(a, m), indent: "    ")
        }
        if !m.undecided.isEmpty {
            out.append(
                paint.forVerdict(.inconclusive, "  Undecided: the check was interrupted before \(plural(m.undecided.count, "required path")) ended"))
            out += wrap(m.undecidedList, width: width, indent: "    ", firstIndent: "    ")
            out += wrap("Run the check again to decide them.", width: width, indent: "    ")
        }
        return out
    }

    // MARK: - Notes

    private static func notes(_ m: ReportModel) -> [String] {
        var out: [String] = []
        if !m.information.isEmpty {
            out.append("  Not required by swarm (information):")
            for g in m.information {
                let pairs = g.checks.map { "\($0.from) -> \($0.to)" }.joined(separator: ", ")
                out += wrap("\(g.kind) \(describe(g.verdict, g.location)): \(pairs)", width: width, indent: "      ", firstIndent: "    ")
            }
        }
        for s in m.sourceFindings {
            let seen = s.addresses.map(\.description).joined(separator: ", ")
            let kinds = s.kinds.map(\.description).joined(separator: ", ")
            out += wrap(
                "Unexpected source address: probes from \(m.labeled(s.sender)) arrived at \(s.targets.joined(separator: ", ")) "
                    + "from \(seen) on \(kinds), not from its advertise address (wrong --advertise-addr, NAT or a second NIC; moby#53004)",
                width: width, indent: "    ", firstIndent: "  ")
        }
        for n in m.results.nodes {
            let unavailable = n.listeners.filter { $0.mode == .unavailable }
            guard !unavailable.isEmpty else { continue }
            let list = unavailable.map { "\($0.kind)" + ($0.detail.map { " (\($0))" } ?? "") }.joined(separator: ", ")
            out += wrap(
                "Listener unavailable on \(n.name): \(list); arrival there is confirmed only by an answer", width: width, indent: "    ",
                firstIndent: "  ")
        }
        if let late = m.lateAnswersNote(timeoutMs: m.results.timeoutMs) {
            out += wrap("Late answers: " + late, width: width, indent: "    ", firstIndent: "  ")
        }
        for (node, offset) in m.skewedClocks {
            out += wrap(
                "Clock: \(node) is \(formatOffset(ms: offset)) off the coordinator's clock; 2377/tcp mTLS fails with clock skew (moby#25112): sync it with NTP/chrony",
                width: width, indent: "    ", firstIndent: "  ")
        }
        return out
    }
}
