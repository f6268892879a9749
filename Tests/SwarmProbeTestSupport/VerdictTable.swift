import SwarmProbeCore

/// The verdict table: every way evidence from both ends can go, with the verdict, place and reason
/// `decide` must give (SwarmProbeCoreTests) and the words its sentence must hold (SwarmProbeReportTests).

/// One row of the verdict table: the evidence from both ends and what `decide` must say.
public struct VerdictCase: Sendable {
    public var name: String
    public var input: VerdictInput
    public var verdict: Verdict
    public var location: Where?
    public var reason: Reason
    /// Words the sentence must contain (names, what was seen).
    public var detailContains: [String]

    public static let sender = ip("10.0.0.1")

    init(
        _ name: String, kind: KindID = .tcp7946, senderAgent: AgentHealth = .up, receiverAgent: AgentHealth = .up,
        sent: SenderEvidence?, got: ReceiverEvidence?, forwarded: Bool = false, _ verdict: Verdict, _ location: Where? = nil,
        why reason: Reason, detail: [String] = []
    ) {
        self.name = name
        self.input = VerdictInput(
            kind: kind, fromName: "m1", toName: "w1", expectedSource: VerdictCase.sender,
            senderAgent: senderAgent, receiverAgent: receiverAgent, sender: sent, receiver: got, forwarded: forwarded)
        self.verdict = verdict
        self.location = location
        self.reason = reason
        self.detailContains = detail
    }
}

public func sent(_ outcome: ProbeOutcome, attempts: Int = 3, rtt: Int? = nil, detail: String? = nil) -> SenderEvidence {
    SenderEvidence(outcome: outcome, attempts: attempts, rttMicros: rtt, detail: detail, nonces: [], sourcePort: 40000)
}

public func missed(_ ms: Int, _ outcome: ProbeOutcome = .timeout) -> SenderEvidence {
    var e = sent(outcome)
    e.missedAnswerMs = ms
    return e
}

/// A probe the sender's own host kept in (`egressBlocked`).
public func held(_ outcome: ProbeOutcome, _ how: EgressBlock, attempts: Int = 3, detail: String? = nil) -> SenderEvidence {
    var e = sent(outcome, attempts: attempts, detail: detail)
    e.egressBlocked = how
    return e
}

public func got(
    _ mode: ListenerState.Mode?, kind: KindID = .tcp7946, detail: String? = nil, received: Int = 0, answered: Int = 0,
    from sources: [IPAddress] = [], capture: CaptureEvidence? = nil
) -> ReceiverEvidence {
    ReceiverEvidence(
        listener: mode.map { ListenerState(kind: kind, mode: $0, detail: detail) }, received: received,
        answered: answered, sourceAddresses: sources, capture: capture)
}

public func cap(at: Bool? = nil, past: Bool? = nil, leaving: Bool? = nil) -> CaptureEvidence {
    CaptureEvidence(seenAtInterface: at, seenPastFirewall: past, answerSeenLeaving: leaving)
}

public let verdictTable: [VerdictCase] = [
    // 1. The sender's agent.
    VerdictCase(
        "sender agent down", senderAgent: AgentHealth(.down, "connection refused"), sent: nil, got: nil,
        .agentDown, why: .senderAgentDown, detail: ["m1", "could not be reached: connection refused", "nothing was probed"]),
    VerdictCase(
        "sender agent auth-failed", senderAgent: AgentHealth(.authFailed, "bad MAC"), sent: sent(.answered), got: got(.listening),
        .agentDown, why: .senderAgentDown, detail: ["m1", "rejected our authentication: bad MAC"]),
    VerdictCase(
        "sender evidence missing", sent: nil, got: got(.listening, received: 3, answered: 3),
        .agentDown, why: .senderReportLost, detail: ["m1", "stopped answering"]),

    // 2. What the sender saw alone.
    VerdictCase(
        "answered tcp", sent: sent(.answered, attempts: 1, rtt: 1234), got: got(.listening, received: 1, answered: 1),
        .open, why: .answered, detail: ["w1 answered", "in 1.23 ms"]),
    VerdictCase(
        "answered udp after retries", kind: .udp4789, sent: sent(.answered, attempts: 3, rtt: 15_000), got: nil,
        .open, why: .answered, detail: ["in 15 ms", "after 3 attempts"]),
    VerdictCase(
        "answered esp, receiver agent down does not matter", kind: .esp, receiverAgent: AgentHealth(.down),
        sent: sent(.answered, attempts: 1), got: nil, .open, why: .answered),
    // 2b. A silent probe whose answer the sender's own interface saw arrive (missedAnswerMs).
    VerdictCase(
        "answer arrived after the probe was counted silent: open, slow", kind: .udp7946, sent: missed(420),
        got: got(.listening, received: 3, answered: 3), .open, why: .answerLate, detail: ["w1's answer reached m1 420 ms after", "open but slow"]),
    VerdictCase(
        "answer arrived as the probe was counted silent (within the margin): open", kind: .udp7946,
        sent: missed(-missedAnswerMarginMs), got: got(.listening, received: 1, answered: 1), .open, why: .answerLate, detail: ["as the probe"]),
    VerdictCase(
        "answer arrived long before silence and never reached the socket: the sender's firewall", kind: .udp7946,
        sent: missed(-480), got: got(.listening, received: 3, answered: 3), .blocked, .returnPath,
        why: .answerDroppedAtSender, detail: ["480 ms before", "m1's own firewall"]),
    VerdictCase(
        "a SYN-ACK dropped by the sender's firewall, whatever the target's capture says", kind: .tcp2377,
        sent: missed(-499), got: got(.listening, kind: .tcp2377, capture: cap(at: true, past: true, leaving: true)),
        .blocked, .returnPath, why: .answerDroppedAtSender, detail: ["m1's own firewall"]),
    VerdictCase(
        "a missed answer on a receiver whose agent went down: still the sender's evidence", kind: .udp4789,
        receiverAgent: AgentHealth(.down), sent: missed(900), got: nil, .open, why: .answerLate, detail: ["900 ms after"]),
    VerdictCase(
        "connected (another program holds the port)", kind: .tcp2377, sent: sent(.connected, attempts: 1),
        got: got(.observing, kind: .tcp2377), .open, why: .handshakeOnly, detail: ["w1:2377/tcp", "handshake"]),
    VerdictCase(
        "bad answer", sent: sent(.badAnswer), got: got(.listening), .inconclusive, why: .badAnswer, detail: ["failed authentication", "token"]),
    VerdictCase(
        "send failed", kind: .udp7946, sent: sent(.sendFailed, detail: "EADDRINUSE"), got: got(.listening, kind: .udp7946),
        .inconclusive, why: .sendFailed, detail: ["m1 could not send", "EADDRINUSE"]),
    VerdictCase("send failed without detail", sent: sent(.sendFailed), got: nil, .inconclusive, why: .sendFailed, detail: ["local error"]),
    // 2c. The probe never left the sender: its own firewall's output rules (egressBlocked).
    VerdictCase(
        "send refused with EPERM: the sender's own firewall, whatever the target saw", kind: .udp7946,
        sent: held(.sendFailed, .sendRefused, attempts: 1, detail: "Operation not permitted"), got: got(.listening, kind: .udp7946),
        .blocked, .senderFirewall, why: .droppedBySenderFirewall,
        detail: ["m1's own firewall refused to send", "Operation not permitted", "output rule on m1"]),
    VerdictCase(
        "send refused with EPERM, the target's agent down: still the sender's", kind: .esp, receiverAgent: AgentHealth(.down),
        sent: held(.sendFailed, .sendRefused, attempts: 1), got: nil, .blocked, .senderFirewall, why: .droppedBySenderFirewall,
        detail: ["never left m1"]),
    VerdictCase(
        "udp silent after a try refused with EPERM (its socket stays): the sender's own firewall", kind: .udp4789,
        sent: held(.timeout, .sendRefused, detail: "Operation not permitted"), got: got(.listening, kind: .udp4789),
        .blocked, .senderFirewall, why: .droppedBySenderFirewall, detail: ["m1's own firewall refused to send"]),
    VerdictCase(
        "silent, and the sender's tap saw no try leave: the sender's own firewall", sent: held(.timeout, .notSeenLeaving),
        got: got(.listening, capture: cap(at: false, past: false)), .blocked, .senderFirewall, why: .droppedBySenderFirewall,
        detail: ["m1's interface tap saw none of its 3 tries to w1 leave", "output rule on m1"]),
    VerdictCase(
        "silent udp never seen leaving, no tap on the target", kind: .udp4789, sent: held(.timeout, .notSeenLeaving),
        got: got(.listening, kind: .udp4789), .blocked, .senderFirewall, why: .droppedBySenderFirewall),
    VerdictCase(
        "silent, never seen leaving, the target's agent down: still the sender's", receiverAgent: AgentHealth(.down),
        sent: held(.timeout, .notSeenLeaving), got: nil, .blocked, .senderFirewall, why: .droppedBySenderFirewall),
    VerdictCase(
        "never seen leaving, yet the target's tap saw it arrive: the target's evidence wins", sent: held(.timeout, .notSeenLeaving),
        got: got(.listening, capture: cap(at: true, past: false)), .blocked, .hostFirewall, why: .droppedByTargetFirewall),
    VerdictCase(
        "never seen leaving, yet the target's agent logged it: the target's evidence wins", kind: .udp7946,
        sent: held(.timeout, .notSeenLeaving), got: got(.listening, kind: .udp7946, received: 2, answered: 2), .blocked, .returnPath,
        why: .answerLostOnReturn),
    VerdictCase(
        "an answer the sender's tap saw arrive outweighs its not seeing the probe leave", kind: .udp7946,
        sent: {
            var e = held(.timeout, .notSeenLeaving)
            e.missedAnswerMs = 300
            return e
        }(), got: got(.listening, kind: .udp7946, received: 3, answered: 3), .open, why: .answerLate),

    // 3. Not answered, and the receiver's agent is not there: never blocked.
    VerdictCase(
        "receiver agent down, refused", receiverAgent: AgentHealth(.down, "timed out"), sent: sent(.refused), got: nil,
        .agentDown, why: .targetAgentDown, detail: ["refused the probe", "w1", "could not be reached: timed out", "nothing is claimed"]),
    VerdictCase(
        "receiver agent down, timeout", receiverAgent: AgentHealth(.down), sent: sent(.timeout), got: nil,
        .agentDown, why: .targetAgentDown, detail: ["w1", "nothing is claimed"]),
    VerdictCase(
        "receiver agent auth-failed, unreachable", receiverAgent: AgentHealth(.authFailed), sent: sent(.unreachable), got: nil,
        .agentDown, why: .targetAgentDown, detail: ["rejected our authentication"]),
    VerdictCase(
        "receiver agent down despite its evidence, timeout", receiverAgent: AgentHealth(.down),
        sent: sent(.timeout), got: got(.listening, capture: cap(at: false)), .agentDown, why: .targetAgentDown),
    VerdictCase(
        "receiver evidence missing, timeout", sent: sent(.timeout), got: nil, .agentDown, why: .targetReportLost,
        detail: ["w1", "receive log is lost"]),
    VerdictCase("receiver evidence missing, refused", sent: sent(.refused), got: nil, .agentDown, why: .targetReportLost),

    // 4. Refused.
    VerdictCase(
        "refused tcp, agent listening", sent: sent(.refused), got: got(.listening), .blocked, .hostFirewall,
        why: .rejectedByTargetFirewall, detail: ["a TCP reset", "w1's agent holds 7946/tcp", "REJECT"]),
    VerdictCase(
        "refused udp, agent listening", kind: .udp7946, sent: sent(.refused), got: got(.listening, kind: .udp7946),
        .blocked, .hostFirewall, why: .rejectedByTargetFirewall, detail: ["an ICMP port-unreachable"]),
    VerdictCase(
        "refused tcp, port observed", kind: .tcp2377, sent: sent(.refused), got: got(.observing, kind: .tcp2377),
        .blocked, .hostFirewall, why: .rejectedByTargetFirewall, detail: ["a program on w1 holds 2377/tcp"]),
    VerdictCase(
        "refused udp, port observed", kind: .udp4789, sent: sent(.refused), got: got(.observing, kind: .udp4789),
        .blocked, .hostFirewall, why: .rejectedByTargetFirewall),
    VerdictCase(
        "refused, listener unavailable", kind: .tcp2377, sent: sent(.refused),
        got: got(.unavailable, kind: .tcp2377, detail: "bind: permission denied"),
        .closed, why: .nothingListening, detail: ["nothing listens on 2377/tcp", "(bind: permission denied)"]),
    VerdictCase("refused, no listener reported", sent: sent(.refused), got: got(nil), .closed, why: .nothingListening),
    VerdictCase(
        "refused, capture saw it arrive, listener unavailable", sent: sent(.refused), got: got(.unavailable, capture: cap(at: true)),
        .closed, why: .nothingListening),
    VerdictCase(
        "refused, never reached the interface (listening)", sent: sent(.refused), got: got(.listening, capture: cap(at: false)),
        .blocked, .network, why: .rejectedOnTheWay, detail: ["never reached w1's interface"]),
    VerdictCase(
        "refused, never reached the interface (unavailable)", kind: .udp4789, sent: sent(.refused),
        got: got(.unavailable, kind: .udp4789, capture: cap(at: false)), .blocked, .network, why: .rejectedOnTheWay),

    // 5. ICMP unreachable.
    VerdictCase(
        "unreachable, seen at interface", sent: sent(.unreachable, detail: "admin prohibited"),
        got: got(.listening, capture: cap(at: true)), .blocked, .hostFirewall, why: .unreachableFromTarget,
        detail: ["(admin prohibited)", "w1's own firewall"]),
    VerdictCase(
        "unreachable, not seen at interface", sent: sent(.unreachable), got: got(.listening, capture: cap(at: false)),
        .blocked, .network, why: .unreachableOnTheWay, detail: ["never reached w1's interface"]),
    VerdictCase(
        "unreachable, no capture", sent: sent(.unreachable), got: got(.listening), .blocked, .unknown,
        why: .unreachableUnknownLayer, detail: ["capture tap"]),
    VerdictCase(
        "unreachable, capture without interface tap", sent: sent(.unreachable), got: got(.observing, capture: cap(past: true)),
        .blocked, .unknown, why: .unreachableUnknownLayer),

    // 6. Silence.
    VerdictCase(
        "timeout, received and answered", sent: sent(.timeout, attempts: 3), got: got(.listening, received: 3, answered: 2),
        .blocked, .returnPath, why: .answerLostOnReturn, detail: ["w1 received 3 of 3 probes and answered 2", "w1 -> m1"]),
    VerdictCase(
        "timeout, received and answered, capture disagrees", kind: .udp7946, sent: sent(.timeout),
        got: got(.listening, kind: .udp7946, received: 1, answered: 1, capture: cap(at: false)), .blocked, .returnPath, why: .answerLostOnReturn),
    VerdictCase(
        "timeout, received and answered, from another address", kind: .udp7946, sent: sent(.timeout),
        got: got(.listening, kind: .udp7946, received: 3, answered: 3, from: [ip("10.9.9.9")]), .blocked, .returnPath,
        why: .answerLostWrongSource, detail: ["came from 10.9.9.9", "advertise address 10.0.0.1", "moby#53004"]),
    VerdictCase(
        "timeout, received but not answered", sent: sent(.timeout), got: got(.listening, received: 2, answered: 0),
        .inconclusive, why: .receivedNotAnswered, detail: ["did not answer"]),
    VerdictCase(
        "timeout, answer captured leaving", kind: .udp4789, sent: sent(.timeout),
        got: got(.observing, kind: .udp4789, capture: cap(at: true, past: true, leaving: true)), .blocked, .returnPath,
        why: .answerCapturedLeaving, detail: ["captured leaving"]),
    VerdictCase(
        "timeout, not at interface", kind: .udp4789, sent: sent(.timeout),
        got: got(.observing, kind: .udp4789, capture: cap(at: false)), .blocked, .network, why: .silentBeforeTarget, detail: ["security group"]),
    VerdictCase(
        "timeout, not at interface, agent listening", sent: sent(.timeout), got: got(.listening, capture: cap(at: false, past: false)),
        .blocked, .network, why: .silentBeforeTarget),
    VerdictCase(
        "timeout, at interface, not past firewall", kind: .udp7946, sent: sent(.timeout),
        got: got(.observing, kind: .udp7946, capture: cap(at: true, past: false)), .blocked, .hostFirewall,
        why: .droppedByTargetFirewall, detail: ["dropped by w1's own firewall"]),
    VerdictCase(
        "timeout, at interface, not past firewall, listening", sent: sent(.timeout),
        got: got(.listening, capture: cap(at: true, past: false)), .blocked, .hostFirewall, why: .droppedByTargetFirewall),
    VerdictCase(
        "timeout, observing, past firewall", kind: .udp4789, sent: sent(.timeout),
        got: got(.observing, kind: .udp4789, capture: cap(at: true, past: true)), .open, why: .observedArrival, detail: ["past its firewall"]),
    VerdictCase(
        "timeout, observing, past firewall (no interface tap)", kind: .tcp2377, sent: sent(.timeout),
        got: got(.observing, kind: .tcp2377, capture: cap(past: true)), .open, why: .observedArrival),
    VerdictCase(
        "timeout, observing, no capture", kind: .tcp7946, sent: sent(.timeout), got: got(.observing), .inconclusive,
        why: .observedNoEvidence, detail: ["no capture evidence"]),
    VerdictCase(
        "timeout, observing, only the interface tap", kind: .udp4789, sent: sent(.timeout),
        got: got(.observing, kind: .udp4789, capture: cap(at: true)), .inconclusive, why: .observedNoEvidence),
    VerdictCase(
        "timeout, listening, past firewall but not logged", sent: sent(.timeout),
        got: got(.listening, capture: cap(at: true, past: true)), .inconclusive, why: .passedFirewallNotLogged, detail: ["did not log it"]),
    VerdictCase(
        "refused, live node leaves the port closed", kind: .tcp2377, sent: sent(.refused),
        got: got(.closed, kind: .tcp2377, detail: "nothing holds it"), .closed, why: .nothingListening, detail: ["nothing listens on 2377/tcp"]),
    VerdictCase(
        "timeout, listening, at interface, no nflog tap", kind: .udp7946, sent: sent(.timeout),
        got: got(.listening, kind: .udp7946, capture: cap(at: true)), .blocked, .hostFirewall,
        why: .notPastTargetInterface, detail: ["reached w1's interface", "never w1's agent"]),
    VerdictCase(
        "timeout, tcp SYN-ACK captured leaving", kind: .tcp7946, sent: sent(.timeout),
        got: got(.listening, capture: cap(at: true, past: true, leaving: true)), .blocked, .returnPath, why: .answerCapturedLeaving),
    VerdictCase(
        "timeout, udp, listener unavailable", kind: .udp4789, sent: sent(.timeout),
        got: got(.unavailable, kind: .udp4789, detail: "no CAP_NET_RAW"), .inconclusive,
        why: .noListenerToConfirm, detail: ["holds no listener on 4789/udp", "(no CAP_NET_RAW)"]),
    VerdictCase(
        "timeout, udp, no listener reported", kind: .udp7946, sent: sent(.timeout), got: got(nil, kind: .udp7946), .inconclusive,
        why: .noListenerToConfirm),
    VerdictCase(
        "timeout, esp, listener unavailable", kind: .esp, sent: sent(.timeout), got: got(.unavailable, kind: .esp), .inconclusive,
        why: .noListenerToConfirm),
    VerdictCase(
        "timeout, tcp, listening, nothing seen", sent: sent(.timeout), got: got(.listening), .blocked, .unknown,
        why: .silentUnknownLayer, detail: ["never received the probe", "capture tap"]),
    VerdictCase(
        "timeout, udp, listening, nothing seen", kind: .udp7946, sent: sent(.timeout), got: got(.listening, kind: .udp7946),
        .blocked, .unknown, why: .silentUnknownLayer),
    VerdictCase(
        "timeout, esp, listening, nothing seen", kind: .esp, sent: sent(.timeout), got: got(.listening, kind: .esp),
        .blocked, .unknown, why: .silentUnknownLayer),
    VerdictCase(
        "timeout, tcp, listener unavailable", kind: .tcp2377, sent: sent(.timeout), got: got(.unavailable, kind: .tcp2377),
        .blocked, .unknown, why: .silentUnknownLayer),
    VerdictCase("timeout, tcp, no listener reported", sent: sent(.timeout), got: got(nil), .blocked, .unknown, why: .silentUnknownLayer),

    // 5. A live service's published port: forwarded into the routing mesh, watched at the interface only.
    VerdictCase(
        "published, answered", kind: .tcp8080, sent: sent(.connected), got: got(.observing, kind: .tcp8080), forwarded: true, .open,
        why: .handshakeOnly),
    VerdictCase(
        "published, refused by the node's own stack", kind: .tcp8080, sent: sent(.refused),
        got: got(.observing, kind: .tcp8080, capture: cap(at: true)), forwarded: true, .closed, why: .nothingListening),
    VerdictCase(
        "published, never reached the node", kind: .tcp8080, sent: sent(.timeout),
        got: got(.observing, kind: .tcp8080, capture: cap(at: false)), forwarded: true, .blocked, .network, why: .silentBeforeTarget),
    VerdictCase(
        "published, reset on the way", kind: .tcp8080, sent: sent(.refused),
        got: got(.observing, kind: .tcp8080, capture: cap(at: false)), forwarded: true, .blocked, .network, why: .rejectedOnTheWay),
    VerdictCase(
        "published tcp, arrived and nothing answered (the firewall tap cannot see forwarded traffic)", kind: .tcp8080, sent: sent(.timeout),
        got: got(.observing, kind: .tcp8080, capture: cap(at: true, past: false)), forwarded: true, .blocked, .unknown,
        why: .arrivedNotAnswered, detail: ["arrived at w1's interface", "routing mesh"]),
    VerdictCase(
        "published udp, arrived at the node", kind: .udp9053, sent: sent(.timeout),
        got: got(.observing, kind: .udp9053, capture: cap(at: true)), forwarded: true, .open, why: .arrivedAtNode,
        detail: ["arrived at w1's interface"]),
    VerdictCase(
        "published udp, no tap", kind: .udp9053, sent: sent(.timeout), got: got(.unavailable, kind: .udp9053), forwarded: true,
        .inconclusive, why: .observedNoEvidence),
    VerdictCase(
        "published tcp, no tap", kind: .tcp8080, sent: sent(.timeout), got: got(.unavailable, kind: .tcp8080), forwarded: true,
        .blocked, .unknown, why: .silentUnknownLayer),
    VerdictCase(
        "published, ICMP unreachable from the node", kind: .udp9053, sent: sent(.unreachable),
        got: got(.observing, kind: .udp9053, capture: cap(at: true)), forwarded: true, .blocked, .hostFirewall, why: .unreachableFromTarget),
]

public func ip(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { preconditionFailure("not an address: \(text)") }
    return a
}

extension KindID {
    public static let tcp2377 = KindID(proto: .tcp, port: 2377)
    public static let tcp7946 = KindID(proto: .tcp, port: 7946)
    public static let udp7946 = KindID(proto: .udp, port: 7946)
    public static let udp4789 = KindID(proto: .udp, port: 4789)
    public static let esp = KindID(proto: .esp, port: nil)
    public static let tcp8080 = KindID(proto: .tcp, port: 8080)
    public static let udp9053 = KindID(proto: .udp, port: 9053)
}
