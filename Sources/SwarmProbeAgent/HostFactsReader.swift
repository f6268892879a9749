import Foundation
import SwarmProbeCapture
import SwarmProbeCore
import SwarmProbeProcess

/// Reads what the routing mesh depends on in this agent's network namespace, at every hello: `ip_forward`,
/// the IPv4 routes, from `nft list ruleset` (CAP_NET_ADMIN, like the nflog tap) the forward hook's chains and
/// the ports `DOCKER-INGRESS` redirects, and the interface VXLAN leaves by. Reads only, never changes anything; no shell. A fact it
/// cannot read stays nil.
enum HostFactsReader {
    /// How long `nft list ruleset` may take before it is killed and the firewall facts stay unknown.
    static let nftTimeout: TimeInterval = 2

    static func read(address: IPAddress) -> HostFacts {
        var facts = HostFacts()
        facts.interface = NetworkInterfaces.device(for: address).map(interface)
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

    /// The interface's MTU and driver from sysfs, its transmit checksum offloads from `ethtool -k` (when installed).
    static func interface(_ name: String) -> InterfaceFacts {
        var facts = InterfaceFacts(name: name)
        let sys = "/sys/class/net/\(name)"
        facts.mtu = mtu(name)
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: sys + "/device/driver") {
            facts.driver = URL(fileURLWithPath: target).lastPathComponent
        }
        if let ethtool = try? Program.path("ethtool"),
            let out = try? Program.capture([ethtool, "-k", name], timeout: nftTimeout), out.status == 0, !out.timedOut
        {
            let features = HostFactsParser.ethtoolFeatures(out.stdout)
            facts.txChecksumming = features["tx-checksumming"]
            facts.txChecksumIPGeneric = features["tx-checksum-ip-generic"]
        }
        return facts
    }

    /// The interface's MTU from sysfs.
    static func mtu(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/sys/class/net/\(name)/mtu", encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// `read(address:)` on a thread of its own (it waits on nft), not on one of the few that run every task.
    static func readOffThread(address: IPAddress) async -> HostFacts {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: read(address: address)) }.start()
        }
    }
}
