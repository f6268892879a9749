import SwarmProbeCore

/// The sentence (`detail`) a person reads for one decided check: what was seen, and what it means. Worded
/// from the decision's reason and the evidence it was decided on; the reason code is what scripts key on.
public enum CheckDetail {
    public static func sentence(_ d: Decision, _ input: VerdictInput) -> String {
        let from = input.fromName, to = input.toName, kind = input.kind.description
        let sent = input.sender, got = input.receiver
        let icmp = sent?.detail.map { " (\($0))" } ?? ""
        switch d.reason {
        case .senderAgentDown:
            return "the agent on \(from) \(agentProblem(input.senderAgent)); nothing was probed"
        case .senderReportLost:
            return "the agent on \(from) stopped answering during the check; its probe results are lost"
        case .answered:
            let rtt = sent?.rttMicros.map { " in \(formatMillis($0))" } ?? ""
            let retry = (sent?.attempts ?? 1) > 1 ? " (after \(sent!.attempts) attempts)" : ""
            return "\(to) answered the authenticated probe\(rtt)\(retry)"
        case .handshakeOnly:
            return
                "the TCP handshake to \(to):\(kind) completed; the program holding the port is not a swarmprobe agent, so only the handshake proves the path"
        case .badAnswer:
            return "an answer came back from \(to) but failed authentication: is the agent there using another token file?"
        case .sendFailed:
            return "\(from) could not send the probe (\(sent?.detail ?? "local error")); fix the sender and run again"
        case .droppedBySenderFirewall:
            let rule = "an output rule on \(from) (nftables/iptables output chain, ufw's outgoing policy) drops \(kind) to \(to)"
            if sent?.egressBlocked == .sendRefused {
                return "\(from)'s own firewall refused to send the probe to \(to) (\(sent?.detail ?? "EPERM")): \(rule); the probe never left \(from)"
            }
            let seen = (sent?.attempts ?? 1) == 1 ? "never saw the probe" : "saw none of its \(sent!.attempts) tries"
            return "no answer, and \(from)'s interface tap \(seen) to \(to) leave: \(rule) before the probe leaves \(from)"
        case .answerLate:
            let after = sent?.missedAnswerMs ?? 0
            let when = after <= 0 ? "as" : "\(after) ms after"
            return
                "\(to)'s answer reached \(from) \(when) the probe was counted silent (captured on \(from)'s interface): the path is open but slow; \(to) or \(from) is overloaded, or the timeout is too short for it (--timeout)"
        case .answerDroppedAtSender:
            return
                "\(to) answered and the answer reached \(from)'s interface \(-(sent?.missedAnswerMs ?? 0)) ms before the probe was counted silent, but never the probe's socket: \(from)'s own firewall drops the answers coming back (an input rule that does not accept established traffic), or its reverse-path filter"
        case .targetAgentDown:
            let seen = sent?.outcome == .refused ? "the port refused the probe and " : ""
            return "\(seen)the agent on \(to) \(agentProblem(input.receiverAgent)); nothing is claimed about the path"
        case .targetReportLost:
            return "the agent on \(to) stopped answering during the check; its receive log is lost"
        case .agentIncompatible:
            let h = input.senderAgent.status == .incompatible ? input.senderAgent : input.receiverAgent
            return "\(h.detail ?? "an agent speaks another protocol version"); nothing is claimed about the path"
        case .interrupted:
            // Undecided rather than lost: say which end had not reported yet.
            guard sent != nil else { return "the check was interrupted before \(from)'s probe to \(to) ended; run it again to decide this path" }
            return "the check was interrupted before \(to)'s agent reported what it received; run it again to decide this path"
        case .rejectedOnTheWay:
            return "a reset or ICMP port-unreachable came back, yet the probe never reached \(to)'s interface: something on the way rejects it"
        case .rejectedByTargetFirewall:
            let holder = got?.listener?.mode == .listening ? "\(to)'s agent holds \(kind)" : "a program on \(to) holds \(kind)"
            let refusal = input.kind.proto == .tcp ? "a TCP reset" : "an ICMP port-unreachable"
            return "\(refusal) came back although \(holder): \(to)'s own firewall rejects the traffic (a REJECT rule)"
        case .nothingListening:
            let why = got?.listener?.detail.map { " (\($0))" } ?? ""
            return "\(to) answered that nothing listens on \(kind)\(why)"
        case .unreachableFromTarget:
            return "an ICMP unreachable\(icmp) came back after the probe reached \(to)'s interface: \(to)'s own firewall rejects it"
        case .unreachableOnTheWay:
            return "an ICMP unreachable\(icmp) came back and the probe never reached \(to)'s interface: a router or firewall on the way rejects it"
        case .unreachableUnknownLayer:
            return
                "an ICMP unreachable\(icmp) came back; \(to)'s agent never received the probe; a capture tap on \(to) would tell whether its firewall or the network sent it"
        case .answerLostOnReturn:
            return
                "\(to) received \(got?.received ?? 0) of \(sent?.attempts ?? 0) probes and answered \(got?.answered ?? 0), but no answer reached \(from): the way back \(to) -> \(from) drops it (stateless ACL, asymmetric routing)"
        case .answerLostWrongSource:
            let seen = d.unexpectedSources.map(\.description).joined(separator: ", ")
            return
                "\(to) received \(got?.received ?? 0) of \(sent?.attempts ?? 0) probes and answered \(got?.answered ?? 0) to \(from)'s advertise address \(input.expectedSource), but the probes came from \(seen) and no answer got back: \(from) sends from an address other than its advertise address (NAT, a second NIC; moby#53004)"
        case .receivedNotAnswered:
            return "\(to) received the probe but did not answer it (rate limit or a send error on \(to)); run again"
        case .answerCapturedLeaving:
            return "\(to) answered (its answer was captured leaving), but nothing reached \(from): the way back \(to) -> \(from) drops it"
        case .silentBeforeTarget:
            return "no answer, and the probe never reached \(to)'s interface: dropped on the way (security group, NACL, routing, a cloud firewall)"
        case .droppedByTargetFirewall:
            return "the probe reached \(to)'s interface and was dropped by \(to)'s own firewall before any program saw it"
        case .notPastTargetInterface:
            return
                "the probe reached \(to)'s interface but never \(to)'s agent listening on \(kind): \(to)'s own firewall (or reverse-path filter) drops it"
        case .arrivedAtNode:
            return
                "the probe arrived at \(to)'s interface, which forwards \(kind) into the routing mesh (the service's own answer is not the tool's to see)"
        case .arrivedNotAnswered:
            return
                "the probe arrived at \(to)'s interface and nothing answered: the routing mesh did not take \(kind) in or pass it on (the node finding says why)"
        case .observedArrival:
            return "the probe arrived at \(to) past its firewall (observed: another program holds \(kind) and does not answer probes)"
        case .observedNoEvidence:
            return "another program holds \(kind) on \(to) and no capture evidence says whether the probe arrived"
        case .passedFirewallNotLogged:
            return "the probe passed \(to)'s firewall but its agent did not log it (replay window, clock skew?)"
        case .noListenerToConfirm:
            let why = got?.listener?.detail.map { " (\($0))" } ?? ""
            return "no answer, and \(to)'s agent holds no listener on \(kind)\(why), so nothing could confirm arrival"
        case .silentUnknownLayer:
            return
                "no answer, and \(to)'s agent never received the probe: dropped on the way or by \(to)'s own firewall (a capture tap on \(to) would tell which)"
        case .awsAllowed, .awsDenied, .awsReturnDenied, .awsUnknown:
            // The AWS audit words its own decisions from the rules it read.
            return ""
        }
    }

    private static func agentProblem(_ h: AgentHealth) -> String {
        let d = h.detail.map { ": \($0)" } ?? ""
        switch h.status {
        case .up: return "is up"
        case .down: return "could not be reached\(d)"
        case .authFailed: return "rejected our authentication\(d)"
        case .incompatible: return "speaks another protocol version\(d)"
        case .notContacted: return "was not contacted\(d)"
        }
    }
}
