import Foundation
import SwarmProbeCore

/// What `swarmprobe aws audit` adds to the reports `check` makes: how nodes map to instances, and the
/// remediation commands. The rest is the usual `Results`, rendered by SwarmProbeReport.
public enum AWSAuditReport {
    /// The terminal section: instances per node, then every command once.
    public static func terminal(_ a: AWSAuditResult) -> String {
        var out = ["AWS resources"]
        for n in a.nodes {
            out.append("  \(n.node) (\(n.address)): " + describe(n))
        }
        if !a.published.isEmpty || !a.clients.isEmpty {
            out.append("")
            out += publishedLines(a)
        }
        out.append("")
        out += remediationLines(a, indent: "  ", code: false)
        return out.joined(separator: "\n") + "\n"
    }

    /// The markdown section appended to the report.
    public static func markdown(_ a: AWSAuditResult) -> String {
        var out = ["", "## AWS resources", "", "| Node | Address | Instance | Subnet | Security groups | Network ACL |", "|---|---|---|---|---|---|"]
        for n in a.nodes {
            if n.instanceId == nil {
                out.append("| \(n.node) | \(n.address) | not found | - | - | - |")
            } else {
                out.append(
                    "| \(n.node) | \(n.address) | \(n.instanceId ?? "-") | \(n.subnetId ?? "-") | \(n.securityGroups.joined(separator: ", ")) | \(n.networkAclId ?? "unknown") |"
                )
            }
        }
        let unmatched = a.unmatchedNodes
        if !unmatched.isEmpty {
            out.append("")
            for n in unmatched { out.append("- **\(n.node)**: \(n.problem ?? "not matched")") }
        }
        if !a.published.isEmpty || !a.clients.isEmpty {
            out += ["", "## Published ports", ""]
            out += publishedMarkdown(a)
        }
        out += ["", "## Remediation", ""]
        if a.remediation.isEmpty {
            out.append(
                a.anyBlocked
                    ? "No command can be suggested: the blocked paths' security groups or ACLs are unknown."
                    : "Nothing to change: no path is blocked by a security group or network ACL.")
        } else {
            let published = a.published.contains { $0.verdict == .blocked } ? ", and admit every published port from the clients' group or CIDR" : ""
            out.append(
                "These commands open every blocked path, least-privilege (the cluster's security group, or the nodes' own addresses)\(published). "
                    + "swarmprobe changed nothing in the account; review, then run them:")
            out += ["", "```sh"] + a.remediation + ["```"]
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func remediationLines(_ a: AWSAuditResult, indent: String, code: Bool) -> [String] {
        guard !a.remediation.isEmpty else {
            return [
                a.anyBlocked
                    ? "Remediation: none can be suggested (the blocking groups or ACLs are unknown)"
                    : "Remediation: nothing to change"
            ]
        }
        return ["Remediation (nothing was changed in the account; these commands open every blocked path):"]
            + a.remediation.map { indent + $0 }
    }

    /// `Published ports`: per client, the CIDRs assumed; per port and client, one line per node.
    static func publishedLines(_ a: AWSAuditResult) -> [String] {
        var out = ["Published ports (security groups and network ACLs between the clients and each node)"]
        for c in a.clients {
            out.append("  \(c.group ?? c.clients): " + assumption(c))
        }
        for (port, from, decisions) in publishedGroups(a) {
            let admitted = decisions.count { $0.admitted }
            out.append("  \(port) from \(from): admitted by \(admitted) of \(decisions.count) nodes")
            for p in decisions {
                let address = a.node(p.to).map { " (\($0.address))" } ?? ""
                out.append("    \(p.to)\(address): \(verdictWord(p)): \(p.detail)")
            }
        }
        return out
    }

    static func publishedMarkdown(_ a: AWSAuditResult) -> [String] {
        var out: [String] = []
        for c in a.clients {
            out.append("- Clients \(c.group ?? c.clients): " + assumption(c))
        }
        out += ["", "| Port | From | Node | Admitted | Why |", "|---|---|---|---|---|"]
        for (port, from, decisions) in publishedGroups(a) {
            for p in decisions {
                let address = a.node(p.to).map { " (\($0.address))" } ?? ""
                let causes = (p.causes ?? []).isEmpty ? "" : " (`" + p.causes!.map(\.rawValue).joined(separator: "`, `") + "`)"
                out.append(
                    "| \(port) | \(from) | \(p.to)\(address) | \(verdictWord(p))\(causes) | \(p.detail.replacingOccurrences(of: "|", with: "\\|")) |")
            }
        }
        return out
    }

    /// Which CIDRs the network ACL rules were evaluated for, and why those.
    static func assumption(_ c: AWSClientAddresses) -> String {
        c.source == .unknown ? "network ACLs not evaluated: \(c.detail)" : "network ACLs evaluated for \(c.detail)"
    }

    /// Published decisions by port and client, in the audit's order.
    static func publishedGroups(_ a: AWSAuditResult) -> [(PublishedPort, String, [AWSPathDecision])] {
        var groups: [(PublishedPort, String, [AWSPathDecision])] = []
        for p in a.published {
            if let i = groups.firstIndex(where: { $0.0 == p.kindID && $0.1 == p.from }) {
                groups[i].2.append(p)
            } else {
                groups.append((p.kindID, p.from, [p]))
            }
        }
        return groups
    }

    static func verdictWord(_ p: AWSPathDecision) -> String {
        switch (p.verdict, p.location) {
        case (.open, _): return "admitted"
        case (.blocked, .returnPath?): return "NOT ADMITTED (no return path)"
        case (.blocked, _): return "NOT ADMITTED"
        default: return "unknown"
        }
    }

    static func describe(_ n: AWSNodeMatch) -> String {
        guard let id = n.instanceId else { return "NOT FOUND: " + (n.problem ?? "no instance") }
        let groups = n.securityGroups.isEmpty ? "no security group" : n.securityGroups.joined(separator: ", ")
        return "\(id), \(n.subnetId ?? "unknown subnet"), \(groups), \(n.networkAclId ?? "network ACL unknown")"
    }

    /// The results JSON with the audit's own field, `aws`, added at the top level (the document stays a
    /// valid `swarmprobe.results/v1`: readers ignore fields they do not know).
    public static func json(results resultsJSON: String, audit: AWSAuditResult) -> String {
        let encoder = JSONDocument.encoder(pretty: true)
        guard let data = try? encoder.encode(audit), resultsJSON.hasPrefix("{\n") else { return resultsJSON }
        let auditText = String(decoding: data, as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated().map { $0.offset == 0 ? String($0.element) : "  " + $0.element }
            .joined(separator: "\n")
        return "{\n  \"aws\" : " + auditText + ",\n" + resultsJSON.dropFirst(2)
    }
}
