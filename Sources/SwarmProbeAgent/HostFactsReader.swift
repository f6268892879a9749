import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// Reads what the routing mesh depends on in this agent's network namespace, at every hello: `ip_forward`,
/// the IPv4 routes, and from `nft list ruleset` (CAP_NET_ADMIN, like the nflog tap) the forward hook's
/// chains and the ports `DOCKER-INGRESS` redirects. Reads only, never changes anything; no shell. A fact it
/// cannot read stays nil.
enum HostFactsReader {
    /// How long `nft list ruleset` may take before it is killed and the firewall facts stay unknown.
    static let nftTimeout: TimeInterval = 2

    static func read() -> HostFacts {
        var facts = HostFacts()
        if let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8) {
            facts.ipForward = HostFactsParser.ipForward(text)
        }
        if let text = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8) {
            facts.routes = HostFactsParser.routes(text) ?? []
        }
        if let nft = try? Program.path("nft"),
            let out = try? Program.capture([nft, "list", "ruleset"], timeout: nftTimeout), out.status == 0, !out.timedOut
        {
            let r = HostFactsParser.ruleset(out.stdout)
            facts.forwardPolicy = r.forwardPolicy
            facts.forwardChains = r.forwardChains
            facts.ingressPorts = r.ingressPorts
        }
        return facts
    }

    /// `read()` on a thread of its own (it waits on nft), not on one of the few that run every task.
    static func readOffThread() async -> HostFacts {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: read()) }.start()
        }
    }
}
