import SwarmProbeCapture
import SwarmProbeCore
import Testing

@Suite("capture filters")
struct CaptureFilterTests {
    let swarmKinds = [KindID(proto: .tcp, port: 2377), KindID(proto: .udp, port: 7946), KindID(proto: .esp, port: nil)]

    @Test("the filter for an address and its kinds")
    func expressions() throws {
        let v4 = try #require(IPAddress("198.18.1.11"))
        #expect(CaptureFilter.bpf(address: v4, kinds: swarmKinds)
                == "host 198.18.1.11 and ((tcp port 2377 and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0) or (udp port 7946) or (ip proto 50))")
        let v6 = try #require(IPAddress("2001:2::11"))
        #expect(CaptureFilter.bpf(address: v6, kinds: swarmKinds)
                == "host 2001:2::11 and ((tcp port 2377) or (udp port 7946) or (ip6 proto 50))")
        #expect(CaptureFilter.bpf(address: v4, kinds: []) == "host 198.18.1.11")
        #expect(CaptureFilter.bpf(address: v4, kinds: swarmKinds + swarmKinds.reversed())
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
    static let all = [KindID(proto: .tcp, port: 2377), KindID(proto: .tcp, port: 7946), KindID(proto: .udp, port: 7946),
                      KindID(proto: .udp, port: 4789), KindID(proto: .esp, port: nil)]
}
