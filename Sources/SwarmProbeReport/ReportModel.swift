import SwarmProbeCore

/// The checks of one traffic kind, for one matrix.
struct KindSection {
    var id: KindID
    /// The profile's name for the kind (`overlay-data`).
    var name: String
    var checks: [CheckResult] = []
    /// The first check of each ordered pair, so a matrix of many nodes stays cheap to fill.
    private var byPair: [Pair: CheckResult] = [:]

    private struct Pair: Hashable {
        var from: String
        var to: String
    }

    init(id: KindID, name: String) {
        self.id = id
        self.name = name
    }

    mutating func append(_ c: CheckResult) {
        checks.append(c)
        let pair = Pair(from: c.from, to: c.to)
        if byPair[pair] == nil { byPair[pair] = c }
    }

    func check(from: String, to: String) -> CheckResult? {
        byPair[Pair(from: from, to: to)]
    }
}

/// Required checks that are not open and share a cause: verdict, where, kind.
struct CauseFinding {
    var verdict: Verdict
    var location: Where?
    var kind: KindID
    var kindName: String
    /// One entry per target node, in inventory order.
    var targets: [TargetChecks]

    var checkCount: Int { targets.reduce(0) { $0 + $1.checks.count } }
}

struct TargetChecks {
    var target: String
    /// In inventory order of the sender.
    var checks: [CheckResult]
    var sources: [String] { checks.map(\.from) }
}

/// A node whose agent could not vouch for the checks it takes part in.
struct AgentFinding {
    var node: String
    var health: AgentHealth
    /// Required agent-down checks this node's agent is to blame for.
    var checks: [CheckResult]
    var kinds: [KindID]
}

/// Probes from one sender that arrived from an address other than its advertise address.
struct SourceFinding {
    var sender: String
    var addresses: [IPAddress]
    var targets: [String]
    var kinds: [KindID]
}

/// Non-required checks that are not open, grouped like findings.
struct InfoGroup {
    var verdict: Verdict
    var location: Where?
    var kind: KindID
    var kindName: String
    var checks: [CheckResult]
}

/// Everything the renderers share: grouping, ordering, findings. Built once per render.
struct ReportModel {
    static let clockSkewLimitMs = 30_000
    /// Above this many node names longer than `namedColumnLimit`, matrices number their columns.
    static let namedColumnLimit = 10

    let results: Results
    /// Inventory order, then any name only the checks mention.
    let nodeNames: [String]
    let nodes: [String: NodeResult]
    let kinds: [KindSection]
    let requiredChecks: Int
    let causeFindings: [CauseFinding]
    let agentFindings: [AgentFinding]
    let sourceFindings: [SourceFinding]
    let information: [InfoGroup]
    /// Matrices label columns with node names when every name is short, numbers otherwise.
    let numberedColumns: Bool

    init(_ r: Results) {
        results = r
        var names = r.nodes.map(\.name)
        var seen = Set(names)
        for c in r.checks {
            for n in [c.from, c.to] where !seen.contains(n) {
                seen.insert(n)
                names.append(n)
            }
        }
        nodeNames = names
        let nodeMap = Dictionary(r.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        nodes = nodeMap
        numberedColumns = names.contains { $0.count > ReportModel.namedColumnLimit }
        let order = Dictionary(names.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })

        var sections: [KindSection] = []
        var sectionIndex: [KindID: Int] = [:]
        for c in r.checks {
            let i: Int
            if let found = sectionIndex[c.kindID] {
                i = found
            } else {
                i = sections.count
                sectionIndex[c.kindID] = i
                sections.append(KindSection(id: c.kindID, name: c.kind))
            }
            sections[i].append(c)
        }
        kinds = sections
        requiredChecks = r.checks.count { $0.required }

        let kindOrder = sectionIndex
        func rank(_ v: Verdict, _ w: Where?) -> Int {
            let whereRank = w.flatMap { Where.allCases.firstIndex(of: $0) } ?? Where.allCases.count
            return (Verdict.allCases.firstIndex(of: v) ?? 0) * 10 + whereRank
        }
        func byNode(_ a: String, _ b: String) -> Bool { (order[a] ?? 0) < (order[b] ?? 0) }

        // Required, not open, not agent-down: grouped by (verdict, where, kind), then by target.
        var causes: [CauseFinding] = []
        for c in r.checks where c.required && c.verdict != .open && !c.blamesAnAgent {
            let location = c.verdict == .blocked ? (c.location ?? .unknown) : nil
            let i: Int
            if let found = causes.firstIndex(where: { $0.verdict == c.verdict && $0.location == location && $0.kind == c.kindID }) {
                i = found
            } else {
                causes.append(CauseFinding(verdict: c.verdict, location: location, kind: c.kindID, kindName: c.kind, targets: []))
                i = causes.count - 1
            }
            if let t = causes[i].targets.firstIndex(where: { $0.target == c.to }) {
                causes[i].targets[t].checks.append(c)
            } else {
                causes[i].targets.append(TargetChecks(target: c.to, checks: [c]))
            }
        }
        for i in causes.indices {
            causes[i].targets.sort { byNode($0.target, $1.target) }
            for t in causes[i].targets.indices {
                causes[i].targets[t].checks.sort { byNode($0.from, $1.from) }
            }
        }
        causeFindings = causes.enumerated().sorted { a, b in
            let ra = rank(a.element.verdict, a.element.location), rb = rank(b.element.verdict, b.element.location)
            if ra != rb { return ra < rb }
            let ka = kindOrder[a.element.kind] ?? 0, kb = kindOrder[b.element.kind] ?? 0
            if ka != kb { return ka < kb }
            return a.offset < b.offset
        }.map(\.element)

        // An agent could not vouch: blamed on the sender when it reported nothing, else on the target.
        var agents: [String: AgentFinding] = [:]
        for c in r.checks where c.required && c.blamesAnAgent {
            let blamed = c.sender == nil ? c.from : c.to
            var f = agents[blamed] ?? AgentFinding(node: blamed, health: nodeMap[blamed]?.agent ?? AgentHealth(.down), checks: [], kinds: [])
            f.checks.append(c)
            if !f.kinds.contains(c.kindID) { f.kinds.append(c.kindID) }
            agents[blamed] = f
        }
        // A node whose agent is not up is a finding even when it only takes part in optional checks.
        for n in r.nodes where !n.agent.isUp && n.agent.status != .notContacted && agents[n.name] == nil {
            agents[n.name] = AgentFinding(node: n.name, health: n.agent, checks: [], kinds: [])
        }
        agentFindings = agents.values.sorted { byNode($0.node, $1.node) }

        var sources: [String: SourceFinding] = [:]
        for c in r.checks where !c.unexpectedSources.isEmpty {
            var f = sources[c.from] ?? SourceFinding(sender: c.from, addresses: [], targets: [], kinds: [])
            for a in c.unexpectedSources where !f.addresses.contains(a) { f.addresses.append(a) }
            if !f.targets.contains(c.to) { f.targets.append(c.to) }
            if !f.kinds.contains(c.kindID) { f.kinds.append(c.kindID) }
            sources[c.from] = f
        }
        sourceFindings = sources.values.map { f in
            var f = f
            f.addresses.sort { $0.description < $1.description }
            f.targets.sort(by: byNode)
            return f
        }.sorted { byNode($0.sender, $1.sender) }

        var info: [InfoGroup] = []
        for c in r.checks where !c.required && c.verdict != .open {
            let location = c.verdict == .blocked ? (c.location ?? .unknown) : nil
            if let i = info.firstIndex(where: { $0.verdict == c.verdict && $0.location == location && $0.kind == c.kindID }) {
                info[i].checks.append(c)
            } else {
                info.append(InfoGroup(verdict: c.verdict, location: location, kind: c.kindID, kindName: c.kind, checks: [c]))
            }
        }
        information = info.enumerated().sorted { a, b in
            let ka = kindOrder[a.element.kind] ?? 0, kb = kindOrder[b.element.kind] ?? 0
            if ka != kb { return ka < kb }
            let ra = rank(a.element.verdict, a.element.location), rb = rank(b.element.verdict, b.element.location)
            if ra != rb { return ra < rb }
            return a.offset < b.offset
        }.map(\.element)
    }

    // MARK: Nodes

    func address(_ name: String) -> String {
        nodes[name].map { $0.address.description } ?? "address unknown"
    }

    /// `mgr-1 (198.18.1.11)`: how remediation names a node, so a firewall owner can act.
    func labeled(_ name: String) -> String { "\(name) (\(address(name)))" }

    func labeledList(_ names: [String]) -> String { names.map(labeled).joined(separator: ", ") }

    /// Column label of a node in the matrices.
    func columnLabel(_ name: String) -> String {
        guard numberedColumns, let i = nodeNames.firstIndex(of: name) else { return name }
        return String(i + 1)
    }

    /// Row label of a node in the matrices: with numbered columns, the number says which column is which.
    func rowLabel(_ name: String) -> String {
        guard numberedColumns, let i = nodeNames.firstIndex(of: name) else { return name }
        return "\(i + 1) \(name)"
    }

    /// Nodes whose listener for a kind is unavailable, with why.
    var unavailableListeners: [(node: String, listener: ListenerState)] {
        results.nodes.flatMap { n in n.listeners.filter { $0.mode == .unavailable }.map { (n.name, $0) } }
    }

    var skewedClocks: [(node: String, offsetMs: Int)] {
        results.nodes.compactMap { n in
            guard let o = n.clockOffsetMs, abs(o) > ReportModel.clockSkewLimitMs else { return nil }
            return (n.name, o)
        }
    }

    /// The note on late answers (open checks whose answer the sender's interface saw only after the probe
    /// was given up), naming the targets they went to; nil when there were none.
    func lateAnswersNote(timeoutMs: Int) -> String? {
        var late = LateAnswers(), targets: [String] = []
        for c in results.checks where late.add(c) && !targets.contains(c.to) { targets.append(c.to) }
        guard late.count > 0 else { return nil }
        let list = targets.prefix(8).joined(separator: ", ") + (targets.count > 8 ? " and \(targets.count - 8) more" : "")
        return late.sentence(to: list, timeoutMs: timeoutMs)
    }

    func listener(_ node: String, _ kind: KindID) -> ListenerState? {
        nodes[node]?.listeners.first { $0.kind == kind }
    }

    // MARK: Verdict

    enum Status { case pass, fail, incomplete }

    var status: Status {
        switch results.summary.status {
        case "pass": return .pass
        case "incomplete": return .incomplete
        default: return .fail
        }
    }

    /// `FAIL: 9 of 28 required paths not open`: the run in one line.
    var verdictLine: String {
        let s = results.summary
        switch status {
        case .pass:
            return "PASS: all \(plural(requiredChecks, "required path")) open"
        case .fail:
            return "FAIL: \(s.requiredNotOpen) of \(plural(requiredChecks, "required path")) not open"
        case .incomplete:
            return "INCOMPLETE: interrupted after \(plural(s.checks, "check")); \(plural(s.requiredNotOpen, "required path")) not open so far"
        }
    }

    /// `60 checks: 21 open, 9 blocked, ...`, zero counts left out.
    var countsLine: String {
        let s = results.summary
        var parts = ["\(s.open) open"]
        if s.blocked > 0 { parts.append("\(s.blocked) blocked") }
        if s.closed > 0 { parts.append("\(s.closed) closed") }
        if s.agentDown > 0 { parts.append("\(s.agentDown) agent-down") }
        if s.inconclusive > 0 { parts.append("\(s.inconclusive) inconclusive") }
        return "\(plural(s.checks, "check")): " + parts.joined(separator: ", ")
    }
}

// MARK: - Cells

enum Cell {
    /// The short symbol of one check in a matrix; non-required checks in parentheses.
    static func symbol(_ c: CheckResult?) -> String {
        guard let c else { return "." }
        let base: String
        switch c.verdict {
        case .open: base = "ok"
        case .blocked:
            switch c.location ?? .unknown {
            case .network: base = "NET"
            case .hostFirewall: base = "FW"
            case .returnPath: base = "RET"
            case .unknown: base = "??"
            }
        case .closed: base = "cl"
        case .agentDown: base = "dn"
        case .inconclusive: base = "?"
        }
        return c.required ? base : "(\(base))"
    }

    static let diagonal = "-"
    static let width = 5  // "(RET)"

    static let legend: [(String, String)] = [
        ("ok", "open"),
        ("NET", "blocked in the network"),
        ("FW", "blocked by the target's own firewall"),
        ("RET", "blocked on the return path"),
        ("??", "blocked, place unknown"),
        ("cl", "closed (nothing listens)"),
        ("dn", "agent down"),
        ("?", "inconclusive"),
        ("(..)", "not required by swarm"),
        ("-", "same node"),
        (".", "not checked"),
    ]
}

extension CheckResult {
    /// The agent at one end could not vouch for the path (down, or of another protocol version): the finding
    /// is the agent's, not the path's.
    var blamesAnAgent: Bool { verdict == .agentDown || reason == .agentIncompatible }
}

// MARK: - Words

public func plural(_ n: Int, _ noun: String) -> String {
    if n == 1 { return "1 \(noun)" }
    if noun.hasSuffix("s") { return "\(n) \(noun)es" }
    return "\(n) \(noun)s"
}

/// Open checks whose answer the sender's interface saw only after the probe was given up: how many, and
/// the latest (ms past the give-up). Every report counts them here.
public struct LateAnswers: Sendable, Equatable {
    public private(set) var count = 0, slowestMs = 0

    /// Counts `c` if it is one; true if so.
    @discardableResult
    mutating func add(_ c: CheckResult) -> Bool {
        guard c.verdict == .open, let after = c.sender?.missedAnswerMs else { return false }
        count += 1
        slowestMs = max(slowestMs, after)
        return true
    }

    /// In every report's words; `targets`: where they went, when the report names them.
    func sentence(to targets: String?, timeoutMs: Int) -> String {
        "\(plural(count, "open check")) answered only after the probe was given up (up to \(slowestMs) ms late\(targets.map { "; to \($0)" } ?? "")): "
            + "the paths work, but those nodes or the network are slow (overloaded?), and swarm's gossip (memberlist) gives up on a probe after 500 ms. "
            + "A longer --timeout (now \(timeoutMs) ms) makes the probes wait for them."
    }
}

/// The probe timeout as the reports state it: `500 ms`, or with `--timeout auto`
/// `auto, at most 500 ms` (long: how auto works, and the tries).
func timeoutText(_ r: Results, long: Bool = false) -> String {
    let t = formatDuration(ms: r.timeoutMs)
    let tries = r.attempts.map { ", \($0) tries per probe" } ?? ""
    switch r.timeoutPolicy {
    case "auto"?:
        return long ? "\(t) at most (auto: 4 x the measured round trip to both ends, at least \(ProbeTiming.burstMsPerPeer) ms per peer within \(ProbeTiming.captureFloorMs)-\(ProbeTiming.floorMs) ms, \(ProbeTiming.floorMs) ms from a node without a capture tap)\(tries)" : "auto, at most \(t)"
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
    if let m = s.missedAnswerMs { out += m < 0 ? "; answer captured arriving \(-m) ms before it gave up" : "; answer captured arriving \(m) ms after it gave up" }
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

/// Greedy word wrap. A `code span` is never broken, so a command stays copyable;
/// a token longer than the width gets a line of its own.
func wrap(_ text: String, width: Int, indent: String, firstIndent: String? = nil) -> [String] {
    wrap(tokens: words(text), width: width, indent: indent, firstIndent: firstIndent)
}

func wrap(tokens: [String], width: Int, indent: String, firstIndent: String? = nil) -> [String] {
    var lines: [String] = []
    var line = firstIndent ?? indent
    var lineHasWord = false
    for token in tokens {
        if lineHasWord && line.count + 1 + token.count > width {
            lines.append(line)
            line = indent
            lineHasWord = false
        }
        line += (lineHasWord ? " " : "") + token
        lineHasWord = true
    }
    if lineHasWord || lines.isEmpty { lines.append(line) }
    return lines
}

/// Words split at spaces, except inside backticks.
func words(_ text: String) -> [String] {
    var out: [String] = []
    var current = ""
    var inCode = false
    for ch in text {
        if ch == "`" { inCode.toggle() }
        if ch == " " && !inCode {
            if !current.isEmpty { out.append(current) }
            current = ""
        } else {
            current.append(ch)
        }
    }
    if !current.isEmpty { out.append(current) }
    return out
}
