import SwarmProbeCore

/// What a finding saw, and what fixes it.
struct Explanation {
    var seen: String
    var fix: String
}

/// The plain words of each finding: what was seen, and which rule on which node fixes it.
/// Shared by the terminal and markdown reports; commands are in backticks for both.
enum Remedy {
    static func title(_ f: CauseFinding) -> String {
        let what: String
        switch f.verdict {
        case .blocked:
            let text = describe(.blocked, f.location)
            what = text.prefix(1).uppercased() + text.dropFirst()
        case .closed: what = "Closed"
        case .inconclusive: what = "Inconclusive"
        case .agentDown: what = "Agent down"
        case .open: what = "Open"
        }
        return "\(what): \(f.kind) (\(f.kindName))"
    }

    static func title(_ a: AgentFinding, _ m: ReportModel) -> String {
        switch a.health.status {
        case .down: return "Agent down: \(m.labeled(a.node))"
        case .authFailed: return "Authentication failed: \(m.labeled(a.node))"
        case .incompatible: return "Agent of another version: \(m.labeled(a.node))"
        case .up: return "Agent stopped answering: \(m.labeled(a.node))"
        case .notContacted: return "Not contacted: \(m.labeled(a.node))"
        }
    }

    static func title(_ s: SourceFinding, _ m: ReportModel) -> String {
        "Unexpected source address: \(m.labeled(s.sender))"
    }

    /// The heading of one target inside a finding: `To wrk-1 (198.18.1.13), from mgr-1, mgr-2`; of a sender
    /// whose own firewall keeps its probes in (grouped by sender): `From wrk-1 (198.18.1.13), to mgr-1, mgr-2`.
    static func subject(_ t: TargetChecks, _ m: ReportModel) -> String {
        if t.isSender { return "From \(m.labeled(t.target)), to \(t.checks.map(\.to).joined(separator: ", "))" }
        return "To \(m.labeled(t.target)), from \(t.sources.joined(separator: ", "))"
    }

    /// What was seen on the way to one target, and the fix.
    static func explain(_ f: CauseFinding, _ t: TargetChecks, _ m: ReportModel) -> Explanation {
        let c = t.target, cAddr = m.labeled(t.target)
        let senders = t.sources.joined(separator: ", ")
        let sendersAddr = m.labeledList(t.sources)
        let k = f.kind, rule = ruleName(f.kind)
        switch (f.verdict, f.location) {
        case (.blocked, .network?):
            return Explanation(
                seen: "Traffic to \(c) on \(k) from \(senders) never reaches \(c)'s network interface." + decidedBy(t, k),
                fix: "Allow inbound \(rule) to \(cAddr) from \(sendersAddr) in the security group / network ACL / cloud firewall between them."
                    + protocolHint(k))
        case (.blocked, .hostFirewall?):
            return Explanation(
                seen:
                    "Traffic from \(senders) reaches \(c)'s interface on \(k), then \(c)'s own firewall (nftables/iptables/ufw/firewalld) rejects or drops it."
                    + decidedBy(t, k),
                fix: "Add an accept rule on \(cAddr) for inbound \(rule) from \(sendersAddr)" + firewallExamples(k, sources: t.sources, m) + ".")
        case (.blocked, .senderFirewall?):
            // Grouped by sender: `t.target` is the node whose own firewall keeps the probes in.
            let a = t.target, aAddr = m.labeled(a)
            let targets = t.checks.map(\.to)
            let targetsText = targets.joined(separator: ", ")
            return Explanation(
                seen:
                    "\(a)'s probes on \(k) to \(targetsText) never leave \(a): its own firewall (an nftables/iptables output rule, "
                    + "an OUTPUT policy of DROP, ufw's `default deny outgoing`) drops them before its network interface, so nothing between "
                    + "the nodes and nothing on \(targetsText) is to blame." + decidedBy(t, k),
                fix: "On \(aAddr) (not on \(targetsText)), accept outgoing \(rule) to \(m.labeledList(targets)) before any drop"
                    + outputExamples(k, targets: targets, m) + ".")
        case (.blocked, .returnPath?):
            let ports = k.port == nil ? "IP protocol 50 (ESP)" : "\(k.proto.rawValue.uppercased()) ephemeral ports 1024-65535"
            // Answers the senders' own interfaces saw arrive, dropped by the senders' own firewalls.
            let onSenders = t.checks.filter(droppedBySender).map(\.from)
            let accept =
                "let established traffic in before any drop (`nft insert rule inet filter input ct state established,related accept`, "
                + "`iptables -I INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`)"
                + (k.port.map { ", or accept \(k.proto.rawValue.uppercased()) from source port \($0) of \(cAddr)" } ?? "")
            if onSenders.count == t.checks.count {
                return Explanation(
                    seen:
                        "\(cAddr) answers the \(k) probes from \(senders), and the answers reach \(senders)'s network interface, but \(senders)'s own firewall drops them before they reach the socket."
                        + decidedBy(t, k),
                    fix: "On \(sendersAddr): \(accept).")
            }
            let also =
                onSenders.isEmpty
                ? "" : " The answers to \(onSenders.joined(separator: ", ")) did arrive and were dropped by their own firewall: there, \(accept)."
            // The evidence sentence of a path whose answers really never arrived.
            let lost = TargetChecks(target: t.target, checks: t.checks.filter { !droppedBySender($0) })
            let lostSenders = lost.sources.joined(separator: ", "), lostAddr = m.labeledList(lost.sources)
            return Explanation(
                seen:
                    "\(cAddr) receives the \(k) probes from \(lostSenders) and answers, but the answers from \(c) back to \(lostSenders) never arrive."
                    + decidedBy(lost, k),
                fix: "Allow the return traffic from \(c) to \(lostAddr): a stateless network ACL (AWS NACL) needs an outbound rule on \(c)'s subnet "
                    + "and an inbound rule on the senders' subnets for \(ports); otherwise look for asymmetric routing (the answer leaves \(c) by another interface or gateway)."
                    + also)
        case (.blocked, _):
            return Explanation(
                seen:
                    "Traffic to \(c) on \(k) from \(senders) gets no answer, and \(c)'s agent never received it: either the network between them drops it "
                    + "(security group, network ACL, cloud firewall) or \(c)'s own firewall does. A capture tap on \(c) (its agent run with packet-capture privileges) would tell which.",
                fix:
                    "Until a capture settles it, check both: allow inbound \(rule) to \(cAddr) from \(sendersAddr) in the security group / network ACL, "
                    + "and accept it in \(c)'s own firewall" + firewallExamples(k, sources: t.sources, m) + ".")
        case (.closed, _):
            let why =
                m.listener(c, k).flatMap { $0.mode == .unavailable ? $0.detail : nil }.map { "; \(c)'s agent could not hold the port: \($0)" } ?? ""
            var fix =
                "Make sure a program holds \(k) on \(c): for a pre-flight check the swarmprobe agent, in a live swarm dockerd "
                + "(`ss -ln\(k.proto == .tcp ? "t" : "u")p` on \(c) shows what listens). If something does listen there, a REJECT rule in \(c)'s firewall answers for it."
            if k == KindID(proto: .tcp, port: 2377) {
                fix += " Closed is expected for 2377/tcp on a worker of a live swarm; if \(c) should be a manager, check `docker node ls`."
            }
            return Explanation(seen: "\(cAddr) answered \(senders) that nothing listens on \(k)\(why).", fix: fix)
        case (.inconclusive, _):
            return Explanation(
                seen: "The evidence from both ends does not settle these paths; each detail says what would.",
                fix: "Do what the detail says, then run the check again.")
        default:
            return Explanation(seen: t.checks.map(\.detail).joined(separator: " "), fix: "Run the check again.")
        }
    }

    /// The evidence that decided a blocked finding, from its first check, in words.
    static func decidedBy(_ t: TargetChecks, _ k: KindID) -> String {
        guard let check = t.checks.first else { return "" }
        let c = check.to, from = check.from
        let cap = check.receiver?.capture
        let what = k.proto == .tcp ? "SYN" : "probe"
        switch check.location {
        case .network?:
            if cap?.seenAtInterface == false {
                return " Decided by capture: the tap on \(c)'s interface saw no \(what) from \(from)."
            }
            return ""
        case .hostFirewall?:
            if check.sender?.outcome == .refused {
                let reply = k.proto == .tcp ? "a TCP reset" : "an ICMP port-unreachable"
                return " Decided by: \(reply) came back from a port \(c)'s agent holds (a REJECT rule)."
            }
            if cap?.seenAtInterface == true && cap?.seenPastFirewall == false {
                return
                    " Decided by capture: the tap on \(c)'s interface saw the \(what) from \(from) arrive; the tap after \(c)'s firewall (nflog) never did."
            }
            if cap?.seenAtInterface == true {
                return " Decided by capture: the tap on \(c)'s interface saw the \(what) from \(from) arrive; \(c)'s agent never got it."
            }
            return ""
        case .senderFirewall?:
            if check.sender?.egressBlocked == .sendRefused {
                return
                    " Decided by: \(from)'s kernel refused to send the \(what) (\(check.sender?.detail ?? "EPERM")), which only a local output rule does."
            }
            return " Decided by capture: the tap on \(from)'s interface never saw the \(what) to \(c) leave."
        case .returnPath?:
            if droppedBySender(check), let after = check.sender?.missedAnswerMs {
                return
                    " Decided by capture: the tap on \(from)'s interface saw \(c)'s answer arrive \(-after) ms before the probe was given up; the probe's socket never got it."
            }
            if let r = check.receiver, r.received > 0 {
                return
                    " Decided by: \(c)'s agent logged \(r.received) probe(s) from \(from) and answered \(r.answered); none of the answers reached \(from)."
            }
            if cap?.answerSeenLeaving == true {
                let answer = k.proto == .tcp ? "SYN-ACK" : "answer"
                return " Decided by capture: the tap on \(c)'s interface saw \(c)'s \(answer) to \(from) leave; it never arrived."
            }
            return ""
        default:
            return ""
        }
    }

    /// The sender's own interface saw the answer arrive well before the probe was given up (its own firewall).
    static func droppedBySender(_ c: CheckResult) -> Bool { c.reason == .answerDroppedAtSender }

    static func explain(_ a: AgentFinding, _ m: ReportModel) -> Explanation {
        let x = a.node, xAddr = m.labeled(a.node)
        let d = a.health.detail.map { " (\($0))" } ?? ""
        let kinds = a.kinds.map(\.description).joined(separator: ", ")
        let effect =
            a.checks.isEmpty
            ? "it takes part in no required check, so nothing required depends on it"
            : "\(plural(a.checks.count, "required check")) to and from \(x) (\(kinds)) say nothing about the path"
        switch a.health.status {
        case .down:
            let ep = m.nodes[x].map { " at \($0.control)" } ?? ""
            return Explanation(
                seen: "The agent on \(xAddr) could not be reached\(d): \(effect).",
                fix: "Start the agent on \(x) (`swarmprobe agent`) and make sure the coordinator reaches its control port\(ep).")
        case .authFailed:
            return Explanation(
                seen: "The agent on \(xAddr) refused the coordinator's authentication\(d): \(effect).",
                fix: "Copy the coordinator's token file to \(x) (\(m.address(x))), restart its agent, and run the check again.")
        case .incompatible:
            return Explanation(
                seen: "The agent on \(xAddr) speaks another version of the control protocol\(d): \(effect).",
                fix: "Run the same swarmprobe version on \(x) as where the check runs (`swarmprobe --version` on both), then run the check again.")
        case .up:
            return Explanation(
                seen: "The agent on \(xAddr) stopped answering during the check: \(effect).",
                fix: "Look at the agent's log on \(x) (did it crash or restart?) and run the check again.")
        case .notContacted:
            return Explanation(seen: "No agent on \(xAddr) was asked\(d).", fix: "Run `swarmprobe check` with agents to see the packets as well.")
        }
    }

    static func explain(_ s: SourceFinding, _ m: ReportModel) -> Explanation {
        let a = s.sender
        let seen = s.addresses.map(\.description).joined(separator: ", ")
        let kinds = s.kinds.map(\.description).joined(separator: ", ")
        let firstTarget = s.targets.first.map { m.address($0) } ?? "PEER-ADDRESS"
        return Explanation(
            seen:
                "Probes from \(a) arrived at \(m.labeledList(s.targets)) on \(kinds) from \(seen), not from \(a)'s advertise address \(m.address(a)). "
                + "Swarm peers expect \(a)'s traffic from its advertise address, and VXLAN from another address is dropped (moby#53004). "
                + "Likely causes: a wrong `--advertise-addr`, NAT between the nodes, or a second network interface whose route the kernel picks.",
            fix: "On \(a), `ip route get \(firstTarget)` must show `src \(m.address(a))`; fix the route, "
                + "or give swarm the address the others really see (`--advertise-addr`, `--data-path-addr`).")
    }

    // MARK: -

    private static func protocolHint(_ k: KindID) -> String {
        switch k.proto {
        case .udp: return " Make sure the rule is for UDP: a TCP rule for the same port does not cover it (moby#25836)."
        case .esp:
            return
                " ESP is IP protocol 50, not a port: it needs its own rule (\"all TCP\" / \"all UDP\" rules do not cover it), and it does not pass NAT (moby#37115)."
        case .tcp: return ""
        }
    }

    /// An nft match for outgoing traffic of a kind: `udp dport 7946`, `meta l4proto esp`.
    static func outputMatch(_ k: KindID) -> String {
        k.port.map { "\(k.proto.rawValue) dport \($0)" } ?? "meta l4proto esp"
    }

    /// The iptables match of the same: `-p udp --dport 7946`, `-p esp`.
    static func iptablesMatch(_ k: KindID) -> String {
        "-p \(k.proto.rawValue)" + (k.port.map { " --dport \($0)" } ?? "")
    }

    /// ufw's rule for outgoing traffic of a kind, to one address or anywhere: `ufw allow out to 198.18.1.12 port 7946 proto udp`.
    static func ufwOut(_ k: KindID, to address: IPAddress?) -> String {
        let dest = address.map(\.description) ?? "any"
        if let port = k.port {
            return address == nil ? "ufw allow out \(port)/\(k.proto.rawValue)" : "ufw allow out to \(dest) port \(port) proto \(k.proto.rawValue)"
        }
        return "ufw allow out to \(dest) proto esp"
    }

    /// `, e.g. `nft insert rule inet filter output ...` (nftables), `iptables -I OUTPUT ...` or `ufw allow out ...``:
    /// output rules on a sender for the targets whose address is known. Inserted, not appended: an explicit drop
    /// rule at the chain's end would come first.
    private static func outputExamples(_ k: KindID, targets: [String], _ m: ReportModel) -> String {
        let addresses = targets.compactMap { m.nodes[$0]?.address }
        guard !addresses.isEmpty else { return "" }
        let match = outputMatch(k)
        var nft: [String] = []
        var ipt: [String] = []
        for (family, tool, group) in [("ip", "iptables", addresses.filter(\.isIPv4)), ("ip6", "ip6tables", addresses.filter { !$0.isIPv4 })]
        where !group.isEmpty {
            let set = group.count == 1 ? group[0].description : "{ " + group.map(\.description).joined(separator: ", ") + " }"
            nft.append("`nft insert rule inet filter output \(family) daddr \(set) \(match) accept`")
            ipt.append("`\(tool) -I OUTPUT -d \(group.map(\.description).joined(separator: ",")) \(iptablesMatch(k)) -j ACCEPT`")
        }
        let ufw = "`\(ufwOut(k, to: addresses.count == 1 ? addresses[0] : nil))`"
        return ", e.g. " + nft.joined(separator: " and ") + " (nftables), " + ipt.joined(separator: " and ") + " (iptables) or " + ufw + " (ufw)"
    }

    /// `, e.g. `nft ...` (nftables) or `ufw ...` (ufw)`, for the sources whose address is known.
    private static func firewallExamples(_ k: KindID, sources: [String], _ m: ReportModel) -> String {
        let addresses = sources.compactMap { m.nodes[$0]?.address }
        guard let first = addresses.first else { return "" }
        let match: String
        if let port = k.port {
            match = "\(k.proto.rawValue) dport \(port)"
        } else {
            match = "meta l4proto esp"
        }
        var nft: [String] = []
        for (family, group) in [("ip", addresses.filter(\.isIPv4)), ("ip6", addresses.filter { !$0.isIPv4 })] where !group.isEmpty {
            let set = group.count == 1 ? group[0].description : "{ " + group.map(\.description).joined(separator: ", ") + " }"
            nft.append("`nft insert rule inet filter input \(family) saddr \(set) \(match) accept`")
        }
        let ufw: String
        if let port = k.port {
            ufw = "`ufw allow from \(first) to any port \(port) proto \(k.proto.rawValue)`"
        } else {
            ufw = "`ufw allow proto esp from \(first) to any`"
        }
        let perSource = addresses.count > 1 ? ", one rule per source" : ""
        return ", e.g. " + nft.joined(separator: " and ") + " (nftables) or " + ufw + " (ufw\(perSource))"
    }
}
