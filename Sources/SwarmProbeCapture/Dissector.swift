import SwarmProbeCore

/// Turns one captured frame into a ``CapturedPacket``: link layer, IPv4 or IPv6, then TCP, UDP or ESP.
///
/// Every read is bounds-checked: any input, however short or malformed, gives a packet or nil, never a
/// trap. Nil means "not a packet swarmprobe looks at": another link or IP protocol, a non-first
/// fragment, an IPv6 extension header it does not walk, or a header cut short.
public enum Dissector {
    public static func dissect(linkType: Int32, _ bytes: [UInt8], timestamp: Int64 = 0) -> CapturedPacket? {
        bytes.withUnsafeBytes { dissect(linkType: linkType, $0, timestamp: timestamp) }
    }

    public static func dissect(linkType: Int32, _ bytes: UnsafeRawBufferPointer, timestamp: Int64 = 0) -> CapturedPacket? {
        guard let ip = ipPacket(linkType: linkType, Bytes(bytes)) else { return nil }
        return dissectIP(ip, timestamp: timestamp)
    }

    /// An IPv4 or IPv6 packet with no link-layer header in front (the version nibble decides).
    public static func dissectIP(_ bytes: [UInt8], timestamp: Int64 = 0) -> CapturedPacket? {
        bytes.withUnsafeBytes { dissectIP(Bytes($0), timestamp: timestamp) }
    }

    // MARK: Link layer

    private static let etherTypeIPv4: UInt16 = 0x0800
    private static let etherTypeIPv6: UInt16 = 0x86DD
    private static let vlanEtherTypes: Set<UInt16> = [0x8100, 0x88A8, 0x9100]
    /// AF_INET everywhere; AF_INET6 on Linux (10), the BSDs (24), FreeBSD (28) and Darwin (30).
    private static let afInet: Set<UInt32> = [2]
    private static let afInet6: Set<UInt32> = [10, 24, 28, 30]
    private static let nfulaPayload: UInt16 = 9

    /// The IP packet inside a frame of the given link type.
    static func ipPacket(linkType: Int32, _ b: Bytes) -> Bytes? {
        switch linkType {
        case LinkType.ethernet:
            guard var type = b.be16(12) else { return nil }
            var offset = 14
            var tags = 0
            while vlanEtherTypes.contains(type) {
                tags += 1
                guard tags <= 4, let inner = b.be16(offset + 2) else { return nil }
                type = inner
                offset += 4
            }
            return ipAfterEtherType(type, b.suffix(from: offset))
        case LinkType.linuxSLL:
            guard let type = b.be16(14) else { return nil }
            return ipAfterEtherType(type, b.suffix(from: 16))
        case LinkType.linuxSLL2:
            guard let type = b.be16(0), b.count >= 20 else { return nil }
            return ipAfterEtherType(type, b.suffix(from: 20))
        case LinkType.null:
            guard let le = b.le32(0), let be = b.be32(0) else { return nil }
            let families = [le, be]
            guard families.contains(where: { afInet.contains($0) || afInet6.contains($0) }) else { return nil }
            return b.suffix(from: 4)
        case LinkType.loop:
            guard let family = b.be32(0), afInet.contains(family) || afInet6.contains(family) else { return nil }
            return b.suffix(from: 4)
        case LinkType.raw, LinkType.rawOpenBSD, LinkType.linktypeRaw, LinkType.ipv4, LinkType.ipv6:
            // The version nibble decides, also for LINKTYPE_IPV4: libpcap labels every `nflog:N`
            // payload IPV4 once that link type is selected, IPv6 ones included.
            return b
        case LinkType.nflog:
            return nflogPayload(b)
        default:
            return nil
        }
    }

    private static func ipAfterEtherType(_ type: UInt16, _ rest: Bytes?) -> Bytes? {
        guard type == etherTypeIPv4 || type == etherTypeIPv6 else { return nil }
        return rest
    }

    /// `nflog_hdr_t` (family, version, resource id: 4 bytes), then TLVs: a 16-bit length that counts
    /// the 4-byte TLV header, a 16-bit type, both in the reading host's byte order (libpcap swaps them
    /// when it reads a file from a host of the other order), each TLV padded to 4 bytes.
    /// NFULA_PAYLOAD (9) holds the IP packet.
    static func nflogPayload(_ b: Bytes) -> Bytes? {
        guard b.count >= 4 else { return nil }
        var offset = 4
        while let length = b.host16(offset), let rawType = b.host16(offset + 2) {
            let length = Int(length)
            guard length >= 4 else { return nil }  // also what keeps this loop finite
            if rawType & 0x7FFF == nfulaPayload {  // bit 15 is netlink's "nested" flag
                // A payload cut by the snapshot length runs past the end: keep what is there.
                let end = min(offset + length, b.count)
                return b.slice(offset + 4, end)
            }
            offset += (length + 3) & ~3
        }
        return nil
    }

    // MARK: IP

    static func dissectIP(_ b: Bytes, timestamp: Int64) -> CapturedPacket? {
        guard let first = b.u8(0) else { return nil }
        switch first >> 4 {
        case 4: return dissectIPv4(b, timestamp: timestamp)
        case 6: return dissectIPv6(b, timestamp: timestamp)
        default: return nil
        }
    }

    private static func dissectIPv4(_ b: Bytes, timestamp: Int64) -> CapturedPacket? {
        guard let first = b.u8(0), let totalLength = b.be16(2), let fragment = b.be16(6),
            let proto = b.u8(9), let s = b.slice(12, 16), let d = b.slice(16, 20)
        else { return nil }
        let headerLength = Int(first & 0x0F) * 4
        guard headerLength >= 20, headerLength <= b.count else { return nil }
        guard fragment & 0x1FFF == 0 else { return nil }  // a later fragment has no transport header
        // Zero total length: a TSO/BIG TCP super-packet seen on the sending host; use what was captured.
        // Shorter than captured: Ethernet padding follows; longer: the snapshot length cut it.
        let end = totalLength == 0 ? b.count : min(Int(totalLength), b.count)
        guard end >= headerLength, let transport = b.slice(headerLength, end) else { return nil }
        let source = IPAddress.v4(s[0], s[1], s[2], s[3])
        let destination = IPAddress.v4(d[0], d[1], d[2], d[3])
        return dissectTransport(proto, transport, source: source, destination: destination, timestamp: timestamp)
    }

    private static func dissectIPv6(_ b: Bytes, timestamp: Int64) -> CapturedPacket? {
        guard let payloadLength = b.be16(4), var next = b.u8(6), let s = b.slice(8, 24), let d = b.slice(24, 40),
            let source = IPAddress(bytes16: s.array), let destination = IPAddress(bytes16: d.array)
        else { return nil }
        // Zero payload length: a jumbogram (or a BIG TCP packet); use what was captured.
        let end = payloadLength == 0 ? b.count : min(40 + Int(payloadLength), b.count)
        var offset = 40
        var headers = 0
        while next != 6 && next != 17 && next != 50 {
            headers += 1
            guard headers <= 8 else { return nil }
            switch next {
            case 0, 43, 60:  // hop-by-hop, routing, destination options: (length + 1) * 8 bytes
                guard offset + 2 <= end, let n = b.u8(offset), let l = b.u8(offset + 1) else { return nil }
                next = n
                offset += (Int(l) + 1) * 8
            case 44:  // fragment: 8 bytes; only the first fragment has the transport header
                guard offset + 8 <= end, let n = b.u8(offset), let f = b.be16(offset + 2), f & 0xFFF8 == 0 else { return nil }
                next = n
                offset += 8
            case 51:  // authentication header: (length + 2) * 4 bytes
                guard offset + 2 <= end, let n = b.u8(offset), let l = b.u8(offset + 1) else { return nil }
                next = n
                offset += (Int(l) + 2) * 4
            default:  // no next header (59), ICMPv6, mobility, anything else
                return nil
            }
        }
        guard offset <= end, let transport = b.slice(offset, end) else { return nil }
        return dissectTransport(next, transport, source: source, destination: destination, timestamp: timestamp)
    }

    // MARK: Transport

    private static func dissectTransport(
        _ proto: UInt8, _ t: Bytes, source: IPAddress, destination: IPAddress,
        timestamp: Int64
    ) -> CapturedPacket? {
        switch proto {
        case 6:
            guard let sp = t.be16(0), let dp = t.be16(2), let offsetByte = t.u8(12), let flags = t.u8(13) else { return nil }
            let headerLength = Int(offsetByte >> 4) * 4
            guard headerLength >= 20, let payload = t.slice(headerLength, t.count) else { return nil }
            return CapturedPacket(
                timestamp: timestamp, source: source, destination: destination, proto: .tcp,
                sourcePort: Int(sp), destinationPort: Int(dp), tcpFlags: flags, payload: payload.array)
        case 17:
            guard let sp = t.be16(0), let dp = t.be16(2), let length = t.be16(4), t.count >= 8 else { return nil }
            // Trust the UDP length only where it is consistent with what is there.
            let end = (8...t.count).contains(Int(length)) ? Int(length) : t.count
            guard let payload = t.slice(8, end) else { return nil }
            return CapturedPacket(
                timestamp: timestamp, source: source, destination: destination, proto: .udp,
                sourcePort: Int(sp), destinationPort: Int(dp), tcpFlags: nil, payload: payload.array)
        case 50:
            return CapturedPacket(
                timestamp: timestamp, source: source, destination: destination, proto: .esp,
                sourcePort: nil, destinationPort: nil, tcpFlags: nil, payload: t.array)
        default:
            return nil
        }
    }
}

/// A bounds-checked view of captured bytes: every accessor returns nil rather than read past the end.
struct Bytes {
    let raw: UnsafeRawBufferPointer

    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    var count: Int { raw.count }
    var array: [UInt8] { [UInt8](raw) }

    subscript(i: Int) -> UInt8 { raw[i] }  // only after a bounds check (slice/u8)

    func u8(_ i: Int) -> UInt8? {
        guard i >= 0, i < raw.count else { return nil }
        return raw[i]
    }

    func be16(_ i: Int) -> UInt16? {
        guard i >= 0, i <= raw.count - 2 else { return nil }
        return UInt16(raw[i]) << 8 | UInt16(raw[i + 1])
    }

    func be32(_ i: Int) -> UInt32? {
        guard i >= 0, i <= raw.count - 4 else { return nil }
        return (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(raw[i + $1]) }
    }

    func le32(_ i: Int) -> UInt32? {
        guard i >= 0, i <= raw.count - 4 else { return nil }
        return (0..<4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32(raw[i + $1]) }
    }

    /// 16 bits in this host's byte order.
    func host16(_ i: Int) -> UInt16? {
        guard i >= 0, i <= raw.count - 2 else { return nil }
        return raw.loadUnaligned(fromByteOffset: i, as: UInt16.self)
    }

    /// Bytes `start..<end`, re-based to start at 0; nil unless `0 <= start <= end <= count`.
    func slice(_ start: Int, _ end: Int) -> Bytes? {
        guard start >= 0, start <= end, end <= raw.count else { return nil }
        return Bytes(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
    }

    func suffix(from start: Int) -> Bytes? { slice(start, raw.count) }
}
