import Foundation
import SwarmProbeCore

// FOR COMPARISON ONLY (`swarmprobe bench scale --legacy`): the coordinator's evidence store and
// merge as they were before the compact representation (commit 7509fef), copied verbatim but for the
// names, so the benchmark can show the before numbers beside the after. `check` never uses this.

/// What has been gathered so far; everything here survives an interruption.
public struct LegacyGathered: Sendable {
    var health: [String: AgentHealth] = [:]
    var hello: [String: HelloResponse] = [:]
    var clockOffsetMs: [String: Int] = [:]
    /// sender name -> (target address, kind) -> evidence
    var sent: [String: [LegacyProbeKey: SenderEvidence]] = [:]
    /// target name -> nonce -> entry
    var received: [String: [String: ReceiveLogEntry]] = [:]
    /// target name -> what its capture taps saw
    var captured: [String: LegacyCaptureIndex] = [:]

    public init() {}
}

/// A target's capture records, indexed the way checks look them up.
struct LegacyCaptureIndex: Sendable {
    struct TCPKey: Hashable, Sendable {
        var peer: IPAddress
        var peerPort: Int
        var kind: KindID
    }
    var inboundNonces: [TapState.Tap: Set<String>] = [:]
    var outboundNonces: Set<String> = []
    var inboundSYN: [TapState.Tap: Set<TCPKey>] = [:]
    var outboundSYNACK: Set<TCPKey> = []

    init(_ records: [CaptureRecord]) {
        for r in records {
            switch (r.direction, r.nonce, r.peerPort) {
            case (.inbound, let nonce?, _):
                inboundNonces[r.tap, default: []].insert(nonce)
            case (.outbound, let nonce?, _):
                outboundNonces.insert(nonce)
            case (.inbound, nil, let port?) where r.tcp == "syn":
                inboundSYN[r.tap, default: []].insert(TCPKey(peer: r.peer, peerPort: port, kind: r.kind))
            case (.outbound, nil, let port?) where r.tcp == "syn-ack":
                outboundSYNACK.insert(TCPKey(peer: r.peer, peerPort: port, kind: r.kind))
            default:
                break
            }
        }
    }

    /// What the taps that were active saw of one check's probes; nil fields for inactive taps.
    func evidence(for sent: SenderEvidence?, from: IPAddress, kind: KindID, taps: [TapState]) -> CaptureEvidence? {
        let interface = taps.contains { $0.tap == .interface && $0.active }
        let nflog = taps.contains { $0.tap == .nflog && $0.active }
        guard interface || nflog, let sent else { return nil }
        func seen(_ tap: TapState.Tap) -> Bool {
            if kind.proto == .tcp {
                guard let syns = inboundSYN[tap] else { return false }
                return sent.sourcePorts.contains { syns.contains(TCPKey(peer: from, peerPort: $0, kind: kind)) }
            }
            return sent.nonces.contains { inboundNonces[tap]?.contains($0) ?? false }
        }
        let answered: Bool
        if kind.proto == .tcp {
            answered = sent.sourcePorts.contains { outboundSYNACK.contains(TCPKey(peer: from, peerPort: $0, kind: kind)) }
        } else {
            answered = sent.nonces.contains { outboundNonces.contains($0) }
        }
        return CaptureEvidence(seenAtInterface: interface ? seen(.interface) : nil,
                               seenPastFirewall: nflog ? seen(.nflog) : nil,
                               answerSeenLeaving: interface ? answered : nil)
    }
}

struct LegacyProbeKey: Hashable, Sendable {
    var target: IPAddress
    var kind: KindID
}


extension LegacyGathered {
    /// What `phases()` did with each answer before.
    public mutating func recordHello(_ node: Node, _ response: HelloResponse, clockOffsetMs: Int) {
        health[node.name] = .up
        hello[node.name] = response
        self.clockOffsetMs[node.name] = clockOffsetMs
    }

    public mutating func recordHealth(_ node: Node, _ h: AgentHealth) { health[node.name] = h }

    public mutating func recordRun(_ node: Node, _ response: RunResponse, kinds: [TrafficKind]) {
        var map: [LegacyProbeKey: SenderEvidence] = [:]
        for r in response.results where r.kind.proto != .esp || kinds.contains(where: { $0.kindID == r.kind }) {
            map[LegacyProbeKey(target: r.target, kind: r.kind)] = r.evidence
        }
        sent[node.name] = map
    }

    public mutating func recordLog(_ node: Node, _ log: LogResponse) {
        var byNonce: [String: ReceiveLogEntry] = [:]
        for e in log.entries { byNonce[e.nonce] = e }
        received[node.name] = byNonce
        captured[node.name] = LegacyCaptureIndex(log.capture)
    }
}

public enum LegacyMerge {
    /// `results(complete:)` as it was: the whole plan, every CheckResult, one Results.
    public static func results(inventory: Inventory, profile: Profile, gathered g: LegacyGathered, head: Results) -> Results {
        let checks = Planner.checks(inventory: inventory, profile: profile).map { planned in
            result(for: planned, gathered: g, complete: true)
        }
        var r = head
        r.checks = checks
        r.summary = Summary(checks: checks, complete: true)
        return r
    }

    static func result(for planned: PlannedCheck, gathered g: LegacyGathered, complete: Bool) -> CheckResult {
        let from = planned.from, to = planned.to, kind = planned.kind
        if !complete && (g.sent[from.name] == nil || g.received[to.name] == nil)
            && (g.health[from.name]?.isUp ?? true) && (g.health[to.name]?.isUp ?? true) {
            let decision = Decision(.inconclusive, nil, "the check was interrupted before both ends of this path reported")
            return CheckResult(from: from.name, to: to.name, kind: kind, required: planned.required, decision: decision,
                               sender: g.sent[from.name]?[LegacyProbeKey(target: to.address, kind: kind.kindID)], receiver: nil)
        }
        let senderHealth = g.health[from.name] ?? AgentHealth(.down, "not contacted (the check was interrupted)")
        let receiverHealth = g.health[to.name] ?? AgentHealth(.down, "not contacted (the check was interrupted)")
        let sent = g.sent[from.name]?[LegacyProbeKey(target: to.address, kind: kind.kindID)]
        var receiver: ReceiverEvidence?
        if let log = g.received[to.name] {
            let entries = (sent?.nonces ?? []).compactMap { log[$0] }
            receiver = ReceiverEvidence(
                listener: g.hello[to.name]?.listeners.first { $0.kind == kind.kindID },
                received: entries.count,
                answered: entries.count { $0.answered },
                sourceAddresses: Array(Set(entries.map(\.sourceAddress))).sorted { $0.description < $1.description },
                capture: g.captured[to.name]?.evidence(for: sent, from: from.address, kind: kind.kindID,
                                                       taps: g.hello[to.name]?.taps ?? []))
        }
        let decision = decide(VerdictInput(kind: kind.kindID, fromName: from.name, toName: to.name, expectedSource: from.address,
                                           senderAgent: senderHealth, receiverAgent: receiverHealth,
                                           sender: sent, receiver: receiver))
        return CheckResult(from: from.name, to: to.name, kind: kind, required: planned.required, decision: decision,
                           sender: sent, receiver: receiver)
    }
}
