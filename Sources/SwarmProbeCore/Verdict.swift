public enum Verdict: String, Codable, Sendable, CaseIterable, Comparable {
    case open
    case blocked
    case closed
    case agentDown = "agent-down"
    case inconclusive

    private var order: Int { Verdict.allCases.firstIndex(of: self)! }
    public static func < (a: Verdict, b: Verdict) -> Bool { a.order < b.order }
}

/// Where a blocked check's traffic died.
public enum Where: String, Codable, Sendable, CaseIterable {
    /// Never reached the target's interface: security group, NACL, routing, a cloud firewall.
    case network
    /// Reached the target's interface, then dropped or rejected by the target's own firewall.
    case hostFirewall = "host-firewall"
    /// Never left the sender: its own firewall's output rules kept it in. The fix is on the sender, not the
    /// target, hence a place of its own rather than `host-firewall`, which every reader takes for the target's.
    case senderFirewall = "sender-firewall"
    /// The target got it and answered; the answer never came back.
    case returnPath = "return-path"
    /// No receiver evidence could tell.
    case unknown
}

/// Everything known about one check, from both ends.
public struct VerdictInput: Sendable, Equatable {
    public var kind: KindID
    public var fromName: String
    public var toName: String
    /// The sender's inventory address, to spot probes arriving from another address.
    public var expectedSource: IPAddress
    public var senderAgent: AgentHealth
    public var receiverAgent: AgentHealth
    /// nil: the sender's agent never reported this probe.
    public var sender: SenderEvidence?
    /// nil: the target's agent never reported what it received.
    public var receiver: ReceiverEvidence?
    /// A live service's published port: the node forwards it into the routing mesh rather than delivering it to
    /// a socket, and the target's agent only watches it at its interface.
    public var forwarded: Bool

    public init(
        kind: KindID, fromName: String, toName: String, expectedSource: IPAddress,
        senderAgent: AgentHealth, receiverAgent: AgentHealth,
        sender: SenderEvidence?, receiver: ReceiverEvidence?, forwarded: Bool = false
    ) {
        self.forwarded = forwarded
        self.kind = kind
        self.fromName = fromName
        self.toName = toName
        self.expectedSource = expectedSource
        self.senderAgent = senderAgent
        self.receiverAgent = receiverAgent
        self.sender = sender
        self.receiver = receiver
    }
}

public struct Decision: Sendable, Equatable {
    public var verdict: Verdict
    /// Set exactly when `verdict == .blocked`.
    public var location: Where?
    /// The evidence that decided.
    public var reason: Reason
    /// Addresses the probe arrived from that are not the sender's inventory address
    /// (wrong advertise address, NAT, a second NIC); empty when all matched.
    public var unexpectedSources: [IPAddress]

    public init(_ verdict: Verdict, _ location: Where? = nil, _ reason: Reason, unexpectedSources: [IPAddress] = []) {
        self.verdict = verdict
        self.location = location
        self.reason = reason
        self.unexpectedSources = unexpectedSources
    }
}

/// The product's brain: one pure function from both ends' evidence to a verdict, where it died, and why.
/// No network code decides what a silence means; this does, and it is table-tested.
public func decide(_ input: VerdictInput) -> Decision {
    let mismatched = input.receiver?.sourceAddresses.filter { $0 != input.expectedSource } ?? []
    func make(_ v: Verdict, _ w: Where? = nil, _ reason: Reason) -> Decision {
        Decision(v, w, reason, unexpectedSources: Array(Set(mismatched)).sorted { $0.description < $1.description })
    }

    // 1. Without the sender's agent nothing was probed.
    guard input.senderAgent.isUp else {
        // An agent of another protocol version is up, but could not be asked: no claim either way.
        return input.senderAgent.status == .incompatible ? make(.inconclusive, nil, .agentIncompatible) : make(.agentDown, nil, .senderAgentDown)
    }
    guard let sent = input.sender else { return make(.agentDown, nil, .senderReportLost) }

    // 2. What the sender saw settles the answered cases on its own.
    switch sent.outcome {
    case .answered: return make(.open, nil, .answered)
    case .connected: return make(.open, nil, .handshakeOnly)
    case .badAnswer: return make(.inconclusive, nil, .badAnswer)
    case .sendFailed:
        // EPERM: the sender's own output rules refused the send.
        return sent.egressBlocked != nil ? make(.blocked, .senderFirewall, .droppedBySenderFirewall) : make(.inconclusive, nil, .sendFailed)
    case .timeout:
        // The sender's own interface saw the answer arrive after all.
        if let after = sent.missedAnswerMs {
            return missedAnswerWasLate(afterMs: after)
                ? make(.open, nil, .answerLate) : make(.blocked, .returnPath, .answerDroppedAtSender)
        }
        // Its interface never saw the probe leave: its own firewall kept it in, whatever the target's agent
        // (down or not) can say, unless the target saw it arrive after all (then the sender's tap missed it).
        if sent.egressBlocked != nil && !arrived(input.receiver) {
            return make(.blocked, .senderFirewall, .droppedBySenderFirewall)
        }
    case .refused, .unreachable:
        break
    }

    // 3. Not answered. Without the target's agent we claim nothing about the path.
    guard input.receiverAgent.isUp else {
        return input.receiverAgent.status == .incompatible ? make(.inconclusive, nil, .agentIncompatible) : make(.agentDown, nil, .targetAgentDown)
    }
    guard let got = input.receiver else { return make(.agentDown, nil, .targetReportLost) }
    let mode = got.listener?.mode
    let capture = got.capture
    if input.forwarded { return decideForwarded(input, sent.outcome, capture, make) }

    switch sent.outcome {
    case .refused:
        if capture?.seenAtInterface == false { return make(.blocked, .network, .rejectedOnTheWay) }
        switch mode {
        case .listening?, .observing?: return make(.blocked, .hostFirewall, .rejectedByTargetFirewall)
        case .unavailable?, .closed?, nil: return make(.closed, nil, .nothingListening)
        }

    case .unreachable:
        switch capture?.seenAtInterface {
        case true?: return make(.blocked, .hostFirewall, .unreachableFromTarget)
        case false?: return make(.blocked, .network, .unreachableOnTheWay)
        case nil: return make(.blocked, .unknown, .unreachableUnknownLayer)
        }

    default:  // .timeout
        if got.received > 0 {
            guard got.answered > 0 else { return make(.inconclusive, nil, .receivedNotAnswered) }
            return make(.blocked, .returnPath, mismatched.isEmpty ? .answerLostOnReturn : .answerLostWrongSource)
        }
        if capture?.answerSeenLeaving == true { return make(.blocked, .returnPath, .answerCapturedLeaving) }
        if capture?.seenAtInterface == false { return make(.blocked, .network, .silentBeforeTarget) }
        if capture?.seenAtInterface == true && capture?.seenPastFirewall == false {
            return make(.blocked, .hostFirewall, .droppedByTargetFirewall)
        }
        if mode == .observing {
            return capture?.seenPastFirewall == true ? make(.open, nil, .observedArrival) : make(.inconclusive, nil, .observedNoEvidence)
        }
        if capture?.seenPastFirewall == true && mode == .listening { return make(.inconclusive, nil, .passedFirewallNotLogged) }
        if capture?.seenAtInterface == true && capture?.seenPastFirewall == nil && mode == .listening {
            // No nflog tap, but between the interface and the agent's socket there is only the host itself.
            return make(.blocked, .hostFirewall, .notPastTargetInterface)
        }
        if mode != .listening && input.kind.proto != .tcp { return make(.inconclusive, nil, .noListenerToConfirm) }
        return make(.blocked, .unknown, .silentUnknownLayer)
    }
}

/// Whether the target's agent or taps saw the probe (or its answer): then it left the sender.
private func arrived(_ got: ReceiverEvidence?) -> Bool {
    guard let got else { return false }
    let cap = got.capture
    return got.received > 0 || cap?.seenAtInterface == true || cap?.seenPastFirewall == true || cap?.answerSeenLeaving == true
}

/// A live service's published port, not answered: only the target's interface tap can say how far it got (its
/// firewall tap does not see forwarded traffic, and the node's own listener is not what answers).
private func decideForwarded(
    _ input: VerdictInput, _ outcome: ProbeOutcome, _ capture: CaptureEvidence?, _ make: (Verdict, Where?, Reason) -> Decision
) -> Decision {
    if capture?.seenAtInterface == false {
        return outcome == .refused ? make(.blocked, .network, .rejectedOnTheWay) : make(.blocked, .network, .silentBeforeTarget)
    }
    switch outcome {
    case .refused:
        // The node's own stack refused it: nothing took the port into the mesh.
        return make(.closed, nil, .nothingListening)
    case .unreachable:
        return capture?.seenAtInterface == true
            ? make(.blocked, .hostFirewall, .unreachableFromTarget) : make(.blocked, .unknown, .unreachableUnknownLayer)
    default:
        guard capture?.seenAtInterface == true else {
            return input.kind.proto == .udp ? make(.inconclusive, nil, .observedNoEvidence) : make(.blocked, .unknown, .silentUnknownLayer)
        }
        // UDP: the service's answer, if any, is its own; arriving at the node is what the taps can vouch for.
        return input.kind.proto == .udp ? make(.open, nil, .arrivedAtNode) : make(.blocked, .unknown, .arrivedNotAnswered)
    }
}

/// How much earlier than the prober's silence an answer may reach the sender's interface and still count
/// as late rather than dropped on the sender: the capture is stamped as the packet enters the stack, the
/// prober reads its socket on an event loop that may run behind (its last reads at the deadline cover what
/// the kernel already queued, so in practice the gap is well under a millisecond).
public let missedAnswerMarginMs = 50

/// An answer that reached the sender `afterMs` after its probe was given up counts as late (the path is
/// open and slow), not as dropped on the sender, from `missedAnswerMarginMs` before the give-up on.
public func missedAnswerWasLate(afterMs: Int) -> Bool { afterMs >= -missedAnswerMarginMs }
