import SwarmProbeCore

/// `swarmprobe check --aws`: what the probes saw, next to what the AWS configuration says.
public enum AWSCombine {
    public struct Summary: Sendable, Equatable {
        /// Probe-blocked paths whose AWS rule is named.
        public var explained = 0
        /// Probe-blocked paths AWS allows: the host firewall or something outside AWS.
        public var outsideAWS = 0
        /// Probe-open paths AWS denies.
        public var contradictions = 0

        public init(explained: Int = 0, outsideAWS: Int = 0, contradictions: Int = 0) {
            self.explained = explained
            self.outsideAWS = outsideAWS
            self.contradictions = contradictions
        }
    }

    /// Adds the AWS view to each check's detail. Verdicts stay the probes': packets outrank configuration.
    public static func annotate(_ results: inout Results, with audit: AWSAuditResult) -> Summary {
        var summary = Summary()
        for i in results.checks.indices {
            let c = results.checks[i]
            guard let path = audit.path(from: c.from, to: c.to, kind: c.kindID) else { continue }
            switch (c.verdict, path.verdict) {
            case (.blocked, .blocked):
                summary.explained += 1
                results.checks[i].detail += " AWS agrees: \(path.detail)"
            case (.blocked, .open):
                summary.outsideAWS += 1
                let place =
                    c.location == .hostFirewall || c.location == .senderFirewall
                    ? "" : " Look at the target's own firewall or at what lies outside AWS (a VPN, an on-premises firewall, routing)."
                results.checks[i].detail +=
                    " AWS security groups and network ACLs allow this path, so the block is not in AWS's configuration.\(place)"
            case (.open, .blocked):
                summary.contradictions += 1
                results.checks[i].detail +=
                    " Contradiction worth a look: AWS's configuration denies this path (\(path.detail)), yet the probes got through (a rule changed during the check, or traffic takes another way than the one evaluated)."
            default:
                continue
            }
        }
        return summary
    }
}
