/// The link-layer header types the dissector reads: libpcap's `DLT_` values (what `pcap_datalink`
/// returns, live or from a file), spelled out so callers need not import libpcap.
public enum LinkType {
    /// BSD loopback: a 4-byte address family in the byte order of the host that wrote it.
    public static let null: Int32 = 0
    /// Ethernet, with any number (up to 4) of 802.1Q / 802.1ad VLAN tags.
    public static let ethernet: Int32 = 1
    /// Raw IP, as most platforms number it.
    public static let raw: Int32 = 12
    /// Raw IP, as OpenBSD numbers it.
    public static let rawOpenBSD: Int32 = 14
    /// Raw IP, as pcap files number it (LINKTYPE_RAW); libpcap usually maps it to ``raw``.
    public static let linktypeRaw: Int32 = 101
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    public static let loop: Int32 = 108
    /// Linux cooked capture v1 (the `any` device, older libpcap).
    public static let linuxSLL: Int32 = 113
    /// Raw IPv4 (`nflog:N` offers it as its second link type).
    public static let ipv4: Int32 = 228
    /// Raw IPv6.
    public static let ipv6: Int32 = 229
    /// Linux netfilter log messages (`nflog:N`).
    public static let nflog: Int32 = 239
    /// Linux cooked capture v2 (the `any` device with `-y LINUX_SLL2`).
    public static let linuxSLL2: Int32 = 276

    /// Every link type ``Dissector/dissect(linkType:_:timestamp:)`` reads.
    public static let supported: Set<Int32> = [null, ethernet, raw, rawOpenBSD, linktypeRaw, loop, linuxSLL, ipv4, ipv6, nflog, linuxSLL2]
}
