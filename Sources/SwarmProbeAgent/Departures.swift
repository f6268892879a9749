import Foundation
import SwarmProbeCore

/// One of this agent's own probes leaving its interface, as the interface tap saw it. libpcap sees an
/// outgoing packet only once the host's output hook (nftables, iptables, ufw) let it through.
struct Departure: Sendable, Equatable, Timestamped {
    /// The probe's kind (its destination port) and target.
    var kind: KindID
    var peer: IPAddress
    /// This agent's port the probe left from (TCP: the try's source port).
    var localPort: Int
    /// The first 8 bytes of the try's nonce (UDP, ESP); 0 for TCP, matched by port.
    var nonceKey: UInt64
    var timeMs: Int64

    static func key(_ nonce: [UInt8]) -> UInt64 {
        nonce.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// Which of a run's silent probes never left this node: none of their tries was seen leaving by the
/// interface tap (UDP and ESP tries matched by nonce, TCP SYNs by target, kind and the try's source port,
/// none from before the probe began). Their own host kept them in: an output rule of its firewall.
///
/// Not seeing is evidence only where the tap would have seen: the caller passes only runs over which the
/// interface tap ran and lost nothing. Beyond that, no claim for
/// - a kind the tap does not watch, or a target that is this host's own (its packets never cross the
///   interface);
/// - a probe whose next hop was unresolved (`unresolved`: the kernel's neighbour entries still incomplete or
///   failed): the kernel holds packets until ARP answers, then drops them, and a probe never leaves for
///   that reason too (a target that is down on the same link). An unresolved entry for an address that is
///   no silent probe's target may be the gateway of any of them: then no claim at all.
/// - IPv6 (the neighbour table is not read for it).
enum Departures {
    static func neverLeft(
        silent: [SilentProbe], departures: [Departure], watched: Set<KindID>, local: Set<IPAddress>,
        unresolved: Set<IPAddress>
    ) -> [NeverLeftProbe] {
        let candidates = silent.filter { p in
            p.target.isIPv4 && watched.contains(p.kind) && !local.contains(p.target) && !unresolved.contains(p.target)
        }
        guard !candidates.isEmpty else { return [] }
        let targets = Set(silent.map(\.target))
        guard unresolved.isSubset(of: targets) else { return [] }

        struct TCPKey: Hashable { var peer: IPAddress; var kind: KindID; var port: Int }
        struct DatagramKey: Hashable { var peer: IPAddress; var kind: KindID; var nonce: UInt64 }
        var lastTCP: [TCPKey: Int64] = [:], lastDatagram: [DatagramKey: Int64] = [:]
        for d in departures {
            if d.kind.proto == .tcp {
                let k = TCPKey(peer: d.peer, kind: d.kind, port: d.localPort)
                lastTCP[k] = max(lastTCP[k] ?? .min, d.timeMs)
            } else {
                let k = DatagramKey(peer: d.peer, kind: d.kind, nonce: d.nonceKey)
                lastDatagram[k] = max(lastDatagram[k] ?? .min, d.timeMs)
            }
        }
        var out: [NeverLeftProbe] = []
        var listed = Set<NeverLeftProbe>()
        for p in candidates {
            let times: [Int64?]
            if p.kind.proto == .tcp {
                times = p.sourcePorts.map { lastTCP[TCPKey(peer: p.target, kind: p.kind, port: $0)] }
            } else {
                times = p.nonces.map { lastDatagram[DatagramKey(peer: p.target, kind: p.kind, nonce: Departure.key($0))] }
            }
            // Tries with nothing to match them by say nothing.
            guard !times.isEmpty else { continue }
            let left = times.contains { t in t.map { $0 >= p.startedAtMs } ?? false }
            let entry = NeverLeftProbe(peer: p.target, kind: p.kind)
            if !left && listed.insert(entry).inserted { out.append(entry) }
        }
        return out
    }

    /// The IPv4 neighbours whose link-layer address is not known (`/proc/net/arp` flags without ATF_COM:
    /// resolution under way or failed), from that file's text.
    static func unresolvedNeighbours(procNetARP text: String) -> Set<IPAddress> {
        var out = Set<IPAddress>()
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, let address = IPAddress(String(fields[0])) else { continue }
            let flags = fields[2].hasPrefix("0x") ? fields[2].dropFirst(2) : fields[2]
            guard let value = Int(flags, radix: 16) else { continue }
            if value & 0x2 == 0 { out.insert(address) }
        }
        return out
    }

    /// This host's unresolved IPv4 neighbours now (this network namespace's); empty when unreadable.
    static func unresolvedNeighbours() -> Set<IPAddress> {
        guard let text = try? String(contentsOfFile: "/proc/net/arp", encoding: .utf8) else { return [] }
        return unresolvedNeighbours(procNetARP: text)
    }
}

/// The sender's own firewall refusing a send (EPERM from sendmsg or connect: netfilter's output hook dropped
/// the packet) is certain without a tap: such reports say so in `SenderEvidence.egressBlocked`. A UDP probe
/// keeps its socket after a refused try and ends silent with the error as its detail (`UDPProbeClient`);
/// ESP and TCP end `send-failed`.
enum SendRefusal {
    static let text = String(cString: strerror(EPERM))

    static func marked(_ reports: [ProbeReport]) -> [ProbeReport] {
        reports.map { r in
            let e = r.evidence
            guard e.outcome == .sendFailed || e.outcome == .timeout, e.egressBlocked == nil, e.detail?.contains(text) == true else { return r }
            var r = r
            r.evidence.egressBlocked = .sendRefused
            return r
        }
    }
}
