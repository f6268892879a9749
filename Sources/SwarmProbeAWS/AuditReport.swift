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
        out += ["", "## Remediation", ""]
        if a.remediation.isEmpty {
            out.append(
                a.paths.contains { $0.verdict == .blocked }
                    ? "No command can be suggested: the blocked paths' security groups or ACLs are unknown."
                    : "Nothing to change: no path is blocked by a security group or network ACL.")
        } else {
            out.append(
                "These commands open every blocked path, least-privilege (the cluster's security group, or the nodes' own addresses). "
                    + "swarmprobe changed nothing in the account; review, then run them:")
            out += ["", "```sh"] + a.remediation + ["```"]
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func remediationLines(_ a: AWSAuditResult, indent: String, code: Bool) -> [String] {
        guard !a.remediation.isEmpty else {
            return [
                a.paths.contains { $0.verdict == .blocked }
                    ? "Remediation: none can be suggested (the blocking groups or ACLs are unknown)"
                    : "Remediation: nothing to change"
            ]
        }
        return ["Remediation (nothing was changed in the account; these commands open every blocked path):"]
            + a.remediation.map { indent + $0 }
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
