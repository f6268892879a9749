import SwarmProbeCore

/// The "Node findings" section every report has (node by node and grouped, terminal and markdown): one entry
/// per problem with one node's host, its fix beside it, those that break the swarm first.
enum NodeFindingLines {
    /// Required first, each kind in the results' (node) order.
    static func ordered(_ findings: [NodeFinding]) -> [NodeFinding] {
        findings.filter(\.required) + findings.filter { !$0.required }
    }

    /// `2 break the swarm, 1 information`.
    static func counts(_ findings: [NodeFinding]) -> String {
        let required = findings.count { $0.required }, info = findings.count - required
        var parts: [String] = []
        if required > 0 { parts.append("\(required) \(required == 1 ? "breaks" : "break") the swarm") }
        if info > 0 { parts.append("\(info) information") }
        return parts.joined(separator: ", ")
    }

    /// `w1 (198.18.1.12)`, or the name alone when the node is not in the list.
    static func label(_ f: NodeFinding, _ nodes: [NodeResult]) -> String {
        nodes.first { $0.name == f.node }.map { "\($0.name) (\($0.address))" } ?? f.node
    }

    /// Nothing when there are none.
    /// A published port's finding is shown under its port in the routing mesh section, not here.
    static func hostOnly(_ findings: [NodeFinding]) -> [NodeFinding] { findings.filter { $0.port == nil } }

    static func terminal(_ all: [NodeFinding], nodes: [NodeResult], paint: Painter, width: Int) -> [String] {
        let findings = hostOnly(all)
        guard !findings.isEmpty else { return [] }
        var out = ["", paint.bold("Node findings: \(counts(findings))")]
        for f in ordered(findings) {
            let head = "\(label(f, nodes)) \(f.code)" + (f.required ? "" : " (information)") + ": \(f.detail)"
            let lines = wrap(head, width: width, indent: "      ", firstIndent: "  ")
            out += f.required ? lines.map(paint.red) : lines
            if let fix = f.fix { out += wrap("Fix: " + fix, width: width, indent: "      ", firstIndent: "    ") }
        }
        return out
    }

    /// The section with its heading; nothing when there are none.
    static func markdown(_ all: [NodeFinding], nodes: [NodeResult]) -> [String] {
        let findings = hostOnly(all)
        guard !findings.isEmpty else { return [] }
        var out = ["", "## Node findings", ""]
        out.append("Problems with one node's host rather than a path (\(counts(findings))); each with what fixes it.")
        out.append("")
        for f in ordered(findings) {
            let what = f.required ? "breaks the swarm" : "information"
            out.append("- **\(label(f, nodes))** `\(f.code)` (\(what)): \(f.detail)." + (f.fix.map { " **Fix:** " + $0 + "." } ?? ""))
        }
        return out
    }

    /// `; 1 node finding breaks the swarm` for a verdict line, or nothing.
    static func verdictPart(_ s: Summary) -> String {
        s.requiredNodeFindings == 0
            ? "" : "; \(s.requiredNodeFindings) node \(s.requiredNodeFindings == 1 ? "finding breaks" : "findings break") the swarm"
    }
}
