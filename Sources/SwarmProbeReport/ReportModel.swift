import SwarmProbeCore

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
    /// Required checks an interrupt left undecided (reason `interrupted`): not findings, listed apart.
    let undecided: [CheckResult]
    /// Required checks found not open (undecided ones are not).
    /// Between nodes only: the published ports' have the routing mesh section.
    var requiredNotOpen: Int { results.summary.requiredNotOpen - results.summary.requiredUndecided - publishedNotOpen }
    /// Published ports not answered where they must be (the routing mesh section lists them).
    var publishedNotOpen: Int { published.count { $0.required && $0.verdict != .open && $0.reason != .interrupted } }
    let agentFindings: [AgentFinding]
    let sourceFindings: [SourceFinding]
    let information: [InfoGroup]
    /// The published-port checks, in results order.
    let published: [CheckResult]
    /// Matrices label columns with node names when every name is short, numbers otherwise.
    let numberedColumns: Bool

    init(_ r: Results) {
        results = r
        // Published-port checks come from the coordinator's vantage, not a node: the routing mesh section shows them.
        let mesh = r.checks.filter { $0.published == nil }
        published = r.checks.filter { $0.published != nil }
        var names = r.nodes.map(\.name)
        var seen = Set(names)
        for c in mesh {
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
        for c in mesh {
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
        undecided = r.checks.filter { $0.required && $0.reason == .interrupted }
        for c in mesh where c.required && c.verdict != .open && !c.blamesAnAgent && c.reason != .interrupted {
            let location = c.verdict == .blocked ? (c.location ?? .unknown) : nil
            let i: Int
            if let found = causes.firstIndex(where: { $0.verdict == c.verdict && $0.location == location && $0.kind == c.kindID }) {
                i = found
            } else {
                causes.append(CauseFinding(verdict: c.verdict, location: location, kind: c.kindID, kindName: c.kind, targets: []))
                i = causes.count - 1
            }
            // The sender's own firewall is the sender's to fix: grouped by sender, not by target.
            let node = location == .senderFirewall ? c.from : c.to
            if let t = causes[i].targets.firstIndex(where: { $0.target == node }) {
                causes[i].targets[t].checks.append(c)
            } else {
                causes[i].targets.append(TargetChecks(target: node, checks: [c]))
            }
        }
        for i in causes.indices {
            causes[i].targets.sort { byNode($0.target, $1.target) }
            for t in causes[i].targets.indices {
                let bySender = causes[i].targets[t].isSender
                causes[i].targets[t].checks.sort { bySender ? byNode($0.to, $1.to) : byNode($0.from, $1.from) }
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
        for c in mesh where c.required && c.blamesAnAgent {
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
        for c in mesh where !c.unexpectedSources.isEmpty {
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
        for c in mesh where !c.required && c.verdict != .open {
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
            let paths =
                s.requiredNotOpen == 0
                ? "all \(plural(requiredChecks, "required path")) open"
                : "\(s.requiredNotOpen) of \(plural(requiredChecks, "required path")) not open"
            return "FAIL: " + paths + NodeFindingLines.verdictPart(s)
        case .incomplete:
            return IncompleteHeadline.line(s) + NodeFindingLines.verdictPart(s)
        }
    }

    /// `w1 -> w2 7946/tcp, ...`: the undecided required paths, the first 20 named.
    var undecidedList: String {
        let named = undecided.prefix(20).map { "\($0.from) -> \($0.to) \($0.kindID)" }.joined(separator: ", ")
        return undecided.count > 20 ? named + " and \(undecided.count - 20) more" : named
    }

    /// `60 checks: 21 open, 9 blocked, ...`, zero counts left out.
    var countsLine: String {
        let s = results.summary
        var parts = ["\(s.open) open"]
        if s.blocked > 0 { parts.append("\(s.blocked) blocked") }
        if s.closed > 0 { parts.append("\(s.closed) closed") }
        if s.agentDown > 0 { parts.append("\(s.agentDown) agent-down") }
        if s.inconclusive > 0 { parts.append("\(s.inconclusive) inconclusive" + (s.undecided > 0 ? " (\(s.undecided) of them undecided)" : "")) }
        return "\(plural(s.checks, "check")): " + parts.joined(separator: ", ")
    }
}
