import SwarmProbeCore

/// Required checks that are not open and share a cause: verdict, where, kind.
struct CauseFinding {
    var verdict: Verdict
    var location: Where?
    var kind: KindID
    var kindName: String
    /// One entry per target node, in inventory order.
    var targets: [TargetChecks]

    var checkCount: Int { targets.reduce(0) { $0 + $1.checks.count } }
}

struct TargetChecks {
    /// The target; for a finding blocked by the sender's own firewall, the sender (`isSender`).
    var target: String
    /// In inventory order of the sender (of the target, when grouped by sender).
    var checks: [CheckResult]
    var sources: [String] { checks.map(\.from) }
    /// Grouped by sender: its own firewall keeps these probes in, so the fix is its, whatever the targets.
    var isSender: Bool { checks.first?.location == .senderFirewall }
}

/// A node whose agent could not vouch for the checks it takes part in.
struct AgentFinding {
    var node: String
    var health: AgentHealth
    /// Required agent-down checks this node's agent is to blame for.
    var checks: [CheckResult]
    var kinds: [KindID]
}

/// Probes from one sender that arrived from an address other than its advertise address.
struct SourceFinding {
    var sender: String
    var addresses: [IPAddress]
    var targets: [String]
    var kinds: [KindID]
}

/// Non-required checks that are not open, grouped like findings.
struct InfoGroup {
    var verdict: Verdict
    var location: Where?
    var kind: KindID
    var kindName: String
    var checks: [CheckResult]
}

extension CheckResult {
    /// The agent at one end could not vouch for the path (down, or of another protocol version): the finding
    /// is the agent's, not the path's.
    var blamesAnAgent: Bool { verdict == .agentDown || reason == .agentIncompatible }
}
