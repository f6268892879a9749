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
