import SwarmProbeCore

/// One cause: required (or not) checks with the same verdict, place and kind.
public struct CauseGroup: Sendable {
    public var verdict: Verdict
    public var location: Where?
    public var kind: KindID
    public var kindName: String
    public var required: Bool
    public var checks = 0
    var senders: NodeSet
    var targets: NodeSet
    /// Per (sender group, target group), in order of first appearance.
    public var pairs: [GroupPair] = []
    var pairIndex: [Int: Int] = [:]
}

/// The checks of one cause from one node group to another.
public struct GroupPair: Sendable {
    public var fromGroup: Int
    public var toGroup: Int
    public var checks = 0
    var senders: NodeSet
    var targets: NodeSet
    /// The first check, in plan order: its detail and evidence stand for the rest.
    public var sample: CheckResult
    public var senderCount: Int { senders.count }
    public var targetCount: Int { targets.count }
}

/// A node whose agent could not vouch for the checks it takes part in.
public struct AgentGroup: Sendable {
    public var node: Int
    public var health: AgentHealth
    /// Required agent-down checks blamed on this node.
    public var checks = 0
    public var kinds: [KindID] = []
}

/// Probes from one sender that arrived from addresses other than its advertise address.
public struct SourceGroup: Sendable {
    public var sender: Int
    public var addresses: [IPAddress] = []
    var targets: NodeSet
    public var kinds: [KindID] = []
    public var sample: CheckResult
    public var targetCount: Int { targets.count }
}

/// Everything the reports of many nodes need, gathered one check at a time: counts, a group x group
/// matrix per kind, and the checks that are not open grouped by cause and by node group, with one
/// sample check each. Its size depends on the nodes and the causes, not on the number of checks.
public struct CheckGroups: Sendable {
    public let nodes: [NodeResult]
    /// The results' node findings (host problems), counted in `summary`.
    /// The host's findings and, added once the checks are in, the published ports' explanations.
    public var nodeFindings: [NodeFinding]
    public let groups: NodeGroups
    public private(set) var counter = Summary.Counter()
    /// Kinds in order of first appearance, with the profile's name.
    public private(set) var kinds: [(id: KindID, name: String)] = []
    /// Per kind: open checks.
    public private(set) var openPerKind: [Int] = []
    public private(set) var requiredChecks = 0
    /// Open checks whose answer came only after the probe was given up.
    public private(set) var lateAnswers = LateAnswers()
    /// Required, not open, not agent-down; unordered until `finish()`.
    public private(set) var causes: [CauseGroup] = []
    /// Not required and not open.
    public private(set) var information: [CauseGroup] = []
    public private(set) var agents: [AgentGroup] = []
    public private(set) var sources: [SourceGroup] = []

    /// [kind][from group][to group][symbol * 2 + required]
    private var cells: [Int] = []
    private var nodeIndex: [String: Int] = [:]
    /// The published-port checks, whole.
    public private(set) var published: [CheckResult] = []
    private var causeIndex: [Int: Int] = [:]
    private var infoIndex: [Int: Int] = [:]
    private var agentIndex: [Int: Int] = [:]
    private var sourceIndex: [Int: Int] = [:]
    /// Names of nodes only the checks mention (not in the node list): grouped as `other`.
    private var strangers: [String] = []

    public init(nodes: [NodeResult], nodeFindings: [NodeFinding] = []) {
        self.nodes = nodes
        self.nodeFindings = nodeFindings
        groups = NodeGroups(nodes: nodes)
        for (i, n) in nodes.enumerated() where nodeIndex[n.name] == nil { nodeIndex[n.name] = i }
    }

    /// Every check of `r`, grouped and finished.
    public init(_ r: Results) {
        self.init(nodes: r.nodes, nodeFindings: r.nodeFindings)
        for c in r.checks { add(c) }
        finish()
    }

    static let symbols = 9

    private func node(_ name: String) -> Int { nodeIndex[name] ?? -1 }
    private func group(_ node: Int) -> Int { node >= 0 ? groups.groupOf[node] : groups.count }
    private var groupSlots: Int { groups.count + 1 }

    private func cellBase(kind: Int, from: Int, to: Int) -> Int {
        ((kind * groupSlots + from) * groupSlots + to) * CheckGroups.symbols * 2
    }

    static func symbolIndex(_ v: Verdict, _ w: Where?) -> Int {
        switch v {
        case .open: return 0
        case .blocked:
            switch w ?? .unknown {
            case .network: return 1
            case .hostFirewall: return 2
            case .returnPath: return 3
            case .unknown: return 4
            case .senderFirewall: return 8
            }
        case .closed: return 5
        case .agentDown: return 6
        case .inconclusive: return 7
        }
    }

    public mutating func add(_ c: CheckResult) {
        counter.add(c)
        if c.required { requiredChecks += 1 }
        // From the coordinator's vantage, not a node: a few per node, kept whole for the routing mesh section.
        if c.published != nil {
            published.append(c)
            return
        }
        let kindID = c.kindID
        var k = kinds.firstIndex { $0.id == kindID } ?? -1
        if k < 0 {
            k = kinds.count
            kinds.append((kindID, c.kind))
            openPerKind.append(0)
            cells += Array(repeating: 0, count: groupSlots * groupSlots * CheckGroups.symbols * 2)
        }
        if c.verdict == .open { openPerKind[k] += 1 }
        lateAnswers.add(c)
        let f = node(c.from), t = node(c.to)
        if f < 0 && !strangers.contains(c.from) { strangers.append(c.from) }
        if t < 0 && !strangers.contains(c.to) { strangers.append(c.to) }
        let fg = group(f), tg = group(t)
        let sym = CheckGroups.symbolIndex(c.verdict, c.location)
        cells[cellBase(kind: k, from: fg, to: tg) + sym * 2 + (c.required ? 1 : 0)] += 1

        if !c.unexpectedSources.isEmpty && f >= 0 {
            let i: Int
            if let found = sourceIndex[f] {
                i = found
            } else {
                i = sources.count
                sourceIndex[f] = i
                sources.append(SourceGroup(sender: f, targets: NodeSet(capacity: nodes.count), sample: c))
            }
            for a in c.unexpectedSources where !sources[i].addresses.contains(a) { sources[i].addresses.append(a) }
            if t >= 0 { sources[i].targets.insert(t) }
            if !sources[i].kinds.contains(kindID) { sources[i].kinds.append(kindID) }
        }
        guard c.verdict != .open else { return }

        if c.required && c.blamesAnAgent {
            let blamed = c.sender == nil ? f : t
            guard blamed >= 0 else { return }
            let i: Int
            if let found = agentIndex[blamed] {
                i = found
            } else {
                i = agents.count
                agentIndex[blamed] = i
                agents.append(AgentGroup(node: blamed, health: nodes[blamed].agent))
            }
            agents[i].checks += 1
            if !agents[i].kinds.contains(kindID) { agents[i].kinds.append(kindID) }
            return
        }
        let location = c.verdict == .blocked ? (c.location ?? .unknown) : nil
        let key = k * CheckGroups.symbols + sym
        if c.required {
            CheckGroups.add(
                c, key: key, location: location, kindName: kinds[k].name, from: f, to: t, fg: fg, tg: tg,
                capacity: nodes.count, groups: &causes, index: &causeIndex, slots: groupSlots)
        } else {
            CheckGroups.add(
                c, key: key, location: location, kindName: kinds[k].name, from: f, to: t, fg: fg, tg: tg,
                capacity: nodes.count, groups: &information, index: &infoIndex, slots: groupSlots)
        }
    }

    private static func add(
        _ c: CheckResult, key: Int, location: Where?, kindName: String, from f: Int, to t: Int, fg: Int, tg: Int,
        capacity: Int, groups: inout [CauseGroup], index: inout [Int: Int], slots: Int
    ) {
        let i: Int
        if let found = index[key] {
            i = found
        } else {
            i = groups.count
            index[key] = i
            groups.append(
                CauseGroup(
                    verdict: c.verdict, location: location, kind: c.kindID, kindName: kindName, required: c.required,
                    senders: NodeSet(capacity: capacity), targets: NodeSet(capacity: capacity)))
        }
        groups[i].checks += 1
        if f >= 0 { groups[i].senders.insert(f) }
        if t >= 0 { groups[i].targets.insert(t) }
        let pairKey = fg * slots + tg
        let p: Int
        if let found = groups[i].pairIndex[pairKey] {
            p = found
        } else {
            p = groups[i].pairs.count
            groups[i].pairIndex[pairKey] = p
            groups[i].pairs.append(
                GroupPair(
                    fromGroup: fg, toGroup: tg, senders: NodeSet(capacity: capacity),
                    targets: NodeSet(capacity: capacity), sample: c))
        }
        groups[i].pairs[p].checks += 1
        if f >= 0 { groups[i].pairs[p].senders.insert(f) }
        if t >= 0 { groups[i].pairs[p].targets.insert(t) }
    }

    /// Orders the findings as the node-by-node reports do: by verdict and place, then kind; agents by node.
    public mutating func finish() {
        let kindOrder = kinds.map(\.id)
        func rank(_ g: CauseGroup) -> (Int, Int) {
            let whereRank = g.location.flatMap { Where.allCases.firstIndex(of: $0) } ?? Where.allCases.count
            return ((Verdict.allCases.firstIndex(of: g.verdict) ?? 0) * 10 + whereRank, kindOrder.firstIndex(of: g.kind) ?? 0)
        }
        causes = causes.enumerated().sorted { a, b in
            let ra = rank(a.element), rb = rank(b.element)
            return ra != rb ? ra < rb : a.offset < b.offset
        }.map(\.element)
        information = information.enumerated().sorted { a, b in
            let ra = rank(a.element), rb = rank(b.element)
            return (ra.1, ra.0) != (rb.1, rb.0) ? (ra.1, ra.0) < (rb.1, rb.0) : a.offset < b.offset
        }.map(\.element)
        for i in causes.indices { causes[i].pairs.sort { ($0.fromGroup, $0.toGroup) < ($1.fromGroup, $1.toGroup) } }
        for i in information.indices { information[i].pairs.sort { ($0.fromGroup, $0.toGroup) < ($1.fromGroup, $1.toGroup) } }
        // A node whose agent is not up is a finding even when it only takes part in optional checks.
        for (i, n) in nodes.enumerated() where !n.agent.isUp && n.agent.status != .notContacted && agentIndex[i] == nil {
            agentIndex[i] = agents.count
            agents.append(AgentGroup(node: i, health: n.agent))
        }
        agents.sort { $0.node < $1.node }
        sources.sort { $0.sender < $1.sender }
    }

    // MARK: Reading

    public func summary(complete: Bool) -> Summary { Summary(counter, complete: complete, nodeFindings: nodeFindings) }

    /// The checks of one kind from one group to another, per matrix symbol (`symbolIndex` order) and required.
    func cell(kind: Int, from: Int, to: Int) -> ArraySlice<Int> {
        let base = cellBase(kind: kind, from: from, to: to)
        return cells[base..<base + CheckGroups.symbols * 2]
    }

    /// `group az-a`, or `other` for nodes only the checks name.
    public func groupLabel(_ g: Int) -> String { g < groups.count ? groups.label(g) : "other nodes" }
    public func groupName(_ g: Int) -> String { g < groups.count ? groups.names[g] : "other" }
    public func groupSize(_ g: Int) -> Int { g < groups.count ? groups.members[g].count : strangers.count }
    /// Groups that have nodes (the `other` slot only when a check named a node not in the list).
    var groupIndexes: [Int] { Array(0..<groups.count) + (strangers.isEmpty ? [] : [groups.count]) }

    func names(_ s: NodeSet) -> [String] { s.members.map { nodes[$0].name } }
}
