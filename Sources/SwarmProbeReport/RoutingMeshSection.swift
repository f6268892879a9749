import Foundation
import SwarmProbeCore

/// The "Routing mesh" section: per published port, one line per node (answered, refused, silent, and where it
/// died), and under each failing node the finding that explains it, worded for whoever fixes the load balancer.
enum RoutingMeshSection {
    struct Row {
        var node: String
        var state: String
        var open: Bool
        var finding: NodeFinding?
    }

    struct PortBlock {
        var title: String
        var rows: [Row]
    }

    static func blocks(_ mesh: RoutingMesh, checks: [CheckResult], findings: [NodeFinding]) -> [PortBlock] {
        mesh.ports.map { port in
            let name = port.service.map { "service \($0), \(port.mode.rawValue) mode" } ?? "pre-flight, before the service exists"
            let expected =
                port.mode == .host
                ? "answers only where a task runs" + (port.taskNodes.isEmpty ? " (none running)" : ": \(port.taskNodes.joined(separator: ", "))")
                : "required on every node" + (port.taskNodes.isEmpty ? "" : "; tasks on \(port.taskNodes.joined(separator: ", "))")
            let rows = checks.filter { $0.kindID == port.kindID && $0.from == mesh.client }.map { c in
                Row(
                    node: c.to, state: state(c), open: c.verdict == .open,
                    finding: findings.first { $0.node == c.to && $0.port == port.kindID })
            }
            return PortBlock(title: "\(port.port)/\(port.proto.rawValue) (\(name); \(expected))", rows: rows)
        }
    }

    /// `answered`, `refused`, `silent: blocked in the network`, ...
    static func state(_ c: CheckResult) -> String {
        let seen: String
        switch c.sender?.outcome {
        case .answered?, .connected?: seen = "answered"
        case .refused?: seen = "refused"
        case .unreachable?: seen = "unreachable (ICMP)"
        case .timeout?: seen = "silent"
        case .badAnswer?: seen = "bad answer"
        case .sendFailed?: seen = "not sent"
        case nil: seen = "not probed"
        }
        switch c.verdict {
        case .open: return seen
        case .blocked:
            let w: String
            switch c.location ?? .unknown {
            case .network: w = "blocked in the network"
            case .hostFirewall: w = "blocked by the node's firewall"
            case .senderFirewall: w = "blocked by the sender's own firewall"
            case .returnPath: w = "the answer was lost on the way back"
            case .unknown: w = "blocked, where unknown"
            }
            return "\(seen): \(w)"
        case .closed: return "\(seen): nothing listens"
        case .agentDown: return "\(seen): the node's agent is down"
        case .inconclusive: return "\(seen): inconclusive (\(c.reason.rawValue))"
        }
    }

    static func terminal(_ mesh: RoutingMesh, checks: [CheckResult], findings: [NodeFinding], paint: Painter) -> [String] {
        var out = [paint.bold("Routing mesh: published ports probed from \(mesh.client) (\(mesh.clientAddress))")]
        for block in blocks(mesh, checks: checks, findings: findings) {
            out.append("  " + block.title)
            let width = block.rows.map(\.node.count).max() ?? 0
            for row in block.rows {
                let pad = String(repeating: " ", count: width - row.node.count)
                out.append("    \(row.node)\(pad)  " + (row.open ? paint.green(row.state) : paint.red(row.state)))
                if let f = row.finding {
                    out += wrap(f.detail, width: TerminalReport.width, indent: "      ")
                    if let fix = f.fix { out += wrap("fix: \(fix)", width: TerminalReport.width, indent: "        ", firstIndent: "      ") }
                }
            }
        }
        return out
    }

    static func markdown(_ mesh: RoutingMesh, checks: [CheckResult], findings: [NodeFinding]) -> [String] {
        var out = ["Published ports probed from **\(mesh.client)** (\(mesh.clientAddress)), standing for the clients and the load balancer.", ""]
        for block in blocks(mesh, checks: checks, findings: findings) {
            out.append("### \(block.title)")
            out.append("")
            out.append("| Node | Seen from \(mesh.client) | Why, and the fix |")
            out.append("|---|---|---|")
            for row in block.rows {
                let why = row.finding.map { f in f.detail + (f.fix.map { "; fix: \($0)" } ?? "") } ?? ""
                out.append("| \(row.node) | \(row.state) | \(why.replacingOccurrences(of: "|", with: "\\|")) |")
            }
            out.append("")
        }
        return out
    }
}
