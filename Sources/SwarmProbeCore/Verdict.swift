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
    /// False: an `open` decision comes without its detail sentence (a pass over millions of checks that
    /// only counts and groups them does not need a sentence per healthy path).
    public var explainOpen = true

    public init(kind: KindID, fromName: String, toName: String, expectedSource: IPAddress,
                senderAgent: AgentHealth, receiverAgent: AgentHealth,
                sender: SenderEvidence?, receiver: ReceiverEvidence?) {
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
    /// One or two sentences: what was seen and what it means.
    public var detail: String
    /// Addresses the probe arrived from that are not the sender's inventory address
    /// (wrong advertise address, NAT, a second NIC); empty when all matched.
    public var unexpectedSources: [IPAddress]

    public init(_ verdict: Verdict, _ location: Where? = nil, _ detail: String, unexpectedSources: [IPAddress] = []) {
        self.verdict = verdict
        self.location = location
        self.detail = detail
        self.unexpectedSources = unexpectedSources
    }
}

/// The product's brain: one pure function from both ends' evidence to a verdict.
/// No network code decides what a silence means; this does, and it is table-tested.
public func decide(_ input: VerdictInput) -> Decision {
    let from = input.fromName, to = input.toName, kind = input.kind.description
    let mismatched = (input.receiver?.sourceAddresses ?? []).filter { $0 != input.expectedSource }
    func make(_ v: Verdict, _ w: Where? = nil, _ d: @autoclosure () -> String) -> Decision {
        Decision(v, w, v == .open && !input.explainOpen ? "" : d(),
                 unexpectedSources: mismatched.isEmpty ? [] : Array(Set(mismatched)).sorted { $0.description < $1.description })
    }

    // 1. Without the sender's agent nothing was probed.
    guard input.senderAgent.isUp else {
        return make(.agentDown, nil, "the agent on \(from) \(agentProblem(input.senderAgent)); nothing was probed")
    }
    guard let sent = input.sender else {
        return make(.agentDown, nil, "the agent on \(from) stopped answering during the check; its probe results are lost")
    }

    // 2. What the sender saw settles the answered cases on its own.
    switch sent.outcome {
    case .answered:
        let rtt = sent.rttMicros.map { " in \(formatMillis($0))" } ?? ""
        let retry = sent.attempts > 1 ? " (after \(sent.attempts) attempts)" : ""
        return make(.open, nil, "\(to) answered the authenticated probe\(rtt)\(retry)")
    case .connected:
        return make(.open, nil, "the TCP handshake to \(to):\(kind) completed; the program holding the port is not a swarmprobe agent, so only the handshake proves the path")
    case .badAnswer:
        return make(.inconclusive, nil, "an answer came back from \(to) but failed authentication: is the agent there using another token file?")
    case .sendFailed:
        return make(.inconclusive, nil, "\(from) could not send the probe (\(sent.detail ?? "local error")); fix the sender and run again")
    case .timeout:
        // The sender's own interface saw the answer arrive after all.
        if let after = sent.missedAnswerMs {
            if missedAnswerWasLate(afterMs: after) {
                let when = after <= 0 ? "as" : "\(after) ms after"
                return make(.open, nil, "\(to)'s answer reached \(from) \(when) the probe was counted silent (captured on \(from)'s interface): the path is open but slow; \(to) or \(from) is overloaded, or the timeout is too short for it (--timeout)")
            }
            return make(.blocked, .returnPath, "\(to) answered and the answer reached \(from)'s interface \(-after) ms before the probe was counted silent, but never the probe's socket: \(from)'s own firewall drops the answers coming back (an input rule that does not accept established traffic), or its reverse-path filter")
        }
    case .refused, .unreachable:
        break
    }

    // 3. Not answered. Without the target's agent we claim nothing about the path.
    guard input.receiverAgent.isUp else {
        let seen = sent.outcome == .refused ? "the port refused the probe and " : ""
        return make(.agentDown, nil, "\(seen)the agent on \(to) \(agentProblem(input.receiverAgent)); nothing is claimed about the path")
    }
    guard let got = input.receiver else {
        return make(.agentDown, nil, "the agent on \(to) stopped answering during the check; its receive log is lost")
    }
    let mode = got.listener?.mode
    let capture = got.capture

    switch sent.outcome {
    case .refused:
        if capture?.seenAtInterface == false {
            return make(.blocked, .network, "a reset or ICMP port-unreachable came back, yet the probe never reached \(to)'s interface: something on the way rejects it")
        }
        switch mode {
        case .listening?, .observing?:
            let holder = mode == .listening ? "\(to)'s agent holds \(kind)" : "a program on \(to) holds \(kind)"
            return make(.blocked, .hostFirewall, "\(refusalWord(input.kind)) came back although \(holder): \(to)'s own firewall rejects the traffic (a REJECT rule)")
        case .unavailable?, .closed?, nil:
            let why = got.listener?.detail.map { " (\($0))" } ?? ""
            return make(.closed, nil, "\(to) answered that nothing listens on \(kind)\(why)")
        }

    case .unreachable:
        let icmp = sent.detail.map { " (\($0))" } ?? ""
        if capture?.seenAtInterface == true {
            return make(.blocked, .hostFirewall, "an ICMP unreachable\(icmp) came back after the probe reached \(to)'s interface: \(to)'s own firewall rejects it")
        }
        if capture?.seenAtInterface == false {
            return make(.blocked, .network, "an ICMP unreachable\(icmp) came back and the probe never reached \(to)'s interface: a router or firewall on the way rejects it")
        }
        return make(.blocked, .unknown, "an ICMP unreachable\(icmp) came back; \(to)'s agent never received the probe; a capture tap on \(to) would tell whether its firewall or the network sent it")

    default:  // .timeout
        if got.received > 0 {
            if got.answered > 0 {
                if !mismatched.isEmpty {
                    let seen = Set(mismatched).map(\.description).sorted().joined(separator: ", ")
                    return make(.blocked, .returnPath, "\(to) received \(got.received) of \(sent.attempts) probes and answered \(got.answered) to \(from)'s advertise address \(input.expectedSource), but the probes came from \(seen) and no answer got back: \(from) sends from an address other than its advertise address (NAT, a second NIC; moby#53004)")
                }
                return make(.blocked, .returnPath, "\(to) received \(got.received) of \(sent.attempts) probes and answered \(got.answered), but no answer reached \(from): the way back \(to) -> \(from) drops it (stateless ACL, asymmetric routing)")
            }
            return make(.inconclusive, nil, "\(to) received the probe but did not answer it (rate limit or a send error on \(to)); run again")
        }
        if capture?.answerSeenLeaving == true {
            return make(.blocked, .returnPath, "\(to) answered (its answer was captured leaving), but nothing reached \(from): the way back \(to) -> \(from) drops it")
        }
        if capture?.seenAtInterface == false {
            return make(.blocked, .network, "no answer, and the probe never reached \(to)'s interface: dropped on the way (security group, NACL, routing, a cloud firewall)")
        }
        if capture?.seenAtInterface == true && capture?.seenPastFirewall == false {
            return make(.blocked, .hostFirewall, "the probe reached \(to)'s interface and was dropped by \(to)'s own firewall before any program saw it")
        }
        if mode == .observing {
            if capture?.seenPastFirewall == true {
                return make(.open, nil, "the probe arrived at \(to) past its firewall (observed: another program holds \(kind) and does not answer probes)")
            }
            return make(.inconclusive, nil, "another program holds \(kind) on \(to) and no capture evidence says whether the probe arrived")
        }
        if capture?.seenPastFirewall == true && mode == .listening {
            return make(.inconclusive, nil, "the probe passed \(to)'s firewall but its agent did not log it (replay window, clock skew?)")
        }
        if capture?.seenAtInterface == true && capture?.seenPastFirewall == nil && mode == .listening {
            // No nflog tap, but between the interface and the agent's socket there is only the host itself.
            return make(.blocked, .hostFirewall, "the probe reached \(to)'s interface but never \(to)'s agent listening on \(kind): \(to)'s own firewall (or reverse-path filter) drops it")
        }
        if mode != .listening && input.kind.proto != .tcp {
            let why = got.listener?.detail.map { " (\($0))" } ?? ""
            return make(.inconclusive, nil, "no answer, and \(to)'s agent holds no listener on \(kind)\(why), so nothing could confirm arrival")
        }
        return make(.blocked, .unknown, "no answer, and \(to)'s agent never received the probe: dropped on the way or by \(to)'s own firewall (a capture tap on \(to) would tell which)")
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

private func agentProblem(_ h: AgentHealth) -> String {
    let d = h.detail.map { ": \($0)" } ?? ""
    switch h.status {
    case .up: return "is up"
    case .down: return "could not be reached\(d)"
    case .authFailed: return "rejected our authentication\(d)"
    case .notContacted: return "was not contacted\(d)"
    }
}

private func refusalWord(_ k: KindID) -> String {
    k.proto == .tcp ? "a TCP reset" : "an ICMP port-unreachable"
}

public func formatMillis(_ micros: Int) -> String {
    if micros < 0 { return "\(Double(micros / 10) / 100) ms" }
    if micros < 10_000 {
        // What `Double(micros / 10) / 100` prints (0.81, 1.0, 1.05), in integers: four million of
        // these per 1,000-node check made the Double formatting show up in profiles.
        let n = micros / 10, whole = n / 100, frac = n % 100
        if frac == 0 { return "\(whole).0 ms" }
        if frac % 10 == 0 { return "\(whole).\(frac / 10) ms" }
        return "\(whole).\(frac < 10 ? "0" : "")\(frac) ms"
    }
    return "\(micros / 1000) ms"
}
