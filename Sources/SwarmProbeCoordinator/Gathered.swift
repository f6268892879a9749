import SwarmProbeCore

// What the coordinator keeps of what the agents reported. At 1,000 nodes a check is about four million
// (from, to, kind) checks, each with up to eight nonces on the sender's side, as many receive-log entries on
// the target's, and up to three capture records per probe: kept as the agents send them that is several GiB,
// so every report is turned into flat, sorted tables when it arrives (SenderTable, ReceivedStore,
// CaptureIndex), and checks are decided one at a time from them (Merge).

/// What has been gathered so far; everything here survives an interruption.
public struct Gathered: Sendable {
    public var health: [String: AgentHealth] = [:]
    public var hello: [String: HelloResponse] = [:]
    public var clockOffsetMs: [String: Int] = [:]
    /// The least each clock offset can be, whatever the round trip hid (`ClockOffset.sure`): what findings judge by.
    public var clockOffsetSureMs: [String: Int] = [:]
    /// Hello round trips, microseconds.
    public var controlRTTMicros: [String: Int] = [:]
    /// The longest probe timeout any path got.
    public var longestTimeoutMs: Int?
    /// What the data path's path MTU was measured against (the agents were asked for the ladder); nil: not asked.
    public var pathMTUNeeded: Int?
    /// When each phase ended, ms after the check began.
    public var phaseEndsMs: [Int] = []
    /// Published ports and who probed them (`check --published`, or a live swarm's services); none: no vantage.
    public var published: [PublishedTarget] = []
    public var vantage: VantageRef?
    /// target name -> packets its capture taps lost during the run (only when some were)
    public var captureLost: [String: Int] = [:]
    /// sender name -> its probe reports (assign a `[ProbeKey: SenderEvidence]`; kept compact)
    var sent = SentStore()
    /// target name -> its receive log (assign a nonce-keyed dictionary; kept compact)
    var received = ReceivedStore()
    /// target name -> what its capture taps saw
    var captured: [String: CaptureIndex] = [:]
    /// sender name -> (target, kind) -> ms after silence its interface saw the answer to a silent probe arrive
    var missed: [String: [ProbeKey: Int]] = [:]
    /// sender name -> (target, kind) of its silent probes its interface tap never saw leave
    var neverLeft: [String: Set<ProbeKey>] = [:]

    public init() {}

    // The same steps `Coordinator.phases()` takes with each answer, for callers that have the answers
    // from elsewhere (the scale benchmark generates them).

    public mutating func recordHello(_ node: Node, _ response: HelloResponse, clockOffsetMs: Int) {
        health[node.name] = .up
        hello[node.name] = response
        self.clockOffsetMs[node.name] = clockOffsetMs
    }

    public mutating func recordHealth(_ node: Node, _ h: AgentHealth) {
        health[node.name] = h
    }

    /// A sender's run results; probes of ESP are kept only when the profile has it enabled, as in `check`.
    /// The vantage's run: every probe it sent is a published port's.
    mutating func recordRun(_ vantage: String, _ response: RunResponse) {
        var map: [ProbeKey: SenderEvidence] = [:]
        for r in response.results { map[ProbeKey(target: r.target, kind: r.kind)] = r.evidence }
        sent[vantage] = map
    }

    public mutating func recordRun(_ node: Node, _ response: RunResponse, kinds: [TrafficKind]) {
        var map: [ProbeKey: SenderEvidence] = [:]
        map.reserveCapacity(response.results.count)
        for r in response.results where r.kind.proto != .esp || kinds.contains(where: { $0.kindID == r.kind }) {
            map[ProbeKey(target: r.target, kind: r.kind)] = r.evidence
        }
        sent[node.name] = map
    }

    public mutating func recordLog(_ node: Node, _ log: LogResponse) {
        received.set(node.name, entries: log.entries)
        captured[node.name] = CaptureIndex(log.capture)
        if !log.missedAnswers.isEmpty {
            var map: [ProbeKey: Int] = [:]
            for m in log.missedAnswers { map[ProbeKey(target: m.peer, kind: m.kind)] = m.afterMs }
            missed[node.name] = map
        } else {
            missed[node.name] = nil
        }
        neverLeft[node.name] = log.neverLeft.isEmpty ? nil : Set(log.neverLeft.map { ProbeKey(target: $0.peer, kind: $0.kind) })
        if log.captureLost > 0 { captureLost[node.name] = log.captureLost }
    }
}
