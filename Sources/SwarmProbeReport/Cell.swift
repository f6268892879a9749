import SwarmProbeCore

enum Cell {
    /// The short symbol of one check in a matrix; non-required checks in parentheses.
    static func symbol(_ c: CheckResult?) -> String {
        guard let c else { return "." }
        let base: String
        switch c.verdict {
        case .open: base = "ok"
        case .blocked:
            switch c.location ?? .unknown {
            case .network: base = "NET"
            case .hostFirewall: base = "FW"
            case .senderFirewall: base = "OUT"
            case .returnPath: base = "RET"
            case .unknown: base = "??"
            }
        case .closed: base = "cl"
        case .agentDown: base = "dn"
        case .inconclusive: base = "?"
        }
        return c.required ? base : "(\(base))"
    }

    static let diagonal = "-"
    static let width = 5  // "(RET)"

    static let legend: [(String, String)] = [
        ("ok", "open"),
        ("NET", "blocked in the network"),
        ("FW", "blocked by the target's own firewall"),
        ("OUT", "blocked by the sender's own firewall (never left it)"),
        ("RET", "blocked on the return path"),
        ("??", "blocked, place unknown"),
        ("cl", "closed (nothing listens)"),
        ("dn", "agent down"),
        ("?", "inconclusive"),
        ("(..)", "not required by swarm"),
        ("-", "same node"),
        (".", "not checked"),
    ]
}
