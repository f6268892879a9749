import SwarmProbeCapture
import SwarmProbeCore
import Testing

/// Hand-built headers, big-endian.
private func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

private func ipv4(
    proto: UInt8, _ transport: [UInt8], options: [UInt8] = [], totalLength: Int? = nil,
    fragment: Int = 0
) -> [UInt8] {
    let ihl = (20 + options.count) / 4
    return [0x40 | UInt8(ihl), 0] + be16(totalLength ?? 20 + options.count + transport.count) + be16(1) + be16(fragment)
        + [64, proto, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2] + options + transport
}

private func udp(_ sp: Int, _ dp: Int, _ data: [UInt8], length: Int? = nil) -> [UInt8] {
    be16(sp) + be16(dp) + be16(length ?? 8 + data.count) + [0, 0] + data
}

private func tcp(_ sp: Int, _ dp: Int, flags: UInt8, options: [UInt8] = [], _ data: [UInt8] = []) -> [UInt8] {
    let offset = UInt8((20 + options.count) / 4) << 4
    return be16(sp) + be16(dp) + [0, 0, 0, 1, 0, 0, 0, 0, offset, flags, 0xFF, 0xFF, 0, 0, 0, 0] + options + data
}

private let ethernetHeader: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]

@Suite("dissector")
struct DissectorTests {
    @Test("IPv4 options (IHL 6) and TCP options (data offset 8) are skipped by their lengths")
    func headerLengths() throws {
        let mss: [UInt8] = [2, 4, 5, 0xB4, 1, 1, 4, 2, 1, 3, 3, 7]  // 12 bytes of options
        let packet = ipv4(proto: 6, tcp(40001, 2377, flags: 0x18, options: mss, Array("data".utf8)), options: [1, 1, 1, 0])
        let p = try #require(Dissector.dissectIP(packet, timestamp: 42))
        #expect(p.description == "198.18.0.1:40001 > 198.18.0.2:2377 tcp [P.] 4 bytes")
        #expect(p.payload == Array("data".utf8) && p.timestamp == 42)
    }

    @Test("Ethernet padding after a short packet is not payload; the IP and UDP lengths bound it")
    func padding() throws {
        let frame = ethernetHeader + ipv4(proto: 17, udp(7946, 7946, [1, 2])) + [UInt8](repeating: 0xEE, count: 16)
        let p = try #require(Dissector.dissect(linkType: LinkType.ethernet, frame))
        #expect(p.payload == [1, 2])
    }

    @Test("a packet cut by the snapshot length keeps what was captured")
    func snapshotCut() throws {
        let full = ipv4(proto: 17, udp(4789, 4789, [UInt8](repeating: 7, count: 100)))
        let p = try #require(Dissector.dissectIP(Array(full.prefix(40))))
        #expect(p.payload == [UInt8](repeating: 7, count: 12))
    }

    @Test(
        "nil for what swarmprobe does not look at",
        arguments: [
            ("ICMP", LinkType.raw, ipv4(proto: 1, [8, 0, 0, 0, 0, 0, 0, 0])),
            ("later fragment", LinkType.raw, ipv4(proto: 17, udp(1, 2, []), fragment: 0x2001)),
            ("IHL below 5", LinkType.raw, [0x44] + Array(ipv4(proto: 17, udp(1, 2, [])).dropFirst())),
            ("IHL past the end", LinkType.raw, [0x4F] + Array(ipv4(proto: 17, udp(1, 2, [])).dropFirst())),
            ("total length below IHL", LinkType.raw, ipv4(proto: 17, udp(1, 2, []), totalLength: 12)),
            (
                "TCP data offset 4", LinkType.raw,
                ipv4(proto: 6, Array(tcp(1, 2, flags: 2).prefix(12)) + [0x40] + Array(tcp(1, 2, flags: 2).dropFirst(13)))
            ),
            (
                "TCP data offset past the end", LinkType.raw,
                ipv4(proto: 6, Array(tcp(1, 2, flags: 2).prefix(12)) + [0xF0] + Array(tcp(1, 2, flags: 2).dropFirst(13)))
            ),
            ("UDP header cut", LinkType.raw, Array(ipv4(proto: 17, udp(1, 2, [])).prefix(25))),
            ("IP version 5", LinkType.raw, [0x55] + [UInt8](repeating: 0, count: 40)),
            ("ARP", LinkType.ethernet, Array(ethernetHeader.prefix(12)) + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)),
            ("802.3 length field", LinkType.ethernet, Array(ethernetHeader.prefix(12)) + [0x00, 0x40] + ipv4(proto: 17, udp(1, 2, []))),
            (
                "five VLAN tags", LinkType.ethernet,
                Array(ethernetHeader.prefix(12)) + [[UInt8]](repeating: [0x81, 0, 0, 1], count: 5).flatMap { $0 } + [0x08, 0x00]
                    + ipv4(proto: 17, udp(1, 2, []))
            ),
            ("unknown link type", 147, ipv4(proto: 17, udp(1, 2, []))),
            ("DLT_NULL family 7", LinkType.null, [7, 0, 0, 0] + ipv4(proto: 17, udp(1, 2, []))),
            ("NFLOG TLV length 0", LinkType.nflog, [2, 0, 0, 7, 0, 0, 9, 0] + ipv4(proto: 17, udp(1, 2, []))),
            ("NFLOG without payload TLV", LinkType.nflog, [2, 0, 0, 7, 8, 0, 1, 0, 8, 0, 0, 0]),
            ("empty", LinkType.ethernet, []),
        ] as [(String, Int32, [UInt8])])
    func dropped(_ what: String, linkType: Int32, bytes: [UInt8]) {
        #expect(Dissector.dissect(linkType: linkType, bytes) == nil, "\(what)")
    }

    @Test("NFLOG: TLVs are walked by their host-order lengths, padded to 4 bytes")
    func nflogTLVs() throws {
        let ip = ipv4(proto: 17, udp(7946, 7946, [0xAA]))
        func tlv(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
            let length = UInt16(4 + value.count)
            let header = withUnsafeBytes(of: length) { Array($0) } + withUnsafeBytes(of: type) { Array($0) }
            return header + value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }
        let record = [2, 0, 0, 7] + tlv(1, [8, 0, 1, 0]) + tlv(10, Array("abc\0x".utf8)) + tlv(9, ip)
        let p = try #require(Dissector.dissect(linkType: LinkType.nflog, record))
        #expect(p.payload == [0xAA] && p.destinationPort == 7946)
        // The same record cut inside the IP packet (3 padding bytes, then the payload byte) still gives the header.
        #expect(Dissector.dissect(linkType: LinkType.nflog, Array(record.dropLast(4)))?.payload == [])
    }

    @Test("an IPv6 header we cannot walk (routing header past the end, no next header) is dropped")
    func ipv6Unwalkable() {
        let src: [UInt8] = [0x20, 0x01, 0, 2] + [UInt8](repeating: 0, count: 11) + [1]
        let dst: [UInt8] = [0x20, 0x01, 0, 2] + [UInt8](repeating: 0, count: 11) + [2]
        func ipv6(_ next: UInt8, _ rest: [UInt8]) -> [UInt8] {
            [0x60, 0, 0, 0] + be16(rest.count) + [next, 64] + src + dst + rest
        }
        #expect(Dissector.dissectIP(ipv6(43, [17, 200, 0, 0, 0, 0, 0, 0] + udp(1, 2, []))) == nil)
        #expect(Dissector.dissectIP(ipv6(59, [])) == nil)
        #expect(Dissector.dissectIP(ipv6(58, [128, 0, 0, 0])) == nil)  // ICMPv6
        #expect(Dissector.dissectIP(ipv6(17, udp(1, 2, [3])))?.payload == [3])
    }

    @Test("thousands of random, truncated and bit-flipped buffers: a packet or nil, never a crash")
    func fuzz() throws {
        var rng = SplitMix64(seed: 0x5EED_CAFE)
        var seeds: [(Int32, [UInt8])] = []
        for name in ["eth", "any-sll", "any-sll2", "nflog", "synthetic-raw-ns", "synthetic-vlan", "synthetic-null-be", "synthetic-nflog-be"] {
            let (linkType, frames) = try OfflineCapture.frames(path: try fixture(name))
            seeds += frames.map { (linkType, $0.bytes) }
        }
        let linkTypes = Array(LinkType.supported) + [-1, 2, 147, 65535, Int32.min, Int32.max]
        var parsed = 0
        // Every truncation of every real frame, under its own link type and every other one.
        for (linkType, bytes) in seeds {
            for n in 0...bytes.count {
                let cut = Array(bytes.prefix(n))
                if Dissector.dissect(linkType: linkType, cut) != nil { parsed += 1 }
                _ = Dissector.dissect(linkType: linkTypes[Int(rng.next() % UInt64(linkTypes.count))], cut)
            }
        }
        // Random bit flips in real frames, and random garbage.
        for i in 0..<5000 {
            let (linkType, original) = seeds[i % seeds.count]
            var bytes = original
            for _ in 0..<(1 + Int(rng.next() % 4)) where !bytes.isEmpty {
                bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8))
            }
            _ = Dissector.dissect(linkType: linkType, bytes)
            let garbage = (0..<Int(rng.next() % 128)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = Dissector.dissect(linkType: linkTypes[Int(rng.next() % UInt64(linkTypes.count))], garbage)
            _ = Dissector.dissectIP([0x45] + garbage)
            _ = Dissector.dissectIP([0x60] + garbage)
            _ = Dissector.dissect(linkType: LinkType.nflog, [2, 0, 0, 7] + garbage)
        }
        #expect(parsed > 0)
        // The zero-length buffer through the raw-pointer entry point too.
        #expect(Dissector.dissect(linkType: LinkType.raw, UnsafeRawBufferPointer(start: nil, count: 0)) == nil)
    }
}

/// A small deterministic generator, so a fuzz failure reproduces.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
