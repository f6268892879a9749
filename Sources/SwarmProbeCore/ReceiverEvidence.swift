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

    public init(
        listener: ListenerState?, received: Int = 0, answered: Int = 0,
        sourceAddresses: [IPAddress] = [], capture: CaptureEvidence? = nil
    ) {
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
