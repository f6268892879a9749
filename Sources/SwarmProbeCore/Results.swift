/// The result of one check, as `swarmprobe.results/v1` publishes it.
public struct CheckResult: Codable, Sendable, Equatable {
    public var from: String
    public var to: String
    public var port: Int?
    public var proto: TransportProtocol
    /// The profile's name for the kind (`gossip-udp`).
    public var kind: String
    public var required: Bool
    public var verdict: Verdict
    public var location: Where?
    /// The evidence that decided, as a stable code.
    public var reason: Reason
    /// The same in a sentence, for a person.
    public var detail: String
    /// Addresses the probe arrived from other than the sender's inventory address.
    public var unexpectedSources: [IPAddress]
    public var sender: SenderEvidence?
    public var receiver: ReceiverEvidence?
    /// Set on a published-port check (from the coordinator's vantage to a node); nil between nodes.
    public var published: PublishedCheck?
    /// Set on a data-path check whose ladder ran (`PathMTU`): written as `path_mtu` (bytes of the largest IP
    /// packet that arrived), `path_mtu_limit`, `path_mtu_below` and `path_mtu_needed`.
    public var pathMTU: PathMTUResult?

    public init(
        from: String, to: String, kind: TrafficKind, required: Bool, decision: Decision, detail: String,
        sender: SenderEvidence?, receiver: ReceiverEvidence?, published: PublishedCheck? = nil
    ) {
        self.published = published
        self.from = from
        self.to = to
        self.port = kind.port
        self.proto = kind.proto
        self.kind = kind.name
        self.required = required
        self.verdict = decision.verdict
        self.location = decision.location
        self.reason = decision.reason
        self.detail = detail
        self.unexpectedSources = decision.unexpectedSources
        self.sender = sender
        self.receiver = receiver
    }

    public var kindID: KindID { KindID(proto: proto, port: port) }

    enum CodingKeys: String, CodingKey {
        case from, to, port, proto = "protocol", kind, required, verdict, location = "where", reason, detail
        case unexpectedSources = "unexpected_sources", evidence, published
        case pathMTU = "path_mtu", pathMTULimit = "path_mtu_limit", pathMTUBelow = "path_mtu_below", pathMTUNeeded = "path_mtu_needed"
    }
    enum EvidenceKeys: String, CodingKey { case sender, receiver }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(port, forKey: .port)  // null for ESP, always present
        try c.encode(proto, forKey: .proto)
        try c.encode(kind, forKey: .kind)
        try c.encode(required, forKey: .required)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(location, forKey: .location)  // null unless blocked
        try c.encode(reason, forKey: .reason)
        try c.encode(detail, forKey: .detail)
        if !unexpectedSources.isEmpty { try c.encode(unexpectedSources, forKey: .unexpectedSources) }
        try c.encodeIfPresent(published, forKey: .published)
        if let m = pathMTU {
            try c.encode(m.bytes, forKey: .pathMTU)
            try c.encodeIfPresent(m.limit, forKey: .pathMTULimit)
            try c.encodeIfPresent(m.below, forKey: .pathMTUBelow)
            try c.encodeIfPresent(m.needed, forKey: .pathMTUNeeded)
        }
        var e = c.nestedContainer(keyedBy: EvidenceKeys.self, forKey: .evidence)
        try e.encode(sender, forKey: .sender)
        try e.encode(receiver, forKey: .receiver)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try c.decode(String.self, forKey: .from)
        to = try c.decode(String.self, forKey: .to)
        port = try c.decodeIfPresent(Int.self, forKey: .port)
        proto = try c.decode(TransportProtocol.self, forKey: .proto)
        kind = try c.decode(String.self, forKey: .kind)
        required = try c.decode(Bool.self, forKey: .required)
        verdict = try c.decode(Verdict.self, forKey: .verdict)
        location = try c.decodeIfPresent(Where.self, forKey: .location)
        reason = try c.decode(Reason.self, forKey: .reason)
        detail = try c.decode(String.self, forKey: .detail)
        unexpectedSources = try c.decodeIfPresent([IPAddress].self, forKey: .unexpectedSources) ?? []
        published = try c.decodeIfPresent(PublishedCheck.self, forKey: .published)
        if let bytes = try c.decodeIfPresent(Int.self, forKey: .pathMTU) {
            pathMTU = PathMTUResult(
                bytes: bytes, limit: (try? c.decodeIfPresent(PathMTULimit.self, forKey: .pathMTULimit)) ?? nil,
                below: try c.decodeIfPresent(Int.self, forKey: .pathMTUBelow), needed: try c.decodeIfPresent(Int.self, forKey: .pathMTUNeeded))
        }
        let e = try c.nestedContainer(keyedBy: EvidenceKeys.self, forKey: .evidence)
        sender = try e.decodeIfPresent(SenderEvidence.self, forKey: .sender)
        receiver = try e.decodeIfPresent(ReceiverEvidence.self, forKey: .receiver)
    }
}

/// One node as the check saw it.
public struct NodeResult: Codable, Sendable, Equatable {
    public var name: String
    public var address: IPAddress
    public var role: Role
    /// The inventory's `group:` of the node, when it has one.
    public var group: String?
    public var control: String
    public var agent: AgentHealth
    public var agentVersion: String?
    /// How the agent covers each kind of the profile on this node.
    public var listeners: [ListenerState]
    /// The agent's capture taps and whether they worked.
    public var taps: [TapState]
    /// Agent clock minus coordinator clock, milliseconds (halfway through the hello round trip).
    public var clockOffsetMs: Int?
    /// The hello round trip to the agent's control endpoint, microseconds: what `--timeout auto` sizes
    /// this node's paths from.
    public var controlRTTMicros: Int?
    /// Packets the agent's capture taps lost during the run (absent when none): its "not seen" evidence
    /// was then set aside, so silent drops to this node are `where: unknown` rather than guessed.
    public var captureLost: Int?
    /// What the agent read of its host's forwarding, firewall and routes (absent when its agent did not say).
    public var host: HostFacts?

    public init(
        node: Node, agent: AgentHealth, agentVersion: String? = nil, listeners: [ListenerState] = [],
        taps: [TapState] = [], clockOffsetMs: Int? = nil, controlRTTMicros: Int? = nil, captureLost: Int? = nil,
        host: HostFacts? = nil
    ) {
        self.name = node.name
        self.address = node.address
        self.role = node.role
        self.group = node.group
        self.control = node.control.description
        self.agent = agent
        self.agentVersion = agentVersion
        self.listeners = listeners
        self.taps = taps
        self.clockOffsetMs = clockOffsetMs
        self.controlRTTMicros = controlRTTMicros
        self.captureLost = captureLost
        self.host = host
    }

    enum CodingKeys: String, CodingKey {
        case name, address, role, group, control, agent, agentVersion = "agent_version", listeners, taps, clockOffsetMs = "clock_offset_ms"
        case controlRTTMicros = "control_rtt_micros", captureLost = "capture_lost", host
    }
}

public struct Summary: Codable, Sendable, Equatable {
    public var checks: Int
    public var open: Int
    public var blocked: Int
    public var closed: Int
    public var agentDown: Int
    public var inconclusive: Int
    /// Required checks whose verdict is not `open`: each is a finding.
    public var requiredNotOpen: Int
    /// Checks an interrupt left undecided (reason `interrupted`), and how many of them are required; 0 in a
    /// complete check. Absent from results written before they were counted (read as 0).
    public var undecided: Int
    public var requiredUndecided: Int
    /// Node findings (host problems: `findings` entries with a `node`), and how many of them break the swarm;
    /// a required one fails the check like a required path not open. Absent from older results (read as 0).
    public var nodeFindings: Int
    public var requiredNodeFindings: Int
    /// `pass` (exit 0), `fail` (exit 1) or `incomplete` (interrupted; exit 1).
    public var status: String
    public var exitCode: Int32

    public init(checks: [CheckResult], complete: Bool, nodeFindings: [NodeFinding] = []) {
        var counter = Counter()
        for c in checks { counter.add(c) }
        self.init(counter, complete: complete, nodeFindings: nodeFindings)
    }

    /// Counts checks one at a time, for results streamed rather than held.
    public struct Counter: Sendable, Equatable {
        public var checks = 0, open = 0, blocked = 0, closed = 0, agentDown = 0, inconclusive = 0, requiredNotOpen = 0
        public var undecided = 0, requiredUndecided = 0
        public init() {}
        public mutating func add(_ c: CheckResult) { add(verdict: c.verdict, required: c.required, undecided: c.reason == .interrupted) }
        public mutating func add(verdict: Verdict, required: Bool, undecided: Bool = false) {
            checks += 1
            if undecided {
                self.undecided += 1
                if required { requiredUndecided += 1 }
            }
            switch verdict {
            case .open: open += 1
            case .blocked: blocked += 1
            case .closed: closed += 1
            case .agentDown: agentDown += 1
            case .inconclusive: inconclusive += 1
            }
            if required && verdict != .open { requiredNotOpen += 1 }
        }
    }

    public init(_ c: Counter, complete: Bool, nodeFindings: [NodeFinding] = []) {
        checks = c.checks
        open = c.open
        blocked = c.blocked
        closed = c.closed
        agentDown = c.agentDown
        inconclusive = c.inconclusive
        requiredNotOpen = c.requiredNotOpen
        undecided = c.undecided
        requiredUndecided = c.requiredUndecided
        // A published port's finding explains a check already counted: only the host's own findings count here.
        let hostFindings = nodeFindings.filter { $0.port == nil }
        self.nodeFindings = hostFindings.count
        requiredNodeFindings = hostFindings.count { $0.required }
        if !complete {
            status = "incomplete"
            exitCode = 1
        } else if requiredNotOpen == 0 && requiredNodeFindings == 0 {
            status = "pass"
            exitCode = 0
        } else {
            status = "fail"
            exitCode = 1
        }
    }

    enum CodingKeys: String, CodingKey {
        case checks, open, blocked, closed, agentDown = "agent_down", inconclusive
        case requiredNotOpen = "required_not_open", undecided, requiredUndecided = "required_undecided"
        case nodeFindings = "node_findings", requiredNodeFindings = "required_node_findings", status, exitCode = "exit_code"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        checks = try c.decode(Int.self, forKey: .checks)
        open = try c.decode(Int.self, forKey: .open)
        blocked = try c.decode(Int.self, forKey: .blocked)
        closed = try c.decode(Int.self, forKey: .closed)
        agentDown = try c.decode(Int.self, forKey: .agentDown)
        inconclusive = try c.decode(Int.self, forKey: .inconclusive)
        requiredNotOpen = try c.decode(Int.self, forKey: .requiredNotOpen)
        undecided = try c.decodeIfPresent(Int.self, forKey: .undecided) ?? 0
        requiredUndecided = try c.decodeIfPresent(Int.self, forKey: .requiredUndecided) ?? 0
        nodeFindings = try c.decodeIfPresent(Int.self, forKey: .nodeFindings) ?? 0
        requiredNodeFindings = try c.decodeIfPresent(Int.self, forKey: .requiredNodeFindings) ?? 0
        status = try c.decode(String.self, forKey: .status)
        exitCode = try c.decode(Int32.self, forKey: .exitCode)
    }
}

/// Everything a check found: the `swarmprobe.results/v1` document.
public struct Results: Codable, Sendable, Equatable {
    public static let schemaID = "swarmprobe.results/v1"
    public var schema: String = Results.schemaID
    public var toolVersion: String
    public var profile: String
    /// ISO 8601, UTC.
    public var startedAt: String
    public var durationMs: Int
    /// The probe timeout: with `timeout_policy` auto, the longest any path got.
    public var timeoutMs: Int
    /// `auto` (per path, from the measured round trip) or `fixed` (`check --timeout`).
    public var timeoutPolicy: String?
    /// Tries per probe before silence counts (stopping at the first answer).
    public var attempts: Int?
    /// False when the check was interrupted: what is here is real, the rest is missing.
    public var complete: Bool
    /// How long each phase of the check took (absent in results not made by a live check).
    public var phasesMs: PhaseTimes?
    public var nodes: [NodeResult]
    public var checks: [CheckResult]
    /// Problems with one node rather than a path (a host setting or route), in node order. The document
    /// lists them in `findings` after the path findings; `summary` counts them.
    public var nodeFindings: [NodeFinding]
    public var summary: Summary
    /// The published ports probed from the coordinator's vantage; nil when none were.
    public var routingMesh: RoutingMesh?

    public init(
        toolVersion: String, profile: String, startedAt: String, durationMs: Int, timeoutMs: Int,
        complete: Bool, nodes: [NodeResult], checks: [CheckResult], timeoutPolicy: String? = nil, attempts: Int? = nil,
        nodeFindings: [NodeFinding] = []
    ) {
        self.toolVersion = toolVersion
        self.timeoutPolicy = timeoutPolicy
        self.attempts = attempts
        self.profile = profile
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.timeoutMs = timeoutMs
        self.complete = complete
        self.nodes = nodes
        self.checks = checks
        self.nodeFindings = nodeFindings
        self.summary = Summary(checks: checks, complete: complete, nodeFindings: nodeFindings)
    }

    public var exitCode: Int32 { summary.exitCode }

    enum CodingKeys: String, CodingKey {
        case schema, toolVersion = "tool_version", profile, startedAt = "started_at", durationMs = "duration_ms"
        case timeoutMs = "timeout_ms", timeoutPolicy = "timeout_policy", attempts, complete, phasesMs = "phases_ms", nodes, checks, summary
        case nodeFindings = "findings", routingMesh = "routing_mesh"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(String.self, forKey: .schema)
        toolVersion = try c.decode(String.self, forKey: .toolVersion)
        profile = try c.decode(String.self, forKey: .profile)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        durationMs = try c.decode(Int.self, forKey: .durationMs)
        timeoutMs = try c.decode(Int.self, forKey: .timeoutMs)
        timeoutPolicy = try c.decodeIfPresent(String.self, forKey: .timeoutPolicy)
        attempts = try c.decodeIfPresent(Int.self, forKey: .attempts)
        complete = try c.decode(Bool.self, forKey: .complete)
        phasesMs = try c.decodeIfPresent(PhaseTimes.self, forKey: .phasesMs)
        nodes = try c.decode([NodeResult].self, forKey: .nodes)
        checks = try c.decode([CheckResult].self, forKey: .checks)
        summary = try c.decode(Summary.self, forKey: .summary)
        routingMesh = try c.decodeIfPresent(RoutingMesh.self, forKey: .routingMesh)
        // `findings` holds path findings (grouped checks, rebuilt from `checks`) and node findings: keep the latter.
        nodeFindings = try c.decodeIfPresent([FindingEntry].self, forKey: .nodeFindings)?.compactMap(\.node) ?? []
    }

    /// One entry of `findings`: a node finding when it names a `node`, else a path finding (skipped).
    private struct FindingEntry: Decodable {
        var node: NodeFinding?
        enum Keys: String, CodingKey { case node }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            node = c.contains(.node) ? try NodeFinding(from: decoder) : nil
        }
    }
}

/// Where a check's time went, in milliseconds from its start to the end of each phase: the hellos, the
/// probing (every agent's run answered, or given up on), the logs. Deciding and writing follow.
public struct PhaseTimes: Codable, Sendable, Equatable {
    public var hello: Int
    public var probes: Int
    public var logs: Int

    public init(hello: Int, probes: Int, logs: Int) {
        self.hello = hello
        self.probes = probes
        self.logs = logs
    }
}
