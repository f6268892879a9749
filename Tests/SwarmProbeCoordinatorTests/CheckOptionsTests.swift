import SwarmProbeCoordinator
import SwarmProbeCore
import Testing

@Suite("check options")
struct CheckOptionsTests {
    @Test("a check's auto timeout per path: the sender's floor, the round trips to both ends")
    func pathTimeout() {
        let auto = CheckOptions()
        #expect(auto.timeoutMs(rttMicros: 500, 700, floor: 200) == 200)
        #expect(auto.timeoutMs(rttMicros: 60_000, 40_000, floor: 200) == 400)
        #expect(auto.timeoutMs(rttMicros: 60_000, nil, floor: 200) == 480)
        #expect(auto.timeoutMs(rttMicros: 500, 700) == 500)
        #expect(CheckOptions(timeoutMs: 300).timeoutMs(rttMicros: 60_000, 40_000, floor: 200) == 300)
    }
}

@Suite("overlay networks' need")
struct OverlayNetworksTests {
    @Test("the largest driver MTU option of the overlay networks, 1500 when unset; other drivers ignored")
    func needed() {
        let body = """
            [{"Name":"ingress","Driver":"overlay","Options":{"com.docker.network.driver.overlay.vxlanid_list":"4096"}},
             {"Name":"ov1","Driver":"overlay","Options":{"com.docker.network.driver.mtu":"1400"}},
             {"Name":"jumbo","Driver":"overlay","Options":{"com.docker.network.driver.mtu":"8950","encrypted":""}},
             {"Name":"bridge","Driver":"bridge","Options":{"com.docker.network.driver.mtu":"9500"}}]
            """
        #expect(OverlayNetworks.neededPacketSize(networks: Array(body.utf8)) == 8950)
        #expect(OverlayNetworks.neededPacketSize(networks: Array(#"[{"Driver":"overlay","Options":{}}]"#.utf8)) == 1500)
        #expect(OverlayNetworks.neededPacketSize(networks: Array("not json".utf8)) == 1500)
    }
}
