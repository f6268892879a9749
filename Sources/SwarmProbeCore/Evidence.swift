/// Whether the agent at one end of a check could be used.
public struct AgentHealth: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case up
        /// Could not be reached, refused the connection, or died during the check.
        case down
        /// Reached, but it does not hold our token (or we do not hold its).
        case authFailed = "auth-failed"
        /// Reached, but it speaks another version of the control protocol: `detail` names both, and which to upgrade.
        case incompatible
        /// No agent was asked: the results come from another source (`aws audit` reads configuration).
        case notContacted = "not-contacted"
    }
    public var status: Status
    public var detail: String?

    public init(_ status: Status, _ detail: String? = nil) {
        self.status = status
        self.detail = detail
    }
    public static let up = AgentHealth(.up)
    public var isUp: Bool { status == .up }
}

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

    public init(outcome: ProbeOutcome, attempts: Int, rttMicros: Int? = nil, detail: String? = nil,
                nonces: [String] = [], sourcePort: Int? = nil, sourcePorts: [Int] = [], missedAnswerMs: Int? = nil) {
        self.outcome = outcome
        self.attempts = attempts
        self.rttMicros = rttMicros
        self.detail = detail
        self.nonces = nonces
        self.sourcePorts = sourcePorts.isEmpty ? (sourcePort.map { [$0] } ?? []) : sourcePorts
        self.missedAnswerMs = missedAnswerMs
    }

    enum CodingKeys: String, CodingKey {
        case outcome, attempts, rttMicros = "rtt_micros", detail, nonces, sourcePort = "source_port", sourcePorts = "source_ports"
        case missedAnswerMs = "missed_answer_ms"
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

/// How an agent covers one traffic kind on its node.
public struct ListenerState: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable {
        /// The agent holds the port and answers probes itself.
        case listening
        /// Someone else (dockerd, the kernel's VXLAN socket) holds it; the agent watches it through capture.
        case observing
        /// Neither: `detail` says why (bind failed, no privilege).
        case unavailable
        /// Nothing holds the port on this live swarm node (2377 on a worker), so it is closed for real
        /// and the agent leaves it so.
        case closed
    }
    public var kind: KindID
    public var mode: Mode
    public var detail: String?

    public init(kind: KindID, mode: Mode, detail: String? = nil) {
        self.kind = kind
        self.mode = mode
        self.detail = detail
    }
}

/// What a capture tap on the target saw of the probes of one check.
/// nil fields mean that tap was not available; the verdict then does not rely on it.
public struct CaptureEvidence: Codable, Sendable, Equatable {
    /// The probe showed up on the target's interface (before its firewall).
    public var seenAtInterface: Bool?
    /// The probe was seen after the target's input firewall (nflog tap).
    public var seenPastFirewall: Bool?
    /// The target's answer (echo, TCP SYN-ACK) was seen leaving its interface.
    public var answerSeenLeaving: Bool?

    public init(seenAtInterface: Bool? = nil, seenPastFirewall: Bool? = nil, answerSeenLeaving: Bool? = nil) {
        self.seenAtInterface = seenAtInterface
        self.seenPastFirewall = seenPastFirewall
        self.answerSeenLeaving = answerSeenLeaving
    }

    enum CodingKeys: String, CodingKey {
        case seenAtInterface = "seen_at_interface", seenPastFirewall = "seen_past_firewall"
        case answerSeenLeaving = "answer_seen_leaving"
    }
}

/// What the target's agent saw of one check's probes.
public struct ReceiverEvidence: Codable, Sendable, Equatable {
    /// How the target's agent covers this kind; nil when it did not report it.
    public var listener: ListenerState?
    /// Authenticated probes of this check the target's agent received.
    public var received: Int
    /// How many of those it answered.
    public var answered: Int
    /// The source addresses those probes arrived from.
    public var sourceAddresses: [IPAddress]
    public var capture: CaptureEvidence?

    public init(listener: ListenerState?, received: Int = 0, answered: Int = 0,
                sourceAddresses: [IPAddress] = [], capture: CaptureEvidence? = nil) {
        self.listener = listener
        self.received = received
        self.answered = answered
        self.sourceAddresses = sourceAddresses
        self.capture = capture
    }

    enum CodingKeys: String, CodingKey {
        case listener, received, answered, sourceAddresses = "source_addresses", capture
    }
}

/// One capture tap of an agent and whether it works.
public struct TapState: Codable, Sendable, Equatable {
    public enum Tap: String, Codable, Sendable {
        /// libpcap on the interface holding the address: sees probes before the host firewall.
        case interface
        /// libpcap on `nflog:N`, fed by an nftables rule at input priority 100: sees only what the firewall let through.
        case nflog
    }
    public var tap: Tap
    public var active: Bool
    /// The capture device (`eth0`, `nflog:7950`).
    public var device: String?
    /// Why it is not active.
    public var detail: String?

    public init(tap: Tap, active: Bool, device: String? = nil, detail: String? = nil) {
        self.tap = tap
        self.active = active
        self.device = device
        self.detail = detail
    }
}

/// A probe or answer a capture tap saw. UDP and ESP probes carry their nonce (the payload is an
/// authenticated probe); TCP is matched by the sender's address and source port (a SYN has no payload).
public struct CaptureRecord: Sendable, Equatable, Hashable, Timestamped {
    public enum Direction: String, Sendable { case inbound, outbound }
    public var tap: TapState.Tap
    public var direction: Direction
    public var kind: KindID
    /// The other end: the sender of an inbound probe, the destination of an outbound answer.
    public var peer: IPAddress
    public var peerPort: Int?
    /// Hex nonce of the probe or echo (UDP, ESP); nil for TCP segments.
    public var nonce: String?
    /// `syn` for an inbound SYN, `syn-ack` for an outbound SYN-ACK, `rst` for an outbound reset.
    public var tcp: String?
    public var timeMs: Int64

    public init(tap: TapState.Tap, direction: Direction, kind: KindID, peer: IPAddress, peerPort: Int?,
                nonce: String?, tcp: String?, timeMs: Int64) {
        self.tap = tap
        self.direction = direction
        self.kind = kind
        self.peer = peer
        self.peerPort = peerPort
        self.nonce = nonce
        self.tcp = tcp
        self.timeMs = timeMs
    }
}
