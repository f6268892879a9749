import SwarmProbeCore

/// BPF filter expressions (pcap-filter(7)) for the traffic a tap watches.
public enum CaptureFilter {
    /// Traffic to or from `address` on the given kinds, e.g.
    /// `host 198.18.1.11 and ((tcp port 2377 and (tcp[tcpflags] & tcp-syn != 0 or (src host 198.18.1.11 and src port 2377
    /// and tcp[tcpflags] & tcp-rst != 0))) or (udp port 7946) or (ip proto 50))`.
    ///
    /// `port` matches either end, so answers (SYN-ACK, echoes) pass too; of TCP only SYNs, and RSTs this
    /// node sends from the port (with IPv4). ESP is `ip proto 50`
    /// for an IPv4 address and `ip6 proto 50` for an IPv6 one (`ip6 proto` reads only the fixed
    /// header's next-header field: ESP behind IPv6 extension headers is not matched). No kinds:
    /// every packet to or from the address. Kinds are deduplicated, first occurrence first.
    public static func bpf(address: IPAddress, kinds: [KindID]) -> String {
        let host = "host \(address)"
        var seen = Set<KindID>()
        let clauses = kinds.filter { seen.insert($0).inserted }.map { kind -> String in
            switch (kind.proto, kind.port) {
            case (.esp, _): return address.isIPv4 ? "(ip proto 50)" : "(ip6 proto 50)"
            case let (.tcp, port?) where address.isIPv4:
                // Only the segments a probe is judged by (SYN, SYN-ACK), and this node's own RSTs from the port
                // (a closed port or a rejecting firewall, kept in the capture records for the record: the
                // verdicts use SYNs and SYN-ACKs): the kernel drops the ACKs, data, FINs and the prober's
                // closing RSTs of every probe connection before they wake the capture thread (two thirds of a
                // TCP probe's packets). libpcap cannot index TCP behind IPv6, whose taps take every segment.
                return "(tcp port \(port) and (tcp[tcpflags] & tcp-syn != 0 or (src \(host) and src port \(port) and tcp[tcpflags] & tcp-rst != 0)))"
            case let (proto, port?): return "(\(proto.rawValue) port \(port))"
            case let (proto, nil): return "(\(proto.rawValue))"  // KindID keeps ports for tcp/udp; defensive
            }
        }
        if clauses.isEmpty { return host }
        return "\(host) and (\(clauses.joined(separator: " or ")))"
    }

    /// The filter for an `nflog:N` device, or nil when the capture must go unfiltered.
    ///
    /// libpcap cannot compile any filter for the NFLOG link type ("NFLOG link-layer type filtering
    /// not implemented"). An nflog device offers a second link type, raw IPv4 (LINKTYPE_IPV4), for
    /// which filters compile and run on the logged packet itself; ``CaptureSession`` switches to it
    /// when given a filter on an nflog device. That program assumes IPv4 without looking at the
    /// version nibble, so for an IPv6 address this returns nil: select the traffic with the nft
    /// `log group` rule instead, and let the caller match the dissected packets.
    public static func bpfForNflog(address: IPAddress, kinds: [KindID]) -> String? {
        guard address.isIPv4 else { return nil }
        return bpf(address: address, kinds: kinds)
    }

    /// Whether `device` names a netfilter log device (`nflog`, `nflog:7`, `nflog:7,8`).
    public static func isNflogDevice(_ device: String) -> Bool {
        device == "nflog" || device.hasPrefix("nflog:")
    }
}
