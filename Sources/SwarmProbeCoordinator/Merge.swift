import Foundation
import SwarmProbeCore
import SwarmProbeReport

/// Decides every check from what has been gathered (`Gathered`).
public enum Merge {
    /// Decides every check of the plan from what has been gathered, in plan order, and hands each to
    /// `body` as soon as it is decided; nothing is kept. `check` (through `Coordinator.results`) and the
    /// scale benchmark both decide through here.
    /// `nonces: false` leaves the sender's nonces out of the evidence and open checks without their detail
    /// sentence (a pass that only counts and groups).
    public static func forEachResult(
        inventory: Inventory, profile: Profile, gathered g: Gathered, complete: Bool,
        nonces: Bool = true, _ body: (CheckResult) throws -> Void
    ) rethrows {
        let prepared = Prepared(inventory: inventory, profile: profile, gathered: g, complete: complete, nonces: nonces)
        try prepared.forEach(rows: 0..<prepared.rowCount, body)
    }

    /// The same checks in the same order, decided on `workers` threads: the plan is cut into blocks of
    /// `rowsPerBlock` rows (a row: one kind from one sender to every target), `produce` turns each block's
    /// checks into a `Partial` on a worker (the JSON of those checks, or the checks themselves), and `consume`
    /// gets the partials in plan order on the calling thread, which also decides the next block itself when no
    /// worker has started it (so it never only waits). At most `2 x workers` blocks are done ahead of `consume`,
    /// so memory stays a few blocks whatever the size; no worker outlives the call. Deciding is read-only over
    /// `gathered`. The calling thread blocks: call it from a thread of its own or accept that (`check` calls it
    /// once per pass from its command's task).
    public static func forEachBlock<Partial: Sendable>(
        inventory: Inventory, profile: Profile, gathered g: Gathered, complete: Bool, nonces: Bool = true,
        workers: Int = Merge.defaultWorkers, rowsPerBlock: Int = 4,
        produce: @escaping @Sendable (_ checks: (_ body: (CheckResult) -> Void) -> Void) -> Partial,
        consume: (Partial) throws -> Void
    ) rethrows {
        let prepared = Prepared(inventory: inventory, profile: profile, gathered: g, complete: complete, nonces: nonces)
        let rows = prepared.rowCount, size = max(1, rowsPerBlock)
        let blocks = (rows + size - 1) / size
        let block: @Sendable (Int) -> Partial = { b in
            produce { body in prepared.forEach(rows: (b * size)..<min(rows, (b + 1) * size), body) }
        }
        guard workers > 1, blocks > 1 else {
            for b in 0..<blocks { try consume(block(b)) }
            return
        }
        let queue = OrderedBlocks<Partial>(count: blocks, window: 2 * workers)
        // No worker outlives the call, even when `consume` throws.
        defer {
            queue.cancel()
            queue.waitForWorkers()
        }
        for _ in 0..<min(workers, blocks) {
            queue.workerStarted()
            Thread {
                while let b = queue.claim() { queue.put(b, block(b)) }
                queue.workerExited()
            }.start()
        }
        for b in 0..<blocks {
            // The next block nobody has started yet: decide it here rather than wait.
            if queue.claimIfNext(b) {
                let partial = block(b)
                queue.took(b)
                try consume(partial)
            } else {
                try consume(queue.take(b))
            }
        }
    }

    /// A `produce` for `forEachBlock` that keeps a block's checks as they are (for a reader that groups them).
    @Sendable public static func keepChecks(_ checks: (_ body: (CheckResult) -> Void) -> Void) -> [CheckResult] {
        var list: [CheckResult] = []
        checks { list.append($0) }
        return list
    }

    /// One worker per core, at most 8: each holds up to two blocks of a few MB ahead of the reader.
    public static let defaultWorkers = min(8, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Everything deciding a check looks up, prepared once per pass and shared by the threads that decide.
    struct Prepared: Sendable {
        /// Per node, everything a check looks up, once.
        final class End: Sendable {
            init(
                health: AgentHealth?, sent: SenderTable?, sentAddress: UInt32?, log: ReceiveTable?, capture: CaptureIndex?,
                listeners: [ListenerState?], interfaceTap: Bool, nflogTap: Bool, captureLossy: Bool, missed: [ProbeKey: Int]?,
                neverLeft: Set<ProbeKey>? = nil
            ) {
                self.neverLeft = neverLeft
                self.captureLossy = captureLossy
                self.missed = missed
                self.health = health
                self.sent = sent
                self.sentAddress = sentAddress
                self.log = log
                self.capture = capture
                self.listeners = listeners
                self.interfaceTap = interfaceTap
                self.nflogTap = nflogTap
            }
            let health: AgentHealth?
            let sent: SenderTable?
            let sentAddress: UInt32?
            let log: ReceiveTable?
            let capture: CaptureIndex?
            let listeners: [ListenerState?]
            let interfaceTap: Bool
            let nflogTap: Bool
            let captureLossy: Bool
            /// Answers to this node's own silent probes that its interface saw arrive (`Gathered.missed`).
            let missed: [ProbeKey: Int]?
            /// This node's own silent probes its interface never saw leave (`Gathered.neverLeft`).
            let neverLeft: Set<ProbeKey>?
        }
        let kinds: [TrafficKind]
        let nodes: [Node]
        let ends: [End]
        let kindIDs: [UInt32?]
        let notContacted = AgentHealth(.down, "not contacted (the check was interrupted)")
        let sourceAddresses: [IPAddress]
        let required: [[[Bool]]]
        let roleIndex: [Int]
        let complete: Bool
        let nonces: Bool
        let published: [PublishedTarget]
        let vantage: VantageRef?
        /// The vantage's end (no health when interrupted before it reported); nil without published ports.
        let vantageEnd: End?
        /// Per published port, its index in the sent tables' kinds, and each node's listener for it.
        let publishedKindIDs: [UInt32?]
        let publishedListeners: [[ListenerState?]]
        let pathMTUNeeded: Int?

        init(inventory: Inventory, profile: Profile, gathered g: Gathered, complete: Bool, nonces: Bool) {
            let kinds = profile.enabledKinds
            self.kinds = kinds
            self.complete = complete
            self.nonces = nonces
            ends = inventory.nodes.map { n in
                let hello = g.hello[n.name]
                let taps = hello?.taps ?? []
                return End(
                    health: g.health[n.name], sent: g.sent.tables[n.name], sentAddress: g.sent.addresses.lookup(n.address),
                    log: g.received.tables[n.name], capture: g.captured[n.name],
                    listeners: kinds.map { k in hello?.listeners.first { $0.kind == k.kindID } },
                    interfaceTap: taps.contains { $0.tap == .interface && $0.active },
                    nflogTap: taps.contains { $0.tap == .nflog && $0.active },
                    captureLossy: g.captureLost[n.name] != nil, missed: g.missed[n.name], neverLeft: g.neverLeft[n.name])
            }
            kindIDs = kinds.map { k in g.sent.kinds.firstIndex(of: k.kindID).map { UInt32($0) } }
            sourceAddresses = g.received.addresses.list
            let nodes = inventory.nodes
            self.nodes = nodes
            required = kinds.map { kind in
                nodes.map { a in Role.allCases.map { kind.isRequired(from: a.role, to: $0) } }
            }
            roleIndex = nodes.map { Role.allCases.firstIndex(of: $0.role)! }
            published = g.published
            vantage = g.vantage
            vantageEnd = g.vantage.map { v in
                let table = g.sent.tables[v.name]
                return End(
                    health: table == nil ? nil : .up, sent: table, sentAddress: nil, log: nil, capture: nil, listeners: [],
                    interfaceTap: false, nflogTap: false, captureLossy: false, missed: nil)
            }
            pathMTUNeeded = g.pathMTUNeeded
            publishedKindIDs = g.published.map { t in g.sent.kinds.firstIndex(of: t.port).map { UInt32($0) } }
            publishedListeners = g.published.map { t in
                nodes.map { n in g.hello[n.name]?.listeners.first { $0.kind == t.port } }
            }
        }

        /// Rows in the plan's order (Planner.checks): kind, then sender; each row is that sender's checks of
        /// that kind to every target. Then one row per published port, from the vantage to every node.
        var rowCount: Int { kinds.count * nodes.count + (vantageEnd == nil ? 0 : published.count) }

        /// Decides the checks of `rows`, in order; by index, so no PlannedCheck (two Nodes and a TrafficKind,
        /// a dozen reference counts) is built per check. Rows past the mesh's are the published ports'.
        func forEach(rows: Range<Int>, _ body: (CheckResult) throws -> Void) rethrows {
            let meshRows = kinds.count * nodes.count
            for r in rows {
                if r >= meshRows {
                    try forEachPublished(published[r - meshRows], index: r - meshRows, body)
                    continue
                }
                let k = r / nodes.count, i = r % nodes.count
                let kind = kinds[k]
                let fromNode = nodes[i]
                for j in nodes.indices where j != i && nodes[j].name != fromNode.name {
                    try body(
                        check(
                            from: ends[i], fromName: fromNode.name, fromAddress: fromNode.address, to: j, kind: kind, kindIndex: kindIDs[k],
                            listener: ends[j].listeners[k], required: required[k][i][roleIndex[j]]))
                }
            }
        }

        /// One published port from the vantage to every node expected to answer it.
        private func forEachPublished(_ target: PublishedTarget, index p: Int, _ body: (CheckResult) throws -> Void) rethrows {
            guard let vantage, let from = vantageEnd else { return }
            let kind = target.kind
            let info = PublishedCheck(service: target.service, mode: target.mode)
            for j in nodes.indices where target.expects(nodes[j].name) {
                var c = check(
                    from: from, fromName: vantage.name, fromAddress: vantage.address, to: j, kind: kind,
                    kindIndex: publishedKindIDs[p], listener: publishedListeners[p][j], required: true,
                    // From the node itself (the check runs there), the probe never crosses its interface: its taps cannot judge.
                    forwarded: target.live, watched: publishedListeners[p][j] != nil && nodes[j].address != vantage.address)
                c.published = info
                try body(c)
            }
        }

        /// Decides one check from the sender's end `from` to node `j`. `forwarded`: the target's firewall tap
        /// cannot see it (a live service's port is forwarded into the ingress network, never delivered locally).
        /// `watched`: false when the target's agent does not know the port (not started with `--published`), so
        /// its taps never looked for it and "not seen" means nothing.
        private func check(
            from: End, fromName: String, fromAddress: IPAddress, to j: Int, kind: TrafficKind, kindIndex: UInt32?,
            listener: ListenerState?, required: Bool, forwarded: Bool = false, watched: Bool = true
        ) -> CheckResult {
            let kindID = kind.kindID
            let toNode = nodes[j], to = ends[j]
            var row: SentRow?
            if let t = from.sent, let target = to.sentAddress, let kindIndex { row = t.row(target: target, kind: kindIndex) }
            var sent = row.map { from.sent!.evidence($0, nonces: nonces) }
            if let missed = from.missed, sent?.outcome == .timeout {
                sent?.missedAnswerMs = missed[ProbeKey(target: toNode.address, kind: kindID)]
            }
            if let neverLeft = from.neverLeft, sent?.outcome == .timeout, sent?.egressBlocked == nil,
                neverLeft.contains(ProbeKey(target: toNode.address, kind: kindID))
            {
                sent?.egressBlocked = .notSeenLeaving
            }

            var receiver: ReceiverEvidence?
            if let log = to.log {
                let keys = row.map { from.sent!.nonceKeys($0) } ?? []
                var received = 0, answered = 0
                var sources: [UInt32] = []
                for key in keys {
                    guard let v = log.index[key] else { continue }
                    received += 1
                    if v & 1 != 0 { answered += 1 }
                    if !sources.contains(v >> 1) { sources.append(v >> 1) }
                }
                let capture = to.capture.flatMap { c in
                    sent == nil || !watched
                        ? nil
                        : c.evidence(
                            nonceKeys: keys, sourcePorts: row.map { from.sent!.sourcePorts($0) } ?? [],
                            from: fromAddress, kind: kindID,
                            interface: to.interfaceTap, nflog: to.nflogTap, lossy: to.captureLossy)
                }
                receiver = ReceiverEvidence(
                    listener: listener, received: received, answered: answered,
                    sourceAddresses: sources.map { sourceAddresses[Int($0)] }.sorted { $0.description < $1.description },
                    capture: capture)
            }
            var pathMTU: PathMTUResult?
            if let t = from.sent, let target = to.sentAddress, let kindIndex, kind.dataPath {
                // A rung arrived when its target's agent logged it or its interface tap saw it. Where only the tap
                // can tell (nothing answers on a port the kernel holds), a tap that lost packets cannot say a rung
                // did not arrive: no measurement rather than a false black hole.
                pathMTU = t.pathMTU(target: target, kind: kindIndex, needed: pathMTUNeeded) { key in
                    to.log?.index[key] != nil || (to.capture?.nonces[key] ?? 0) & CaptureIndex.inboundInterface != 0
                }
                if to.captureLossy, listener?.mode == .observing { pathMTU = nil }
                if nonces, pathMTU != nil { sent?.mtu = t.ladder(target: target, kind: kindIndex) }
            }
            let input = VerdictInput(
                kind: kindID, fromName: fromName, toName: toNode.name,
                expectedSource: fromAddress,
                senderAgent: from.health ?? notContacted, receiverAgent: to.health ?? notContacted,
                sender: sent, receiver: receiver, forwarded: forwarded)
            var decision = decide(input)
            // Interrupted: what the evidence gathered settles stands; a path it does not settle only
            // because an end had not reported yet is undecided, not lost.
            if !complete && Merge.undecided(decision, senderContacted: from.health != nil, targetContacted: to.health != nil) {
                decision = Decision(.inconclusive, nil, .interrupted)
            }
            // A pass that only counts and groups needs no sentence per healthy path.
            let detail = decision.verdict == .open && !nonces ? "" : CheckDetail.sentence(decision, input)
            var result = CheckResult(
                from: fromName, to: toNode.name, kind: kind, required: required,
                decision: decision, detail: detail, sender: sent, receiver: receiver)
            result.pathMTU = pathMTU
            return result
        }
    }

    /// Whether a check of an interrupted run is left undecided: `decide` found an end's report missing while
    /// that end's agent was up (the interrupt came first), or an end was never contacted at all.
    static func undecided(_ d: Decision, senderContacted: Bool, targetContacted: Bool) -> Bool {
        if !senderContacted { return true }
        switch d.reason {
        case .senderReportLost, .targetReportLost: return true
        case .targetAgentDown: return !targetContacted
        default: return false
        }
    }

    /// One entry per inventory node: its agent, listeners, taps and clock.
    public static func nodeResults(inventory: Inventory, gathered g: Gathered) -> [NodeResult] {
        inventory.nodes.map { node in
            NodeResult(
                node: node, agent: g.health[node.name] ?? AgentHealth(.down, "not contacted (the check was interrupted)"),
                agentVersion: g.hello[node.name]?.agentVersion,
                listeners: g.hello[node.name]?.listeners ?? [],
                taps: g.hello[node.name]?.taps ?? [],
                clockOffsetMs: g.clockOffsetMs[node.name],
                controlRTTMicros: g.controlRTTMicros[node.name],
                captureLost: g.captureLost[node.name],
                host: g.hello[node.name]?.host)
        }
    }

    /// What each node's host facts mean for the routing mesh (`HostFindings`), in inventory order, for every
    /// node whose agent answered the hello with them from the node's own address (another address: perhaps
    /// another machine's agent). Not for nodes on loopback addresses: those are agents side by side on one
    /// machine (the loopback demo), not swarm nodes, and its settings are not theirs.
    /// And a node whose clock is off this host's by more than swarm tolerates, measured at the hello (or told by
    /// an agent that refused the hello for its time).
    /// `encrypted`: the profile probes ESP (the encrypted overlay), so the kernel's IPsec support matters.
    public static func nodeFindings(
        inventory: Inventory, gathered g: Gathered, subnets: MeshSubnets = .docker, encrypted: Bool = false
    ) -> [NodeFinding] {
        let names = Dictionary(inventory.nodes.map { ($0.address, $0.name) }, uniquingKeysWith: { a, _ in a })
        return inventory.nodes.flatMap { node -> [NodeFinding] in
            var out: [NodeFinding] = []
            if let sure = g.clockOffsetSureMs[node.name], let offset = g.clockOffsetMs[node.name],
                let f = HostFindings.clockFinding(node: node.name, offsetMs: offset, sureMs: sure)
            {
                out.append(f)
            }
            guard let hello = g.hello[node.name], let facts = hello.host, hello.address == node.address,
                !loopback.contains(where: { $0.contains(node.address) })
            else { return out }
            return out
                + HostFindings.findings(
                    node: node.name, facts: facts, subnets: subnets,
                    context: HostFindings.Context(address: node.address, peerNames: names, encrypted: encrypted))
        }
    }

    static let loopback = [CIDR("127.0.0.0/8")!, CIDR("::1/128")!]
}
