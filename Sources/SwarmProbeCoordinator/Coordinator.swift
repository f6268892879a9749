import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwarmProbeCore
import SwarmProbeReport

struct ProbeKey: Hashable, Sendable {
    var target: IPAddress
    var kind: KindID
}

/// Has every agent probe every other node on every kind at once, gathers both ends'
/// evidence, and decides each check with Core's verdict function.
public final class Coordinator: Sendable {
    public let inventory: Inventory
    public let profile: Profile
    public let options: CheckOptions
    /// The subnets the routing mesh uses, for the node findings on routes (Docker's defaults unless the live
    /// swarm's are known).
    public let meshSubnets: MeshSubnets
    private let token: ClusterToken
    let logger: Logger
    let progress: @Sendable (CheckProgress) -> Void
    let gathered = NIOLockedValueBox(Gathered())
    /// The gather after an interrupt, so a second interrupt can end it (`abort`).
    let salvaging = NIOLockedValueBox<(aborted: Bool, task: Task<Void, Never>?)>((false, nil))
    private let started = Date()
    /// Probes the published ports from this host, when there are any.
    let vantage: Vantage?

    /// How long past the probe timeout an agent may take to hand back its plan's results: 3 s, plus
    /// 1 ms per probe for a large plan on a slow node (4 s more for a thousand peers).
    public static let runMarginMs = 3000
    public static func runMargin(probes: Int) -> Int { runMarginMs + probes }
    static let helloConcurrency = 64
    /// How many bytes of encoded plans the run phase prepares before sending any (`phases`).
    static let preparedBudgetBytes = 64 << 20

    /// `unavailable`: nodes known to have no agent before the check (one could not be deployed there), and why;
    /// they are not contacted.
    public init(
        inventory: Inventory, profile: Profile, token: ClusterToken, options: CheckOptions,
        unavailable: [String: AgentHealth] = [:], meshSubnets: MeshSubnets = .docker, published: [PublishedTarget] = [],
        vantage: Vantage? = nil,
        logger: Logger = Logger(label: "swarmprobe.check"),
        progress: @escaping @Sendable (CheckProgress) -> Void = { _ in }
    ) {
        self.inventory = inventory
        self.profile = profile
        self.token = token
        self.options = options
        self.meshSubnets = meshSubnets
        self.logger = logger
        self.progress = progress
        self.vantage = published.isEmpty ? nil : vantage
        gathered.withLockedValue {
            $0.health = unavailable
            if let vantage, !published.isEmpty {
                $0.published = published
                $0.vantage = VantageRef(name: vantage.name, address: vantage.address)
            }
        }
    }

    /// Runs the whole check. If the task is cancelled (Ctrl-C), it stops waiting, asks the agents for what
    /// they have so far (`salvage`), and `results(complete:)` decides from that, marked incomplete.
    public func run() async -> Results {
        results(complete: await gather())
    }

    /// Runs the check and keeps what the agents answered, without deciding anything yet; returns
    /// whether it completed. Then `results(complete:)`, or for many nodes `forEachResult` streamed.
    public func gather() async -> Bool {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .milliseconds(Int64(options.controlTimeoutMs))))
        // A refused connection means no agent there: say so at once. (Left on, the pool re-dials a
        // refusing port until the connect timeout, so every node without an agent cost 3 s. A lost SYN
        // is still re-sent by the kernel within the timeout.)
        configuration.connectionPool.retryConnectionEstablishment = false
        // Agents close a connection that sends nothing for 2 s (`ControlHTTPHandler.headDeadline`). Let go of
        // idle ones sooner, so a request never goes out on one the agent is closing at that moment (seen once:
        // a log request 2 s after the run's answer failed with "I/O on closed channel", and the agent was
        // reported down). A check's next request usually follows the last answer within milliseconds.
        configuration.connectionPool.idleTimeout = .seconds(1)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let client = ControlClient(http: http, token: token, protocolVersion: options.protocolVersion)
        let completed = await phases(client)
        try? await http.shutdown()
        return completed
    }

    private func phases(_ client: ControlClient) async -> Bool {
        let nodes = inventory.nodes
        let controlTimeout = TimeAmount.milliseconds(Int64(options.controlTimeoutMs))

        // 1. Hello: who is up, what they hold, their clocks.
        // Nodes known to have no agent (`unavailable`) are not contacted.
        let contacting = gathered.withLockedValue { g in nodes.filter { g.health[$0.name] == nil } }
        let peerAddresses = nodes.map(\.address)
        progress(.contacting(agents: nodes.count))
        // At most `helloConcurrency` hellos in flight: each round trip then measures the network and the
        // agent, not this process working through a thousand requests at once (auto timeouts come from it).
        await withTaskGroup(of: Void.self) { group in
            for (i, node) in contacting.enumerated() {
                if i >= Coordinator.helloConcurrency { await group.next() }
                group.addTask { [self] in
                    let t0 = nowMs()
                    let m0 = NIODeadline.now()
                    do throws(AgentCallError) {
                        let hello = try await client.hello(node, peers: peerAddresses, timeout: controlTimeout)
                        // Less the time the agent spent reading its host facts (nft): the network's round trip.
                        let rtt = max(0, Int((NIODeadline.now() - m0).nanoseconds / 1000) - (hello.hostFactsMicros ?? 0))
                        let t1 = nowMs()
                        var health = AgentHealth.up
                        if hello.address != node.address {
                            health = AgentHealth(
                                .down,
                                "the agent at \(node.control) serves address \(hello.address), but the inventory says \(node.address); restart it with --address \(node.address)"
                            )
                        } else if let held = hello.host?.addresses, !held.contains(where: { $0.address == node.address }) {
                            // Nothing of the node's is bound there, nor reached there: its paths say nothing (the node finding says why).
                            health = AgentHealth(.down, "\(node.address) is on none of the node's interfaces: the agent could bind nothing there")
                        }
                        let offset = Int(hello.timeMs) - Int((t0 + t1) / 2)
                        gathered.withLockedValue {
                            $0.health[node.name] = health
                            $0.hello[node.name] = hello
                            $0.clockOffsetMs[node.name] = offset
                            $0.clockOffsetSureMs[node.name] = ClockOffset.sure(agentMs: Int(hello.timeMs), sentMs: Int(t0), receivedMs: Int(t1))
                            $0.controlRTTMicros[node.name] = rtt
                        }
                    } catch {
                        guard !Task.isCancelled else { return }
                        logger.debug("hello \(node.name): \(error)")
                        gathered.withLockedValue {
                            $0.health[node.name] = error.health
                            if let offset = error.clockOffsetMs {
                                $0.clockOffsetMs[node.name] = offset
                                $0.clockOffsetSureMs[node.name] = error.clockOffsetSureMs
                            }
                        }
                    }
                }
            }
        }
        let (health, hellos, rtts) = gathered.withLockedValue { ($0.health, $0.hello, $0.controlRTTMicros) }
        let up = nodes.filter { health[$0.name]?.isUp ?? false }
        progress(.contacted(up: up.count, of: nodes.count))
        endPhase()
        if Task.isCancelled { return false }

        // 2. Run: every up agent probes every other node on every kind, all at once.
        let peers = nodes.map { PeerRef(name: $0.name, address: $0.address) }
        let kinds = profile.enabledKinds
        let runID = Hex.encode(randomBytes(16))
        // Each path's timeout, from the round trips to its two ends (or the fixed one); derived where it is
        // needed rather than kept for every pair (a million at a thousand nodes).
        let options = self.options
        // A sender whose interface tap works sees late answers after all, so it may wait less (the floor).
        let capturing = Set(up.filter { hellos[$0.name]?.taps.contains { $0.tap == .interface && $0.active } == true }.map(\.name))
        let peersPerSender = nodes.count - 1
        let pathTimeout: @Sendable (Node, Node) -> Int = { a, b in
            options.timeoutMs(
                rttMicros: rtts[a.name], rtts[b.name],
                floor: ProbeTiming.floorMs(peers: peersPerSender, capture: capturing.contains(a.name)))
        }
        let longest =
            up.lazy.flatMap { a in nodes.lazy.filter { $0.name != a.name }.map { pathTimeout(a, $0) } }.max()
            ?? options.nominalTimeoutMs
        gathered.withLockedValue {
            $0.longestTimeoutMs = longest
            $0.pathMTUNeeded = kinds.contains(where: \.dataPath) ? options.pathMTUNeeded : nil
        }
        progress(.probing(paths: up.count * (nodes.count - 1) * kinds.count, timeoutMs: longest))
        // An agent answers its plan about one probe timeout after it gets it; past that plus a margin it
        // is gone (killed, or its node went down), and the check goes on without it.
        // Agents wait longer than the timeout when their run's answers come back slowly (RunPacing), up to the ceiling.
        let runTimeout = TimeAmount.milliseconds(
            Int64(max(longest, ProbeTiming.ceilingMs) + Coordinator.runMargin(probes: (nodes.count - 1) * kinds.count)))
        let plan: @Sendable (Node) -> RunRequest = { node in
            let probes = kinds.flatMap { kind in
                nodes.filter { $0.name != node.name }.map { target in
                    // A port the target's agent only observes belongs to dockerd or the kernel: probe it gently.
                    let mode = hellos[target.name]?.listeners.first { $0.kind == kind.kindID }?.mode
                    return ProbeOrder(
                        target: target.address, kind: kind.kindID, observed: mode == .observing,
                        timeoutMs: pathTimeout(node, target))
                }
            }
            let planTimeout = probes.compactMap(\.timeoutMs).max() ?? longest
            return RunRequest(
                runID: runID, nodes: peers, probes: probes, timeoutMs: max(planTimeout, RunRequest.timeoutRangeMs.lowerBound),
                attempts: options.attempts, pathMTUNeeded: options.pathMTUNeeded)
        }
        // Every plan is encoded before the first leaves, so the agents start within milliseconds of each
        // other and the check ends one timeout after its last agent starts. Encoding inside each request's
        // task spread the starts of a 32-node lab over 240 ms (the coordinator then shares the CPU with
        // the agents already probing). At most `preparedBudgetBytes` are encoded ahead; past that (a thousand
        // nodes' plans are ~300 MB) a plan is encoded in its own task when that starts. Each task keeps its
        // plan until its agent answers, as before.
        var prepared: [String: ControlClient.Prepared] = [:]
        var preparedBytes = 0
        for node in up where preparedBytes < Coordinator.preparedBudgetBytes {
            let p = client.prepare(node, path: ControlPath.run, plan(node))
            prepared[node.name] = p
            preparedBytes += p.body.count
        }
        // The published ports, probed from this host while the agents probe each other.
        let published = gathered.withLockedValue { $0.published }
        let vantagePlan = vantage.map { v in
            Vantage.plan(
                runID: runID, targets: published, nodes: nodes, address: v.address, attempts: options.attempts,
                timeoutMs: { options.timeoutMs(rttMicros: rtts[$0.name], nil) })
        }
        await withTaskGroup(of: Void.self) { group in
            if let vantage, let vantagePlan {
                group.addTask { [self] in
                    let response = await vantage.probe(vantagePlan)
                    gathered.withLockedValue { $0.recordRun(vantage.name, response) }
                }
            }
            for node in up {
                group.addTask { [self, prepared = prepared[node.name]] in
                    do throws(AgentCallError) {
                        let call = prepared ?? client.prepare(node, path: ControlPath.run, plan(node))
                        let response = try await client.call(call, as: RunResponse.self, timeout: runTimeout)
                        var map: [ProbeKey: SenderEvidence] = [:]
                        for r in response.results where r.kind.proto != .esp || kinds.contains(where: { $0.kindID == r.kind }) {
                            map[ProbeKey(target: r.target, kind: r.kind)] = r.evidence
                        }
                        gathered.withLockedValue { $0.sent[node.name] = map }
                    } catch {
                        // Interrupted is not down: leave the node's health as it was.
                        guard !Task.isCancelled else { return }
                        logger.debug("run \(node.name): \(error)")
                        var h = error.health
                        h.detail = "during the check: \(h.detail ?? "stopped answering")"
                        gathered.withLockedValue { $0.health[node.name] = h }
                    }
                    progress(.probed(agent: node.name))
                }
            }
        }
        // Interrupted with the runs under way: ask the agents for what they have so far.
        if Task.isCancelled {
            await salvage(client, runID: runID, nodes: up)
            return false
        }

        // 3. Log: what each agent received, once every sender is done.
        progress(.collecting)
        endPhase()
        await withTaskGroup(of: Void.self) { group in
            for node in up {
                group.addTask { [self] in
                    do throws(AgentCallError) {
                        let log = try await client.call(
                            node, path: ControlPath.log, LogRequest(runID: runID), as: LogResponse.self, timeout: controlTimeout)
                        gathered.withLockedValue { $0.recordLog(node, log) }
                    } catch {
                        guard !Task.isCancelled else { return }
                        logger.debug("log \(node.name): \(error)")
                        var h = error.health
                        h.detail = "after the check: \(h.detail ?? "stopped answering")"
                        gathered.withLockedValue { $0.health[node.name] = h }
                    }
                }
            }
        }
        if Task.isCancelled {
            await salvage(client, runID: runID, nodes: up)
            return false
        }
        endPhase()
        return true
    }

    private func endPhase() {
        let ms = Int(Date().timeIntervalSince(started) * 1000)
        gathered.withLockedValue { $0.phaseEndsMs.append(ms) }
    }

    /// Decides every check from what has been gathered so far (`Merge.forEachResult`), all held in memory.
    /// Fine for tens of nodes; at hundreds use `forEachResult` with the streaming writers.
    public func results(complete: Bool) -> Results {
        var checks: [CheckResult] = []
        checks.reserveCapacity(Planner.count(inventory: inventory, profile: profile))
        forEachResult(complete: complete) { checks.append($0) }
        var r = resultsHead(complete: complete)
        r.checks = checks
        r.nodeFindings += PathMTUFindings.findings(checks)
        r.summary = Summary(checks: checks, complete: complete, nodeFindings: r.nodeFindings)
        return r
    }

    /// The checks decided one at a time, in plan order (call it again for a second pass).
    public func forEachResult(complete: Bool, nonces: Bool = true, _ body: (CheckResult) throws -> Void) rethrows {
        let g = gathered.withLockedValue { $0 }
        try Merge.forEachResult(inventory: inventory, profile: profile, gathered: g, complete: complete, nonces: nonces, body)
    }

    /// The checks decided on every core, block by block, handed to `consume` in plan order (`Merge.forEachBlock`).
    public func forEachBlock<Partial: Sendable>(
        complete: Bool, nonces: Bool = true,
        produce: @escaping @Sendable (_ checks: (_ body: (CheckResult) -> Void) -> Void) -> Partial,
        consume: (Partial) throws -> Void
    ) rethrows {
        let g = gathered.withLockedValue { $0 }
        try Merge.forEachBlock(
            inventory: inventory, profile: profile, gathered: g, complete: complete, nonces: nonces,
            produce: produce, consume: consume)
    }

    /// Everything but the checks: run facts, nodes and node findings (`checks` empty, `summary` of none).
    public func resultsHead(complete: Bool) -> Results {
        let g = gathered.withLockedValue { $0 }
        let iso = ISO8601DateFormatter()
        var r = Results(
            toolVersion: SwarmProbeVersion.current, profile: profile.name, startedAt: iso.string(from: started),
            durationMs: Int(Date().timeIntervalSince(started) * 1000), timeoutMs: g.longestTimeoutMs ?? options.nominalTimeoutMs,
            complete: complete, nodes: Merge.nodeResults(inventory: inventory, gathered: g), checks: [],
            timeoutPolicy: options.timeout == .auto ? "auto" : "fixed", attempts: options.attempts,
            nodeFindings: Merge.nodeFindings(inventory: inventory, gathered: g, subnets: meshSubnets, encrypted: profile.encrypted))
        if let v = g.vantage {
            r.routingMesh = RoutingMesh(client: v.name, clientAddress: v.address, ports: g.published.map(RoutingMesh.Port.init))
        }
        if g.phaseEndsMs.count == 3 {
            r.phasesMs = PhaseTimes(hello: g.phaseEndsMs[0], probes: g.phaseEndsMs[1], logs: g.phaseEndsMs[2])
        }
        return r
    }
}
