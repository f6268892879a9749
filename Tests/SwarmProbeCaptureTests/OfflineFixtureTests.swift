import SwarmProbeCapture
import SwarmProbeCore
import Testing

/// Every TCP/UDP/ESP packet b (198.18.200.2) saw on its veth, in order; ARP and b's two ICMP errors
/// (port 4789 unreachable, protocol 50 unreachable) are not in the list: the dissector drops them.
private let bothWays: [Expected] = [
    Expected("198.18.200.1:40001 > 198.18.200.2:2377 tcp [S] 0 bytes"),
    Expected("198.18.200.2:2377 > 198.18.200.1:40001 tcp [S.] 0 bytes"),
    Expected("198.18.200.1:40001 > 198.18.200.2:2377 tcp [.] 0 bytes"),
    Expected("198.18.200.1:40001 > 198.18.200.2:2377 tcp [P.] 9 bytes", "ping-2377"),
    Expected("198.18.200.2:2377 > 198.18.200.1:40001 tcp [.] 0 bytes"),
    Expected("198.18.200.2:2377 > 198.18.200.1:40001 tcp [P.] 9 bytes", "pong-2377"),
    Expected("198.18.200.1:40001 > 198.18.200.2:2377 tcp [.] 0 bytes"),
    Expected("198.18.200.2:2377 > 198.18.200.1:40001 tcp [F.] 0 bytes"),
    Expected("198.18.200.1:40001 > 198.18.200.2:2377 tcp [.] 0 bytes"),
    Expected("198.18.200.1:40001 > 198.18.200.2:2377 tcp [F.] 0 bytes"),
    Expected("198.18.200.2:2377 > 198.18.200.1:40001 tcp [.] 0 bytes"),
    Expected("198.18.200.1:40002 > 198.18.200.2:2378 tcp [S] 0 bytes"),
    Expected("198.18.200.2:2378 > 198.18.200.1:40002 tcp [R.] 0 bytes"),
    Expected("198.18.200.1:7946 > 198.18.200.2:7946 udp 9 bytes", "ping-7946"),
    Expected("198.18.200.2:7946 > 198.18.200.1:7946 udp 9 bytes", "pong-7946"),
    Expected("198.18.200.1:40003 > 198.18.200.2:4789 udp 6 bytes", "vxlan?"),
    Expected("198.18.200.1 > 198.18.200.2 esp 25 bytes", [0, 0, 0xAB, 0xCD, 0, 0, 0, 1] + Array("esp-probe-payload".utf8)),
]

/// What the nft rule `ip saddr 198.18.200.1 log group 7` (input, priority 100) let nflog:7 see: a's packets only.
private let inboundOnly = bothWays.filter { $0.description.hasPrefix("198.18.200.1") }

@Suite("offline captures")
struct OfflineFixtureTests {
    @Test(
        "each link type of the same traffic dissects to the same packets",
        arguments: [
            ("eth", LinkType.ethernet, 21),
            ("any-sll", LinkType.linuxSLL, 21),
            ("any-sll2", LinkType.linuxSLL2, 21),
        ])
    func bothDirections(name: String, linkType: Int32, records: Int) throws {
        let path = try fixture(name)
        let (fileLinkType, frames) = try OfflineCapture.frames(path: path)
        #expect(fileLinkType == linkType)
        #expect(frames.count == records)
        let packets = try OfflineCapture.read(path: path)
        #expect(packets.map(Expected.init) == bothWays)
    }

    @Test("nflog:7 holds only what passed the input hook, with the IP packet from NFULA_PAYLOAD")
    func nflog() throws {
        let path = try fixture("nflog")
        let (linkType, frames) = try OfflineCapture.frames(path: path)
        #expect(linkType == LinkType.nflog)
        #expect(frames.count == inboundOnly.count)
        let packets = try OfflineCapture.read(path: path)
        #expect(packets.map(Expected.init) == inboundOnly)
    }

    @Test("fields of single packets, exactly")
    func fields() throws {
        let packets = try OfflineCapture.read(path: try fixture("eth"))
        let syn = packets[0]
        #expect(syn.source == IPAddress(labA) && syn.destination == IPAddress(labB))
        #expect(syn.proto == .tcp && syn.sourcePort == 40001 && syn.destinationPort == 2377)
        #expect(syn.tcpFlags == 0x02 && syn.isSYN && !syn.isACK && !syn.isRST && !syn.isFIN)
        let synAck = packets[1]
        #expect(synAck.isSYN && synAck.isACK && synAck.tcpFlags == 0x12)
        let rst = packets[12]
        #expect(rst.isRST && rst.isACK && rst.tcpFlags == 0x14 && rst.sourcePort == 2378)
        let fin = packets[7]
        #expect(fin.isFIN && fin.isACK)
        let udp = packets[13]
        #expect(udp.proto == .udp && udp.tcpFlags == nil && udp.sourcePort == 7946 && udp.destinationPort == 7946)
        let esp = try #require(packets.last)
        #expect(esp.proto == .esp && esp.sourcePort == nil && esp.destinationPort == nil && esp.tcpFlags == nil)
        #expect(esp.payload.prefix(8) == [0, 0, 0xAB, 0xCD, 0, 0, 0, 1])
        // Timestamps: microseconds, in capture order, within the few seconds the script ran.
        #expect(packets.map(\.timestamp) == packets.map(\.timestamp).sorted())
        #expect(syn.timestamp > 1_700_000_000_000_000 && esp.timestamp - syn.timestamp < 10_000_000)
    }

    @Test("the same packet on eth, any and nflog has the same microsecond timestamp within a few ms")
    func timestampsAgree() throws {
        let eth = try OfflineCapture.read(path: try fixture("eth"))
        let sll2 = try OfflineCapture.read(path: try fixture("any-sll2"))
        let nflog = try OfflineCapture.read(path: try fixture("nflog"))
        #expect(abs(eth[0].timestamp - sll2[0].timestamp) < 1_000)
        // nflog: libpcap's read time; with `queue-threshold 1` the kernel sends each log event at once.
        #expect(nflog[0].timestamp >= eth[0].timestamp && nflog[0].timestamp - eth[0].timestamp < 20_000)
    }

    @Test("nanosecond files are read in microseconds; IPv6 extension headers, fragments, ESP over IPv6")
    func synthetic() throws {
        let path = try fixture("synthetic-raw-ns")
        let (linkType, frames) = try OfflineCapture.frames(path: path)
        #expect(linkType == LinkType.raw)  // LINKTYPE_RAW (101) in the file, DLT_RAW from libpcap
        #expect(frames.count == 7)
        #expect(frames[0].timestamp == 1_700_000_000_123_456)  // .123456789 s, truncated to µs
        #expect(frames[1].timestamp == 1_700_000_000_123_457)
        let packets = try OfflineCapture.read(path: path)
        #expect(
            packets.map(Expected.init) == [
                Expected("198.18.201.1:7946 > 198.18.201.2:7946 udp 6 bytes", "v4-udp"),
                Expected("[2001:2::1]:40000 > [2001:2::2]:4789 udp 10 bytes", "v6-hbh-udp"),
                Expected("[2001:2::1]:40001 > [2001:2::2]:2377 tcp [S] 0 bytes"),
                // the later IPv6 fragment, the later IPv4 fragment and the ICMP echo are dropped
                Expected("2001:2::2 > 2001:2::1 esp 14 bytes", [0, 0, 0x12, 0x34, 0, 0, 0, 9] + Array("v6-esp".utf8)),
            ])
    }

    @Test("VLAN tags, QinQ, and a byte-swapped DLT_NULL and NFLOG file")
    func otherLinkTypes() throws {
        #expect(
            try OfflineCapture.read(path: try fixture("synthetic-vlan")).map(Expected.init) == [
                Expected("198.18.201.1:40001 > 198.18.201.2:2377 tcp [S.] 6 bytes", "vlan42"),
                Expected("[2001:2::1]:7946 > [2001:2::2]:7946 udp 4 bytes", "qinq"),
            ])
        #expect(
            try OfflineCapture.read(path: try fixture("synthetic-null-be")).map(Expected.init) == [
                Expected("198.18.201.1:7946 > 198.18.201.2:7946 udp 7 bytes", "null-v4"),
                Expected("[2001:2::1]:40001 > [2001:2::2]:2377 tcp [R] 0 bytes"),
            ])
        // libpcap swaps the TLV lengths of a big-endian NFLOG file into this host's order.
        #expect(
            try OfflineCapture.read(path: try fixture("synthetic-nflog-be")).map(Expected.init) == [
                Expected("198.18.201.1:7946 > 198.18.201.2:7946 udp 8 bytes", "nflog-be"),
                Expected("198.18.201.1 > 198.18.201.2 esp 11 bytes", [0, 0, 0xAB, 0xCD, 0, 0, 0, 2] + Array("esp".utf8)),
            ])
    }

    @Test("a filter applied offline")
    func offlineFilter() throws {
        let eth = try fixture("eth")
        let gossip = try OfflineCapture.read(path: eth, filter: "udp port 7946")
        #expect(gossip.map(Expected.init) == bothWays.filter { $0.description.contains(":7946") })
        let kinds = [KindID(proto: .tcp, port: 2378), KindID(proto: .udp, port: 4789), KindID(proto: .esp, port: nil)]
        let filter = CaptureFilter.bpf(address: try #require(IPAddress(labB)), kinds: kinds)
        let probes = try OfflineCapture.read(path: eth, filter: filter)
        #expect(probes.map(Expected.init) == [bothWays[11], bothWays[12], bothWays[15], bothWays[16]])
        // The filter sees the frames the dissector drops: b's ICMP errors quote a's packets but are ICMP.
        let (_, frames) = try OfflineCapture.frames(path: eth, filter: filter)
        #expect(frames.count == 4)
        #expect(try OfflineCapture.read(path: eth, filter: "host 198.18.255.254").isEmpty)
        // Same filter on the cooked captures.
        #expect(try OfflineCapture.read(path: try fixture("any-sll2"), filter: filter).map(Expected.init) == probes.map(Expected.init))
    }

    @Test("filters do not compile for NFLOG; the error names the file and quotes libpcap")
    func nflogFilterRefused() throws {
        let path = try fixture("nflog")
        let error = try #require(throws: CaptureError.self) { try OfflineCapture.read(path: path, filter: "udp") }
        #expect(error.code == .filter)
        #expect(error.description == "reading \(path): filter \"udp\": NFLOG link-layer type filtering not implemented")
        #expect(CaptureFilter.bpfForNflog(address: try #require(IPAddress("2001:2::1")), kinds: []) == nil)
    }

    @Test("a missing or damaged file is one clear error")
    func badFiles() throws {
        let missing = try #require(throws: CaptureError.self) { try OfflineCapture.read(path: "/nonexistent/x.pcap") }
        #expect(missing.code == .open)
        #expect(missing.description.hasPrefix("reading /nonexistent/x.pcap: "))
        #expect(missing.description.contains("No such file or directory"))
        let notPcap = try fixture("eth").replacingOccurrences(of: "eth.pcap", with: "make-fixtures.sh")
        let damaged = try #require(throws: CaptureError.self) { try OfflineCapture.read(path: notPcap) }
        #expect(damaged.code == .open)
        #expect(!damaged.isPermissionDenied)
    }
}
