/// What the sending agent saw when it probed.
public enum ProbeOutcome: String, Codable, Sendable, CaseIterable {
    /// The target's agent answered with an authenticated echo (UDP, ESP) or challenge (TCP).
    case answered
    /// The TCP handshake completed but nothing authenticated came back: another program holds the port.
    case connected
    /// A TCP reset or an ICMP port-unreachable came back.
    case refused
    /// An ICMP host/network unreachable or administratively-prohibited came back.
    case unreachable
    /// Nothing came back within the timeout, on any attempt.
    case timeout
    /// Something answered but failed authentication.
    case badAnswer = "bad-answer"
    /// The sender could not send at all (a local error).
    case sendFailed = "send-failed"
}

/// How the sender knows its own host kept a probe from leaving (`dropped-by-sender-firewall`).
public enum EgressBlock: String, Codable, Sendable, CaseIterable {
    /// The kernel refused the send with EPERM: an output rule of the sender's own firewall (nftables,
    /// iptables, ufw) or an egress policy of its cgroup. Certain, no tap needed.
    case sendRefused = "send-refused"
    /// The sender's interface tap, running over the whole probe with nothing lost, saw none of its tries
    /// leave: they were dropped inside the sender, before its interface (an output rule that drops).
    case notSeenLeaving = "not-seen-leaving"
}

public struct SenderEvidence: Codable, Sendable, Equatable {
    public var outcome: ProbeOutcome
    public var attempts: Int
    /// Round trip of the first answer, microseconds.
    public var rttMicros: Int?
    /// Error text from the socket (errno), when there was one.
    public var detail: String?
    /// Hex nonces of every attempt, so the receiver's log can be matched.
    public var nonces: [String]
    /// The local port of every TCP attempt, first attempt first (a retry leaves from a new port, so the
    /// target's capture can match each SYN). Empty for UDP and ESP.
    public var sourcePorts: [Int]
    /// The local port the first attempt left from.
    public var sourcePort: Int? { sourcePorts.first }
    /// For a probe that ended in silence: the sender's interface tap saw the target's answer arrive after
    /// all, this many ms after the prober counted the probe silent (negative: before, and the prober never
    /// got it). Filled in by the coordinator from the sender's log (`LogResponse.missedAnswers`); nil when
    /// no answer was seen or the sender has no interface tap.
    public var missedAnswerMs: Int?
    /// The data path's path MTU ladder, sent once the small probe answered (`PathMTU`); nil on other kinds.
    public var mtu: MTULadder?
    /// The probe never left the sender: how the sender knows (a refused send, set by its agent; no try seen
    /// leaving by its interface tap, filled in by the coordinator from `LogResponse.neverLeft`). nil: no such
    /// evidence, which is not evidence that it left.
    public var egressBlocked: EgressBlock?

    public init(
        outcome: ProbeOutcome, attempts: Int, rttMicros: Int? = nil, detail: String? = nil,
        nonces: [String] = [], sourcePort: Int? = nil, sourcePorts: [Int] = [], missedAnswerMs: Int? = nil, mtu: MTULadder? = nil,
        egressBlocked: EgressBlock? = nil
    ) {
        self.mtu = mtu
        self.outcome = outcome
        self.attempts = attempts
        self.rttMicros = rttMicros
        self.detail = detail
        self.nonces = nonces
        self.sourcePorts = sourcePorts.isEmpty ? (sourcePort.map { [$0] } ?? []) : sourcePorts
        self.missedAnswerMs = missedAnswerMs
        self.egressBlocked = egressBlocked
    }

    enum CodingKeys: String, CodingKey {
        case outcome, attempts, rttMicros = "rtt_micros", detail, nonces, sourcePort = "source_port", sourcePorts = "source_ports"
        case missedAnswerMs = "missed_answer_ms", mtu
        case egressBlocked = "egress_blocked"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        outcome = try c.decode(ProbeOutcome.self, forKey: .outcome)
        attempts = try c.decode(Int.self, forKey: .attempts)
        rttMicros = try c.decodeIfPresent(Int.self, forKey: .rttMicros)
        detail = try c.decodeIfPresent(String.self, forKey: .detail)
        nonces = try c.decodeIfPresent([String].self, forKey: .nonces) ?? []
        if let ports = try c.decodeIfPresent([Int].self, forKey: .sourcePorts) {
            sourcePorts = ports
        } else {
            sourcePorts = try c.decodeIfPresent(Int.self, forKey: .sourcePort).map { [$0] } ?? []
        }
        missedAnswerMs = try c.decodeIfPresent(Int.self, forKey: .missedAnswerMs)
        mtu = try c.decodeIfPresent(MTULadder.self, forKey: .mtu)
        egressBlocked = try c.decodeIfPresent(EgressBlock.self, forKey: .egressBlocked)
    }

    /// `source_port` is the first attempt's port (as before retries); `source_ports` lists them all when
    /// there was more than one.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(attempts, forKey: .attempts)
        try c.encodeIfPresent(rttMicros, forKey: .rttMicros)
        try c.encodeIfPresent(detail, forKey: .detail)
        try c.encode(nonces, forKey: .nonces)
        try c.encodeIfPresent(sourcePort, forKey: .sourcePort)
        if sourcePorts.count > 1 { try c.encode(sourcePorts, forKey: .sourcePorts) }
        try c.encodeIfPresent(missedAnswerMs, forKey: .missedAnswerMs)
        try c.encodeIfPresent(mtu, forKey: .mtu)
        try c.encodeIfPresent(egressBlocked, forKey: .egressBlocked)
    }
}

/// An answer the sender's interface tap saw arrive for a probe its prober had counted silent: late (the
/// path is open, something on it is slow), or on time and never delivered (the sender's own firewall
/// dropped it). One per silent probe whose answer was seen, the first that arrived.
public struct MissedAnswer: Sendable, Equatable {
    /// The probe's target and kind.
    public var peer: IPAddress
    public var kind: KindID
    /// When the answer reached the interface (agent clock, ms).
    public var timeMs: Int64
    /// ms after the prober counted the probe silent; negative: before.
    public var afterMs: Int

    public init(peer: IPAddress, kind: KindID, timeMs: Int64, afterMs: Int) {
        self.peer = peer
        self.kind = kind
        self.timeMs = timeMs
        self.afterMs = afterMs
    }
}

/// A probe of a run that ended in silence and that the sender's interface tap, running over its whole
/// window with nothing lost, never saw leave (none of its tries): its own host kept it in. The sender
/// lists only these (`LogResponse.neverLeft`), so a probe that is not listed may have left or not.
public struct NeverLeftProbe: Sendable, Equatable, Hashable {
    /// The probe's target and kind.
    public var peer: IPAddress
    public var kind: KindID

    public init(peer: IPAddress, kind: KindID) {
        self.peer = peer
        self.kind = kind
    }
}
