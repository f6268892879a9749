import SwarmProbeCore

public func plural(_ n: Int, _ noun: String) -> String {
    if n == 1 { return "1 \(noun)" }
    if noun.hasSuffix("s") { return "\(n) \(noun)es" }
    return "\(n) \(noun)s"
}

/// The probe timeout as the reports state it: `500 ms`, or with `--timeout auto`
/// `auto, at most 500 ms` (long: how auto works, and the tries).
func timeoutText(_ r: Results, long: Bool = false) -> String {
    let t = formatDuration(ms: r.timeoutMs)
    let tries = r.attempts.map { ", \($0) tries per probe" } ?? ""
    switch r.timeoutPolicy {
    case "auto"?:
        return long
            ? "\(t) at most (auto: 4 x the measured round trip to both ends, at least \(ProbeTiming.burstMsPerPeer) ms per peer within \(ProbeTiming.captureFloorMs)-\(ProbeTiming.floorMs) ms, \(ProbeTiming.floorMs) ms from a node without a capture tap)\(tries)"
            : "auto, at most \(t)"
    default:
        return long ? "\(t)\(tries)" : t
    }
}

/// `850 ms`, `4.2 s`.
func formatDuration(ms: Int) -> String {
    if ms < 1000 { return "\(ms) ms" }
    return "\(ms / 1000).\((ms % 1000) / 100) s"
}

/// `+12 ms`, `-45.2 s`.
func formatOffset(ms: Int) -> String {
    (ms < 0 ? "-" : ms > 0 ? "+" : "") + formatDuration(ms: abs(ms))
}

func describe(_ v: Verdict, _ w: Where?) -> String {
    switch v {
    case .open: return "open"
    case .blocked:
        switch w ?? .unknown {
        case .network: return "blocked in the network"
        case .hostFirewall: return "blocked by the target's own firewall"
        case .senderFirewall: return "blocked by the sender's own firewall"
        case .returnPath: return "blocked on the return path"
        case .unknown: return "blocked, place unknown"
        }
    case .closed: return "closed"
    case .agentDown: return "agent down"
    case .inconclusive: return "inconclusive"
    }
}

func describe(_ h: AgentHealth) -> String {
    let d = h.detail.map { ": \($0)" } ?? ""
    return h.status.rawValue + d
}

func describe(_ l: ListenerState) -> String {
    switch l.mode {
    case .listening, .observing: return l.mode.rawValue
    case .unavailable: return "unavailable" + (l.detail.map { " (\($0))" } ?? "")
    case .closed: return "closed (nothing holds it)"
    }
}

func describe(_ t: TapState) -> String {
    if t.active {
        // `interface eth0`, `nflog:7950`: the device names the nflog tap by itself.
        guard let device = t.device else { return t.tap.rawValue }
        return device.hasPrefix(t.tap.rawValue) ? device : "\(t.tap.rawValue) \(device)"
    }
    return "\(t.tap.rawValue) off" + (t.detail.map { " (\($0))" } ?? "")
}

func describe(_ s: SenderEvidence?) -> String {
    guard let s else { return "no report" }
    var out = "\(s.outcome.rawValue), \(plural(s.attempts, "attempt"))"
    if let rtt = s.rttMicros { out += ", \(formatMillis(rtt))" }
    if let d = s.detail { out += " (\(d))" }
    if let m = s.missedAnswerMs {
        out += m < 0 ? "; answer captured arriving \(-m) ms before it gave up" : "; answer captured arriving \(m) ms after it gave up"
    }
    if s.egressBlocked == .notSeenLeaving { out += "; never captured leaving" }
    return out
}

func describe(_ r: ReceiverEvidence?) -> String {
    guard let r else { return "no report" }
    var parts: [String] = []
    if let l = r.listener { parts.append(describe(l)) }
    parts.append("received \(r.received), answered \(r.answered)")
    if !r.sourceAddresses.isEmpty {
        parts.append("from " + r.sourceAddresses.map(\.description).joined(separator: ", "))
    }
    if let c = r.capture {
        var seen: [String] = []
        func yn(_ b: Bool) -> String { b ? "yes" : "no" }
        if let v = c.seenAtInterface { seen.append("at interface \(yn(v))") }
        if let v = c.seenPastFirewall { seen.append("past firewall \(yn(v))") }
        if let v = c.answerSeenLeaving { seen.append("answer leaving \(yn(v))") }
        if !seen.isEmpty { parts.append("capture: " + seen.joined(separator: ", ")) }
    }
    return parts.joined(separator: "; ")
}

/// `UDP 4789`, `TCP 2377`, `IP protocol 50 (ESP)`: how a firewall rule names the kind.
func ruleName(_ k: KindID) -> String {
    guard let port = k.port else { return "IP protocol 50 (ESP)" }
    return "\(k.proto.rawValue.uppercased()) \(port)"
}

/// `0.81 ms`, `1.05 ms`, `15 ms`: a round trip as the reports print it.
public func formatMillis(_ micros: Int) -> String {
    if micros < 0 { return "\(Double(micros / 10) / 100) ms" }
    if micros < 10_000 {
        // What `Double(micros / 10) / 100` prints (0.81, 1.0, 1.05), in integers: cheap enough for
        // millions of checks.
        let n = micros / 10, whole = n / 100, frac = n % 100
        if frac == 0 { return "\(whole).0 ms" }
        if frac % 10 == 0 { return "\(whole).\(frac / 10) ms" }
        return "\(whole).\(frac < 10 ? "0" : "")\(frac) ms"
    }
    return "\(micros / 1000) ms"
}

/// `62,500`.
public func thousands(_ n: Int) -> String {
    let digits = String(abs(n))
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}
