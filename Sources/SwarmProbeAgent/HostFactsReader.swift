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

    static func read(address: IPAddress, peers: [IPAddress] = []) -> HostFacts {
        var facts = HostFacts()
        let held = NetworkInterfaces.addresses()
        facts.interface = held.first { $0.address == address }.map { interface($0.device) }
        facts.addresses = addresses(held, own: address, local: SourceAddress.isLocal(address))
        if !peers.isEmpty { facts.otherSources = otherSources(address: address, peers: peers, held: held) }
        facts.ipsec = ipsec()
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

    /// The addresses that could be advertised: not loopback, link-local or on Docker's own interfaces (docker_gwbridge,
    /// bridges, veths); the agent's own whatever it is, when held. `local`: the kernel binds `own`, listed or not
    /// (127.0.0.2 is local without being any interface's address).
    static func addresses(_ held: [(device: String, address: IPAddress)], own: IPAddress, local: Bool) -> [HostAddress] {
        var out: [HostAddress] = []
        if local && !held.contains(where: { $0.address == own }) {
            out.append(HostAddress(address: own, device: ListenAddress.isLoopbackOrLinkLocal(own) ? "lo" : "local"))
        }
        for h in held where !out.contains(where: { $0.address == h.address }) {
            let dockers = HostRoute(destination: CIDR(host: h.address), device: h.device).isDockers
            guard h.address == own || (!ListenAddress.isLoopbackOrLinkLocal(h.address) && !dockers) else { continue }
            out.append(HostAddress(address: h.address, device: h.device))
        }
        return out
    }

    /// The source address the kernel picks toward each peer (a UDP socket connected there: nothing is sent), where
    /// it is not `address`, grouped by it. Peers of the other family, the agent's own address and peers with no
    /// route (the probes say that) are left out.
    static func otherSources(address: IPAddress, peers: [IPAddress], held: [(device: String, address: IPAddress)]) -> [SourceChoice] {
        var groups: [SourceChoice] = []
        var seen: Set<IPAddress> = [address]
        for peer in peers where peer.isIPv4 == address.isIPv4 && seen.insert(peer).inserted {
            guard let source = SourceAddress.toward(peer), source != address else { continue }
            if let i = groups.firstIndex(where: { $0.source == source }) {
                groups[i].peers.append(peer)
            } else {
                groups.append(SourceChoice(source: source, device: held.first { $0.address == source }?.device, peers: [peer]))
            }
        }
        return groups
    }

    /// What the encrypted overlay needs of the kernel, from the lists the kernel and its packages keep (nothing is
    /// loaded): the kernel's config only when there are no module lists (a kernel without modules).
    static func ipsec() -> IPsecSupport? {
        func text(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
        var s = HostFactsParser.KernelSources()
        s.loaded = text("/proc/modules").map(HostFactsParser.loadedModules)
        s.crypto = text("/proc/crypto").map(HostFactsParser.cryptoAlgorithms)
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let modules = "/lib/modules/\(release)"
        s.builtin = text(modules + "/modules.builtin").map(HostFactsParser.moduleList)
        s.onDisk = text(modules + "/modules.dep").map(HostFactsParser.moduleList)
        if s.builtin == nil {
            if let config = text("/boot/config-\(release)") {
                s.config = HostFactsParser.kernelConfig(config)
            } else if FileManager.default.fileExists(atPath: "/proc/config.gz"), let gzip = try? Program.path("gzip"),
                let out = try? Program.capture([gzip, "-dc", "/proc/config.gz"], timeout: nftTimeout), out.status == 0, !out.timedOut
            {
                s.config = HostFactsParser.kernelConfig(out.stdout)
            }
        }
        return HostFactsParser.ipsec(s)
    }

    /// `read(address:peers:)` on a thread of its own (it waits on nft), not on one of the few that run every task.
    static func readOffThread(address: IPAddress, peers: [IPAddress] = []) async -> HostFacts {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: read(address: address, peers: peers)) }.start()
        }
    }
}
