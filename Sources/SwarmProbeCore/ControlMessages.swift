/// Requests and answers between the coordinator and an agent's control endpoint: JSON over HTTP/1.1,
/// every request signed (`Authorization: SWP1 ...`), every answer signed back (`X-Swarmprobe-Mac`), so
/// neither side trusts bytes from a stranger. Keys are snake_case; `WireCodec` writes and reads them all.
public enum ControlPath {
    public static let hello = "/v1/hello"
    public static let run = "/v1/run"
    public static let log = "/v1/log"
    /// Stop a run and hand back what it has so far (a check interrupted mid-run). An agent from before it
    /// answers 404; the coordinator then leaves that agent's probes undecided, so no version bump.
    public static let stop = "/v1/stop"
}

/// The coordinator's greeting: which protocol it speaks, and the nodes' addresses, toward which the agent reads
/// the source address its kernel would pick (`HostFacts.otherSources`). Nothing is sent to them.
public struct HelloRequest: Sendable, Equatable {
    public var protocolVersion: Int
    public var toolVersion: String?
    public var peers: [IPAddress]

    public init(protocolVersion: Int = ControlProtocol.version, toolVersion: String? = SwarmProbeVersion.current, peers: [IPAddress] = []) {
        self.protocolVersion = protocolVersion
        self.toolVersion = toolVersion
        self.peers = peers
    }
}

/// What an agent holds and how it sees the world.
public struct HelloResponse: Sendable, Equatable {
    public var protocolVersion: Int
    public var agentVersion: String
    public var address: IPAddress
    /// The agent's clock, milliseconds since 1970.
    public var timeMs: Int64
    public var profile: String
    public var listeners: [ListenerState]
    public var taps: [TapState]
    /// What the agent read of its host for the routing mesh (absent from agents before it: no version bump).
    public var host: HostFacts?
    /// How long reading `host` took, microseconds: the coordinator takes it off the hello's round trip, which
    /// sizes probe timeouts and should measure the network, not nft.
    public var hostFactsMicros: Int?

    public init(
        protocolVersion: Int = ControlProtocol.version, agentVersion: String, address: IPAddress, timeMs: Int64,
        profile: String, listeners: [ListenerState], taps: [TapState] = [], host: HostFacts? = nil, hostFactsMicros: Int? = nil
    ) {
        self.protocolVersion = protocolVersion
        self.agentVersion = agentVersion
        self.address = address
        self.timeMs = timeMs
        self.profile = profile
        self.listeners = listeners
        self.taps = taps
        self.host = host
        self.hostFactsMicros = hostFactsMicros
    }
}

public struct PeerRef: Sendable, Hashable {
    public var name: String
    public var address: IPAddress

    public init(name: String, address: IPAddress) {
        self.name = name
        self.address = address
    }
}

public struct ProbeOrder: Sendable, Hashable {
    public var target: IPAddress
    public var kind: KindID
    /// The target's agent only observes this port (dockerd or the kernel holds it): probe so that the
    /// owner is left alone (a TCP handshake closed with FIN and no bytes; two datagrams at most).
    public var observed: Bool
    /// This path's own timeout; nil: the request's.
    public var timeoutMs: Int?

    public init(target: IPAddress, kind: KindID, observed: Bool = false, timeoutMs: Int? = nil) {
        self.target = target
        self.kind = kind
        self.observed = observed
        self.timeoutMs = timeoutMs
    }
}

/// A plan: whom this agent probes on what. The node list is part of the signed request;
/// an agent probes nothing outside it and no port outside its own profile.
public struct RunRequest: Sendable, Equatable {
    public var runID: String
    public var nodes: [PeerRef]
    public var probes: [ProbeOrder]
    public var timeoutMs: Int
    public var attempts: Int
    /// Measure the data path's path MTU after its probe answers, against an overlay that needs packets of this
    /// many bytes (`PathMTU`); nil: no ladder.
    public var pathMTUNeeded: Int?

    public init(runID: String, nodes: [PeerRef], probes: [ProbeOrder], timeoutMs: Int, attempts: Int, pathMTUNeeded: Int? = nil) {
        self.pathMTUNeeded = pathMTUNeeded
        self.runID = runID
        self.nodes = nodes
        self.probes = probes
        self.timeoutMs = timeoutMs
        self.attempts = attempts
    }

    public static let maximumNodes = 5000
    public static let timeoutRangeMs = 50...60_000
    public static let attemptsRange = 1...10

    /// Refuses a plan this agent must not carry out. Errors name the field.
    public func validate(selfAddress: IPAddress, kinds: Set<KindID>) throws(InputError) {
        let src = "run request"
        guard let id = Hex.decode(runID), id.count == 16 else {
            throw InputError(source: src, "field `run_id`: expected 32 hex digits")
        }
        guard nodes.count <= RunRequest.maximumNodes else {
            throw InputError(source: src, "field `nodes`: \(nodes.count) nodes, more than the limit of \(RunRequest.maximumNodes)")
        }
        guard RunRequest.timeoutRangeMs.contains(timeoutMs) else {
            throw InputError(source: src, "field `timeout_ms`: \(timeoutMs) is outside \(RunRequest.timeoutRangeMs)")
        }
        guard RunRequest.attemptsRange.contains(attempts) else {
            throw InputError(source: src, "field `attempts`: \(attempts) is outside \(RunRequest.attemptsRange)")
        }
        if let n = pathMTUNeeded, !(PathMTU.floor...PathMTU.largestProbe).contains(n) {
            throw InputError(source: src, "field `path_mtu_needed`: \(n) is outside \(PathMTU.floor)...\(PathMTU.largestProbe)")
        }
        let addresses = Set(nodes.map(\.address))
        guard addresses.contains(selfAddress) else {
            throw InputError(source: src, "field `nodes`: this agent's address \(selfAddress) is not in the node list")
        }
        guard probes.count <= nodes.count * max(1, kinds.count) else {
            throw InputError(source: src, "field `probes`: \(probes.count) probes, more than one per node and kind")
        }
        var seen = Set<ProbeOrder>()
        for (i, p) in probes.enumerated() {
            guard addresses.contains(p.target) else {
                throw InputError(source: src, "field `probes[\(i)].target`: \(p.target) is not in the signed node list; refused")
            }
            guard p.target != selfAddress else {
                throw InputError(source: src, "field `probes[\(i)].target`: \(p.target) is this agent itself")
            }
            if let t = p.timeoutMs, !RunRequest.timeoutRangeMs.contains(t) || t > timeoutMs {
                throw InputError(
                    source: src,
                    "field `probes[\(i)].timeout_ms`: \(t) is outside \(RunRequest.timeoutRangeMs.lowerBound)...\(timeoutMs) (the request's timeout_ms)"
                )
            }
            guard kinds.contains(p.kind) else {
                throw InputError(source: src, "field `probes[\(i)].kind`: \(p.kind) is not in this agent's profile; refused")
            }
            guard seen.insert(ProbeOrder(target: p.target, kind: p.kind)).inserted else {
                throw InputError(source: src, "field `probes[\(i)]`: \(p.kind) to \(p.target) is listed twice")
            }
        }
    }
}

public struct ProbeReport: Sendable, Equatable {
    public var target: IPAddress
    public var kind: KindID
    public var evidence: SenderEvidence

    public init(target: IPAddress, kind: KindID, evidence: SenderEvidence) {
        self.target = target
        self.kind = kind
        self.evidence = evidence
    }
}

public struct RunResponse: Sendable, Equatable {
    public var runID: String
    public var results: [ProbeReport]

    public init(runID: String, results: [ProbeReport]) {
        self.runID = runID
        self.results = results
    }
}

public struct LogRequest: Sendable, Equatable {
    public var runID: String
    public init(runID: String) { self.runID = runID }
}

/// Asks an agent to start no more probes of a run, end those in flight, and answer with the probes that had
/// ended (a `RunResponse`): what a check interrupted mid-run still knows.
public struct StopRequest: Sendable, Equatable {
    public var runID: String
    public init(runID: String) { self.runID = runID }
}

/// One authenticated probe an agent received.
public struct ReceiveLogEntry: Sendable, Equatable, Timestamped {
    public var nonce: String
    public var runID: String
    public var kind: KindID
    /// The sender address the probe names (signed).
    public var claimedSender: IPAddress
    /// The address it actually arrived from.
    public var sourceAddress: IPAddress
    public var sourcePort: Int
    public var timeMs: Int64
    /// Whether the agent's answer left it without error.
    public var answered: Bool

    public init(
        nonce: String, runID: String, kind: KindID, claimedSender: IPAddress, sourceAddress: IPAddress,
        sourcePort: Int, timeMs: Int64, answered: Bool
    ) {
        self.nonce = nonce
        self.runID = runID
        self.kind = kind
        self.claimedSender = claimedSender
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.timeMs = timeMs
        self.answered = answered
    }
}

public struct LogResponse: Sendable, Equatable {
    public var runID: String
    public var entries: [ReceiveLogEntry]
    /// True when the bounded log dropped older entries of this run.
    public var truncated: Bool
    /// What the capture taps saw of probes and answers since this run began on the agent.
    public var capture: [CaptureRecord]
    /// Packets the taps lost since the run began (kernel ring full, interface drops, records overwritten):
    /// when non-zero, "the tap did not see it" proves nothing.
    public var captureLost: Int
    /// Answers to this agent's own silent probes of the run that its interface tap saw arrive.
    public var missedAnswers: [MissedAnswer]
    /// This agent's own silent probes of the run that its interface tap never saw leave (`NeverLeftProbe`).
    public var neverLeft: [NeverLeftProbe]

    public init(
        runID: String, entries: [ReceiveLogEntry], truncated: Bool, capture: [CaptureRecord] = [], captureLost: Int = 0,
        missedAnswers: [MissedAnswer] = [], neverLeft: [NeverLeftProbe] = []
    ) {
        self.runID = runID
        self.entries = entries
        self.truncated = truncated
        self.capture = capture
        self.captureLost = captureLost
        self.missedAnswers = missedAnswers
        self.neverLeft = neverLeft
    }
}

/// An agent's refusal, in one line; `protocolVersion` is the agent's, so a coordinator of another version
/// can say which end to upgrade.
public struct ErrorResponse: Sendable, Equatable {
    public var error: String
    public var protocolVersion: Int?
    /// The agent's clock (ms since 1970) when it refused a request for its time (too old, or from the future):
    /// what lets the coordinator say by how much the clocks differ rather than only that authentication failed.
    public var timeMs: Int64?

    public init(error: String, protocolVersion: Int? = ControlProtocol.version, timeMs: Int64? = nil) {
        self.error = error
        self.protocolVersion = protocolVersion
        self.timeMs = timeMs
    }

    /// The refusal of a request that fails authentication; the agent's clock with it when the request's time was
    /// the reason (the clock is no secret: any TCP timestamp or HTTP Date gives it away).
    public static func refusal(_ failure: ControlAuth.Failure) -> ErrorResponse {
        ErrorResponse(error: failure.description, timeMs: failure == .stale || failure == .future ? Int64(nowMs()) : nil)
    }
}
