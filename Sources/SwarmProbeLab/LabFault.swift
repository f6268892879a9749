import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// A node of a namespace lab.
public struct LabNode: Sendable {
    public var name: String
    public var role: Role
    public var address: IPAddress
    /// The node's network namespace.
    public var namespace: String
    /// The bridge port (in the switch namespace) of the node's veth.
    public var bridgePort: String
}

/// A fault injected into a lab, each at a known place.
public enum LabFault: Sendable, CustomStringConvertible {
    /// The network (a security group, a NACL) drops `from -> to` on this kind; the answer way is fine.
    /// Either end may be `Lab.coordinator` (a load balancer's or client's path to a published port).
    case networkDrop(from: String, to: String, kind: KindID)
    /// The answers `to -> from` for this kind are dropped on the way back (stateless ACL).
    case returnPathDrop(from: String, to: String, kind: KindID)
    /// `node`'s own firewall drops or rejects the kind from `from` (nil: from everyone).
    case hostFirewall(node: String, from: String?, kind: KindID, reject: Bool)
    /// `node`'s traffic of this kind leaves from a second address (NAT, a second NIC, the kernel
    /// picking another source; moby#53004): 198.18.2.x, x as in the node's own address.
    case sourceNAT(node: String, kind: KindID)
    /// `node`'s link loses `percent` % of its IPv4 packets at random, each way (a congested or flaky
    /// link): probes and answers alike. Verdicts must not change. ARP is spared: a lost neighbour
    /// solicitation is re-sent by the kernel only after 1 s (`retrans_time_ms`), which no sub-second
    /// probe retry can cover; on a swarm the neighbour caches are warm, and on a cold lossy network
    /// `--timeout 1.5s` covers one kernel re-solicitation.
    case randomLoss(node: String, percent: Int)
    /// `node`'s own firewall drops the answers of this kind coming back from `from` (nil: from everyone):
    /// an input rule on the source port that does not accept established traffic first.
    case answersDroppedBySender(node: String, from: String?, kind: KindID)
    /// The network silently drops `from -> to` packets of this kind longer than `above` bytes (IP length): a
    /// path MTU black hole (a tunnel or firewall that drops what it cannot carry and says nothing).
    case bigPacketDrop(from: String, to: String, kind: KindID, above: Int)
    /// `from`'s packets to `to` go through a router (the switch namespace, routing on br0) whose route to `to`
    /// carries `mtu` bytes: larger packets with Don't Fragment set get "fragmentation needed" back.
    case routedHop(from: String, to: String, mtu: Int)
    /// `node`'s own firewall drops the probes of this kind it sends to `to` (nil: to everyone): an output rule
    /// on new connections (a hardened image's OUTPUT policy of DROP, ufw's `default deny outgoing`). What
    /// others send it, and its answers to them, pass.
    case senderFirewall(node: String, to: String?, kind: KindID)

    public var description: String {
        switch self {
        case let .networkDrop(f, t, k): return "network drops \(k) \(f) -> \(t)"
        case let .returnPathDrop(f, t, k): return "network drops the answers of \(k) on the way back \(t) -> \(f)"
        case let .hostFirewall(n, f, k, r): return "\(n)'s firewall \(r ? "rejects" : "drops") \(k) from \(f ?? "everyone")"
        case let .sourceNAT(n, k): return "\(n)'s \(k) traffic leaves from a second address"
        case let .randomLoss(n, p): return "\(n)'s link loses \(p) % of its packets each way"
        case let .answersDroppedBySender(n, f, k): return "\(n)'s firewall drops the answers of \(k) from \(f ?? "everyone")"
        case let .bigPacketDrop(f, t, k, above): return "network silently drops \(k) packets over \(above) bytes \(f) -> \(t)"
        case let .routedHop(f, t, mtu): return "\(f) -> \(t) crosses a router whose next hop carries \(mtu) bytes"
        case let .senderFirewall(n, t, k): return "\(n)'s own firewall drops its outgoing \(k) to \(t ?? "everyone")"
        }
    }
}
