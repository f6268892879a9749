import Foundation
import SwarmProbeCapture
import SwarmProbeCore
import Testing

@Suite("capture filters")
struct CaptureFilterTests {
    let swarmKinds = [KindID(proto: .tcp, port: 2377), KindID(proto: .udp, port: 7946), KindID(proto: .esp, port: nil)]

    @Test("the filter for an address and its kinds")
    func expressions() throws {
        let v4 = try #require(IPAddress("198.18.1.11"))
        #expect(
            CaptureFilter.bpf(address: v4, kinds: swarmKinds)
                == "host 198.18.1.11 and ((tcp port 2377 and (tcp[tcpflags] & tcp-syn != 0 or (src host 198.18.1.11 and src port 2377 and tcp[tcpflags] & tcp-rst != 0))) or (udp port 7946) or (ip proto 50))"
        )
        let v6 = try #require(IPAddress("2001:2::11"))
        #expect(
            CaptureFilter.bpf(address: v6, kinds: swarmKinds)
                == "host 2001:2::11 and ((tcp port 2377) or (udp port 7946) or (ip6 proto 50))")
        #expect(CaptureFilter.bpf(address: v4, kinds: []) == "host 198.18.1.11")
        #expect(
            CaptureFilter.bpf(address: v4, kinds: swarmKinds + swarmKinds.reversed())
                == CaptureFilter.bpf(address: v4, kinds: swarmKinds))
        #expect(CaptureFilter.bpfForNflog(address: v4, kinds: swarmKinds) == CaptureFilter.bpf(address: v4, kinds: swarmKinds))
        #expect(CaptureFilter.bpfForNflog(address: v6, kinds: swarmKinds) == nil)
        #expect(CaptureFilter.isNflogDevice("nflog:7") && CaptureFilter.isNflogDevice("nflog") && !CaptureFilter.isNflogDevice("nflogx"))
    }

    @Test("every generated filter compiles with libpcap, for v4 and v6, on Ethernet and cooked captures")
    func compiles() throws {
        let all = DefaultKinds.all
        for address in ["198.18.200.2", "2001:2::2"] {
            let filter = CaptureFilter.bpf(address: try #require(IPAddress(address)), kinds: all)
            for name in ["eth", "any-sll", "any-sll2", "synthetic-raw-ns"] {
                _ = try OfflineCapture.read(path: try fixture(name), filter: filter)
            }
        }
    }

    @Test("a bad expression is a filter error quoting it and libpcap's reason")
    func badExpression() throws {
        let path = try fixture("eth")
        let error = try #require(throws: CaptureError.self) { try OfflineCapture.read(path: path, filter: "udp port seventy") }
        #expect(error.code == .filter)
        #expect(error.description.hasPrefix("reading \(path): filter \"udp port seventy\": "))
    }
}

private enum DefaultKinds {
    static let all = [
        KindID(proto: .tcp, port: 2377), KindID(proto: .tcp, port: 7946), KindID(proto: .udp, port: 7946),
        KindID(proto: .udp, port: 4789), KindID(proto: .esp, port: nil),
    ]
}

/// The TCP clause on real packets: a pcap file (LINKTYPE_RAW) written here, read back through libpcap with
/// the filter.
@Suite("capture filters: which TCP segments pass")
struct CaptureFilterTCPTests {
    private func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    private func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) } }

    private func segment(_ from: [UInt8], _ sp: Int, _ to: [UInt8], _ dp: Int, flags: UInt8) -> [UInt8] {
        let tcp = be16(sp) + be16(dp) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]
        return [0x45, 0] + be16(20 + tcp.count) + be16(1) + [0x40, 0, 64, 6, 0, 0] + from + to + tcp
    }

    @Test("SYNs and SYN-ACKs either way and the node's own RSTs from the port pass; the prober's closing RST, a peer's RST and plain ACKs do not")
    func tcpSegments() throws {
        let me: [UInt8] = [198, 18, 1, 11], peer: [UInt8] = [198, 18, 1, 12]
        let segments: [(String, [UInt8])] = [
            ("syn in", segment(peer, 40000, me, 2377, flags: 0x02)),
            ("syn-ack out", segment(me, 2377, peer, 40000, flags: 0x12)),
            ("ack in", segment(peer, 40000, me, 2377, flags: 0x10)),
            ("prober's rst in", segment(peer, 40000, me, 2377, flags: 0x04)),
            ("reject rst out", segment(me, 2377, peer, 40001, flags: 0x14)),
            ("our probe's syn out", segment(me, 50000, peer, 2377, flags: 0x02)),
            ("peer's syn-ack in", segment(peer, 2377, me, 50000, flags: 0x12)),
            ("peer's reject rst in", segment(peer, 2377, me, 50001, flags: 0x14)),
            ("our closing rst out", segment(me, 50000, peer, 2377, flags: 0x04)),
        ]
        var file = le32(0xA1B2_C3D4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65535) + le32(101)
        for (i, s) in segments.enumerated() { file += le32(1_790_000_000) + le32(i) + le32(s.1.count) + le32(s.1.count) + s.1 }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tcp-filter-\(UUID().uuidString).pcap").path
        try Data(file).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try OfflineCapture.read(path: path).count == segments.count)
        let filter = CaptureFilter.bpf(address: try #require(IPAddress("198.18.1.11")), kinds: [KindID(proto: .tcp, port: 2377)])
        let passed = try OfflineCapture.read(path: path, filter: filter).map { Int($0.timestamp % 1_000_000) }
        #expect(passed.map { segments[$0].0 } == ["syn in", "syn-ack out", "reject rst out", "our probe's syn out", "peer's syn-ack in"])
    }
}
