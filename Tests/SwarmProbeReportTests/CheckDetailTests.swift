import SwarmProbeCore
import SwarmProbeReport
import SwarmProbeTestSupport
import Testing

@Suite("the sentence of each decided check")
struct CheckDetailTests {
    @Test("one line, naming what was seen", arguments: verdictTable)
    func sentence(_ c: VerdictCase) {
        let text = CheckDetail.sentence(decide(c.input), c.input)
        #expect(!text.isEmpty)
        #expect(!text.contains("\n"))
        for word in c.detailContains {
            #expect(text.contains(word), "detail \"\(text)\" lacks \"\(word)\"")
        }
    }

    @Test("an agent of another version: the sentence names the versions the agent reported")
    func incompatible() {
        let h = AgentHealth(.incompatible, "the agent at 10.0.0.2:7950 speaks protocol 1, this coordinator 2: upgrade the agent")
        let input = VerdictInput(
            kind: .udp4789, fromName: "m1", toName: "w1", expectedSource: ip("10.0.0.1"),
            senderAgent: .up, receiverAgent: h, sender: sent(.timeout), receiver: nil)
        let text = CheckDetail.sentence(decide(input), input)
        #expect(text.contains("protocol 1, this coordinator 2") && text.contains("nothing is claimed"), "\(text)")
    }

    @Test("round trips", arguments: [(0, "0.0 ms"), (500, "0.5 ms"), (1234, "1.23 ms"), (9999, "9.99 ms"), (10_000, "10 ms"), (15_999, "15 ms")])
    func millis(micros: Int, text: String) {
        #expect(formatMillis(micros) == text)
    }

    @Test("round trips as the Double they replace would print them")
    func sameAsTheDoubleItReplaces() {
        for micros in Array(0..<12_000) + [-5, -1234, 99_999, 1_234_567] {
            let old = micros < 10_000 ? "\(Double(micros / 10) / 100) ms" : "\(micros / 1000) ms"
            #expect(formatMillis(micros) == old, "\(micros)")
        }
    }
}

extension VerdictCase: CustomTestStringConvertible {
    public var testDescription: String { name }
}
