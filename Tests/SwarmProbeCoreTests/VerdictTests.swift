import Testing
@testable import SwarmProbeCore

/// One row of the verdict table: the evidence from both ends and what `decide` must say.
struct VerdictCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: VerdictInput
    var verdict: Verdict
    var location: Where?
    /// Words the detail must contain (names, the reason).
    var detailContains: [String]

    var testDescription: String { name }

    static let sender = ip("10.0.0.1")

    init(_ name: String, kind: KindID = .tcp7946, senderAgent: AgentHealth = .up, receiverAgent: AgentHealth = .up,
         sent: SenderEvidence?, got: ReceiverEvidence?, _ verdict: Verdict, _ location: Where? = nil,
         detail: [String] = []) {
        self.name = name
        self.input = VerdictInput(kind: kind, fromName: "m1", toName: "w1", expectedSource: VerdictCase.sender,
                                  senderAgent: senderAgent, receiverAgent: receiverAgent, sender: sent, receiver: got)
        self.verdict = verdict
        self.location = location
        self.detailContains = detail
    }
}

func sent(_ outcome: ProbeOutcome, attempts: Int = 3, rtt: Int? = nil, detail: String? = nil) -> SenderEvidence {
    SenderEvidence(outcome: outcome, attempts: attempts, rttMicros: rtt, detail: detail, nonces: [], sourcePort: 40000)
}

func missed(_ ms: Int, _ outcome: ProbeOutcome = .timeout) -> SenderEvidence {
    var e = sent(outcome)
    e.missedAnswerMs = ms
    return e
}

func got(_ mode: ListenerState.Mode?, kind: KindID = .tcp7946, detail: String? = nil, received: Int = 0, answered: Int = 0,
         from sources: [IPAddress] = [], capture: CaptureEvidence? = nil) -> ReceiverEvidence {
    ReceiverEvidence(listener: mode.map { ListenerState(kind: kind, mode: $0, detail: detail) }, received: received,
                     answered: answered, sourceAddresses: sources, capture: capture)
}

func cap(at: Bool? = nil, past: Bool? = nil, leaving: Bool? = nil) -> CaptureEvidence {
    CaptureEvidence(seenAtInterface: at, seenPastFirewall: past, answerSeenLeaving: leaving)
}

let verdictTable: [VerdictCase] = [
    // 1. The sender's agent.
    VerdictCase("sender agent down", senderAgent: AgentHealth(.down, "connection refused"), sent: nil, got: nil,
                .agentDown, detail: ["m1", "could not be reached: connection refused", "nothing was probed"]),
    VerdictCase("sender agent auth-failed", senderAgent: AgentHealth(.authFailed, "bad MAC"), sent: sent(.answered), got: got(.listening),
                .agentDown, detail: ["m1", "rejected our authentication: bad MAC"]),
    VerdictCase("sender evidence missing", sent: nil, got: got(.listening, received: 3, answered: 3),
                .agentDown, detail: ["m1", "stopped answering"]),

    // 2. What the sender saw alone.
    VerdictCase("answered tcp", sent: sent(.answered, attempts: 1, rtt: 1234), got: got(.listening, received: 1, answered: 1),
                .open, detail: ["w1 answered", "in 1.23 ms"]),
    VerdictCase("answered udp after retries", kind: .udp4789, sent: sent(.answered, attempts: 3, rtt: 15_000), got: nil,
                .open, detail: ["in 15 ms", "after 3 attempts"]),
    VerdictCase("answered esp, receiver agent down does not matter", kind: .esp, receiverAgent: AgentHealth(.down),
                sent: sent(.answered, attempts: 1), got: nil, .open),
    // 2b. A silent probe whose answer the sender's own interface saw arrive (missedAnswerMs).
    VerdictCase("answer arrived after the probe was counted silent: open, slow", kind: .udp7946, sent: missed(420),
                got: got(.listening, received: 3, answered: 3), .open, detail: ["w1's answer reached m1 420 ms after", "open but slow"]),
    VerdictCase("answer arrived as the probe was counted silent (within the margin): open", kind: .udp7946,
                sent: missed(-missedAnswerMarginMs), got: got(.listening, received: 1, answered: 1), .open, detail: ["as the probe"]),
    VerdictCase("answer arrived long before silence and never reached the socket: the sender's firewall", kind: .udp7946,
                sent: missed(-480), got: got(.listening, received: 3, answered: 3), .blocked, .returnPath,
                detail: ["480 ms before", "m1's own firewall"]),
    VerdictCase("a SYN-ACK dropped by the sender's firewall, whatever the target's capture says", kind: .tcp2377,
                sent: missed(-499), got: got(.listening, kind: .tcp2377, capture: cap(at: true, past: true, leaving: true)),
                .blocked, .returnPath, detail: ["m1's own firewall"]),
    VerdictCase("a missed answer on a receiver whose agent went down: still the sender's evidence", kind: .udp4789,
                receiverAgent: AgentHealth(.down), sent: missed(900), got: nil, .open, detail: ["900 ms after"]),
    VerdictCase("connected (another program holds the port)", kind: .tcp2377, sent: sent(.connected, attempts: 1),
                got: got(.observing, kind: .tcp2377), .open, detail: ["w1:2377/tcp", "handshake"]),
    VerdictCase("bad answer", sent: sent(.badAnswer), got: got(.listening), .inconclusive, detail: ["failed authentication", "token"]),
    VerdictCase("send failed", kind: .udp7946, sent: sent(.sendFailed, detail: "EADDRINUSE"), got: got(.listening, kind: .udp7946),
                .inconclusive, detail: ["m1 could not send", "EADDRINUSE"]),
    VerdictCase("send failed without detail", sent: sent(.sendFailed), got: nil, .inconclusive, detail: ["local error"]),

    // 3. Not answered, and the receiver's agent is not there: never blocked.
    VerdictCase("receiver agent down, refused", receiverAgent: AgentHealth(.down, "timed out"), sent: sent(.refused), got: nil,
                .agentDown, detail: ["refused the probe", "w1", "could not be reached: timed out", "nothing is claimed"]),
    VerdictCase("receiver agent down, timeout", receiverAgent: AgentHealth(.down), sent: sent(.timeout), got: nil,
                .agentDown, detail: ["w1", "nothing is claimed"]),
    VerdictCase("receiver agent auth-failed, unreachable", receiverAgent: AgentHealth(.authFailed), sent: sent(.unreachable), got: nil,
                .agentDown, detail: ["rejected our authentication"]),
    VerdictCase("receiver agent down despite its evidence, timeout", receiverAgent: AgentHealth(.down),
                sent: sent(.timeout), got: got(.listening, capture: cap(at: false)), .agentDown),
    VerdictCase("receiver evidence missing, timeout", sent: sent(.timeout), got: nil, .agentDown, detail: ["w1", "receive log is lost"]),
    VerdictCase("receiver evidence missing, refused", sent: sent(.refused), got: nil, .agentDown),

    // 4. Refused.
    VerdictCase("refused tcp, agent listening", sent: sent(.refused), got: got(.listening), .blocked, .hostFirewall,
                detail: ["a TCP reset", "w1's agent holds 7946/tcp", "REJECT"]),
    VerdictCase("refused udp, agent listening", kind: .udp7946, sent: sent(.refused), got: got(.listening, kind: .udp7946),
                .blocked, .hostFirewall, detail: ["an ICMP port-unreachable"]),
    VerdictCase("refused tcp, port observed", kind: .tcp2377, sent: sent(.refused), got: got(.observing, kind: .tcp2377),
                .blocked, .hostFirewall, detail: ["a program on w1 holds 2377/tcp"]),
    VerdictCase("refused udp, port observed", kind: .udp4789, sent: sent(.refused), got: got(.observing, kind: .udp4789),
                .blocked, .hostFirewall),
    VerdictCase("refused, listener unavailable", kind: .tcp2377, sent: sent(.refused),
                got: got(.unavailable, kind: .tcp2377, detail: "bind: permission denied"),
                .closed, detail: ["nothing listens on 2377/tcp", "(bind: permission denied)"]),
    VerdictCase("refused, no listener reported", sent: sent(.refused), got: got(nil), .closed),
    VerdictCase("refused, capture saw it arrive, listener unavailable", sent: sent(.refused), got: got(.unavailable, capture: cap(at: true)),
                .closed),
    VerdictCase("refused, never reached the interface (listening)", sent: sent(.refused), got: got(.listening, capture: cap(at: false)),
                .blocked, .network, detail: ["never reached w1's interface"]),
    VerdictCase("refused, never reached the interface (unavailable)", kind: .udp4789, sent: sent(.refused),
                got: got(.unavailable, kind: .udp4789, capture: cap(at: false)), .blocked, .network),

    // 5. ICMP unreachable.
    VerdictCase("unreachable, seen at interface", sent: sent(.unreachable, detail: "admin prohibited"),
                got: got(.listening, capture: cap(at: true)), .blocked, .hostFirewall, detail: ["(admin prohibited)", "w1's own firewall"]),
    VerdictCase("unreachable, not seen at interface", sent: sent(.unreachable), got: got(.listening, capture: cap(at: false)),
                .blocked, .network, detail: ["never reached w1's interface"]),
    VerdictCase("unreachable, no capture", sent: sent(.unreachable), got: got(.listening), .blocked, .unknown,
                detail: ["capture tap"]),
    VerdictCase("unreachable, capture without interface tap", sent: sent(.unreachable), got: got(.observing, capture: cap(past: true)),
                .blocked, .unknown),

    // 6. Silence.
    VerdictCase("timeout, received and answered", sent: sent(.timeout, attempts: 3), got: got(.listening, received: 3, answered: 2),
                .blocked, .returnPath, detail: ["w1 received 3 of 3 probes and answered 2", "w1 -> m1"]),
    VerdictCase("timeout, received and answered, capture disagrees", kind: .udp7946, sent: sent(.timeout),
                got: got(.listening, kind: .udp7946, received: 1, answered: 1, capture: cap(at: false)), .blocked, .returnPath),
    VerdictCase("timeout, received and answered, from another address", kind: .udp7946, sent: sent(.timeout),
                got: got(.listening, kind: .udp7946, received: 3, answered: 3, from: [ip("10.9.9.9")]), .blocked, .returnPath,
                detail: ["came from 10.9.9.9", "advertise address 10.0.0.1", "moby#53004"]),
    VerdictCase("timeout, received but not answered", sent: sent(.timeout), got: got(.listening, received: 2, answered: 0),
                .inconclusive, detail: ["did not answer"]),
    VerdictCase("timeout, answer captured leaving", kind: .udp4789, sent: sent(.timeout),
                got: got(.observing, kind: .udp4789, capture: cap(at: true, past: true, leaving: true)), .blocked, .returnPath,
                detail: ["captured leaving"]),
    VerdictCase("timeout, not at interface", kind: .udp4789, sent: sent(.timeout),
                got: got(.observing, kind: .udp4789, capture: cap(at: false)), .blocked, .network, detail: ["security group"]),
    VerdictCase("timeout, not at interface, agent listening", sent: sent(.timeout), got: got(.listening, capture: cap(at: false, past: false)),
                .blocked, .network),
    VerdictCase("timeout, at interface, not past firewall", kind: .udp7946, sent: sent(.timeout),
                got: got(.observing, kind: .udp7946, capture: cap(at: true, past: false)), .blocked, .hostFirewall,
                detail: ["dropped by w1's own firewall"]),
    VerdictCase("timeout, at interface, not past firewall, listening", sent: sent(.timeout),
                got: got(.listening, capture: cap(at: true, past: false)), .blocked, .hostFirewall),
    VerdictCase("timeout, observing, past firewall", kind: .udp4789, sent: sent(.timeout),
                got: got(.observing, kind: .udp4789, capture: cap(at: true, past: true)), .open, detail: ["past its firewall"]),
    VerdictCase("timeout, observing, past firewall (no interface tap)", kind: .tcp2377, sent: sent(.timeout),
                got: got(.observing, kind: .tcp2377, capture: cap(past: true)), .open),
    VerdictCase("timeout, observing, no capture", kind: .tcp7946, sent: sent(.timeout), got: got(.observing), .inconclusive,
                detail: ["no capture evidence"]),
    VerdictCase("timeout, observing, only the interface tap", kind: .udp4789, sent: sent(.timeout),
                got: got(.observing, kind: .udp4789, capture: cap(at: true)), .inconclusive),
    VerdictCase("timeout, listening, past firewall but not logged", sent: sent(.timeout),
                got: got(.listening, capture: cap(at: true, past: true)), .inconclusive, detail: ["did not log it"]),
    VerdictCase("refused, live node leaves the port closed", kind: .tcp2377, sent: sent(.refused),
                got: got(.closed, kind: .tcp2377, detail: "nothing holds it"), .closed, detail: ["nothing listens on 2377/tcp"]),
    VerdictCase("timeout, listening, at interface, no nflog tap", kind: .udp7946, sent: sent(.timeout),
                got: got(.listening, kind: .udp7946, capture: cap(at: true)), .blocked, .hostFirewall,
                detail: ["reached w1's interface", "never w1's agent"]),
    VerdictCase("timeout, tcp SYN-ACK captured leaving", kind: .tcp7946, sent: sent(.timeout),
                got: got(.listening, capture: cap(at: true, past: true, leaving: true)), .blocked, .returnPath),
    VerdictCase("timeout, udp, listener unavailable", kind: .udp4789, sent: sent(.timeout),
                got: got(.unavailable, kind: .udp4789, detail: "no CAP_NET_RAW"), .inconclusive,
                detail: ["holds no listener on 4789/udp", "(no CAP_NET_RAW)"]),
    VerdictCase("timeout, udp, no listener reported", kind: .udp7946, sent: sent(.timeout), got: got(nil, kind: .udp7946), .inconclusive),
    VerdictCase("timeout, esp, listener unavailable", kind: .esp, sent: sent(.timeout), got: got(.unavailable, kind: .esp), .inconclusive),
    VerdictCase("timeout, tcp, listening, nothing seen", sent: sent(.timeout), got: got(.listening), .blocked, .unknown,
                detail: ["never received the probe", "capture tap"]),
    VerdictCase("timeout, udp, listening, nothing seen", kind: .udp7946, sent: sent(.timeout), got: got(.listening, kind: .udp7946),
                .blocked, .unknown),
    VerdictCase("timeout, esp, listening, nothing seen", kind: .esp, sent: sent(.timeout), got: got(.listening, kind: .esp),
                .blocked, .unknown),
    VerdictCase("timeout, tcp, listener unavailable", kind: .tcp2377, sent: sent(.timeout), got: got(.unavailable, kind: .tcp2377),
                .blocked, .unknown),
    VerdictCase("timeout, tcp, no listener reported", sent: sent(.timeout), got: got(nil), .blocked, .unknown),
]

@Suite("decide(_:)")
struct VerdictTests {
    @Test("the verdict table", arguments: verdictTable)
    func table(_ c: VerdictCase) {
        let d = decide(c.input)
        #expect(d.verdict == c.verdict)
        #expect(d.location == c.location)
        for word in c.detailContains {
            #expect(d.detail.contains(word), "detail \"\(d.detail)\" lacks \"\(word)\"")
        }
        #expect(!d.detail.isEmpty)
        #expect(!d.detail.contains("\n"))
        // Only rows whose receiver saw another source address report one.
        let other = (c.input.receiver?.sourceAddresses ?? []).filter { $0 != c.input.expectedSource }
        #expect(d.unexpectedSources == Array(Set(other)).sorted { $0.description < $1.description })
    }

    @Test("location is set exactly when the verdict is blocked", arguments: verdictTable)
    func locationIffBlocked(_ c: VerdictCase) {
        let d = decide(c.input)
        #expect((d.location != nil) == (d.verdict == .blocked))
    }

    @Test("the table reaches every verdict and every location")
    func tableCoversEverything() {
        let decisions = verdictTable.map { decide($0.input) }
        #expect(Set(decisions.map(\.verdict)) == Set(Verdict.allCases))
        #expect(Set(decisions.compactMap(\.location)) == Set(Where.allCases))
    }

    @Test("probes arriving from another address are reported, once each, sorted", arguments: [
        sent(.answered, attempts: 1), sent(.timeout), sent(.refused),
    ])
    func unexpectedSources(evidence: SenderEvidence) {
        let receiver = got(.listening, received: 4, answered: 4,
                           from: [ip("10.0.0.1"), ip("192.168.1.5"), ip("172.16.0.9"), ip("192.168.1.5")])
        let input = VerdictInput(kind: .udp4789, fromName: "m1", toName: "w1", expectedSource: ip("10.0.0.1"),
                                 senderAgent: .up, receiverAgent: .up, sender: evidence, receiver: receiver)
        #expect(decide(input).unexpectedSources == [ip("172.16.0.9"), ip("192.168.1.5")])
    }

    @Test("no unexpected sources when every probe came from the inventory address, or nothing was received")
    func noUnexpectedSources() {
        for sources in [[ip("10.0.0.1"), ip("10.0.0.1")], []] {
            let input = VerdictInput(kind: .tcp7946, fromName: "m1", toName: "w1", expectedSource: ip("10.0.0.1"),
                                     senderAgent: .up, receiverAgent: .up, sender: sent(.answered),
                                     receiver: got(.listening, received: sources.count, answered: sources.count, from: sources))
            #expect(decide(input).unexpectedSources.isEmpty)
        }
        let noReceiver = VerdictInput(kind: .tcp7946, fromName: "m1", toName: "w1", expectedSource: ip("10.0.0.1"),
                                      senderAgent: .up, receiverAgent: .up, sender: sent(.answered), receiver: nil)
        #expect(decide(noReceiver).unexpectedSources.isEmpty)
    }

    @Test("an IPv6 sender seen on its own address is not unexpected")
    func ipv6Sources() {
        let input = VerdictInput(kind: .udp4789, fromName: "m1", toName: "w1", expectedSource: ip("2001:db8::1"),
                                 senderAgent: .up, receiverAgent: .up, sender: sent(.timeout),
                                 receiver: got(.listening, received: 1, answered: 1, from: [ip("2001:DB8:0::1"), ip("fe80::1")]))
        #expect(decide(input).unexpectedSources == [ip("fe80::1")])
    }

    @Test("formatMillis", arguments: [(0, "0.0 ms"), (500, "0.5 ms"), (1234, "1.23 ms"), (9999, "9.99 ms"), (10_000, "10 ms"), (15_999, "15 ms")])
    func millis(micros: Int, text: String) {
        #expect(formatMillis(micros) == text)
    }

    @Test("verdicts order from best to worst as declared")
    func order() {
        #expect(Verdict.allCases.sorted() == [.open, .blocked, .closed, .agentDown, .inconclusive])
        #expect(Verdict.agentDown.rawValue == "agent-down")
        #expect(Where.hostFirewall.rawValue == "host-firewall")
        #expect(Where.returnPath.rawValue == "return-path")
    }
}

@Suite("formatMillis")
struct FormatMillisTests {
    @Test func sameAsTheDoubleItReplaces() {
        for micros in Array(0..<12_000) + [-5, -1234, 99_999, 1_234_567] {
            let old = micros < 10_000 ? "\(Double(micros / 10) / 100) ms" : "\(micros / 1000) ms"
            #expect(formatMillis(micros) == old, "\(micros)")
        }
    }
}
