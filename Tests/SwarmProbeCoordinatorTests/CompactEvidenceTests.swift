import Foundation
import SwarmProbeBench
import SwarmProbeCore
import SwarmProbeReport
import Testing

@testable import SwarmProbeCoordinator

@Suite("Compact evidence")
struct CompactEvidenceTests {
    /// Logs missing from some targets (an agent that died before its log was asked for): the checks toward
    /// them are agent-down, and every other check still gets the generated fault's verdict.
    @Test func missingLogs() {
        let cluster = SyntheticCluster(nodes: 40, profile: DefaultProfile.load(), seed: 7)
        var gathered = Gathered()
        for (i, node) in cluster.inventory.nodes.enumerated() {
            if cluster.down.contains(i) {
                gathered.recordHealth(node, AgentHealth(.down, "refused"))
            } else {
                gathered.recordHello(node, cluster.hello(i), clockOffsetMs: 0)
            }
        }
        for (i, node) in cluster.inventory.nodes.enumerated() where !cluster.down.contains(i) {
            gathered.recordRun(node, cluster.run(i), kinds: cluster.kinds)
        }
        let withoutLog = Set(cluster.inventory.nodes.indices.filter { !cluster.down.contains($0) && $0 % 7 == 3 })
        for (i, node) in cluster.inventory.nodes.enumerated() where !cluster.down.contains(i) && !withoutLog.contains(i) {
            gathered.recordLog(node, cluster.log(i))
        }
        let kinds = cluster.kinds.map(\.name)
        var checked = 0, logless = 0
        Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true) { c in
            let i = SyntheticCluster.index(c.from)!, j = SyntheticCluster.index(c.to)!
            let fate = cluster.fate(from: i, to: j, kind: kinds.firstIndex(of: c.kind)!)
            if withoutLog.contains(j) && !cluster.down.contains(i) && c.sender?.outcome != .answered && c.sender?.outcome != .connected
                && !(c.sender?.outcome == .refused && c.verdict == .closed)
            {
                logless += 1
                #expect(c.verdict == .agentDown && c.reason == .targetReportLost && c.receiver == nil, "\(c.from) -> \(c.to) \(c.kind): \(c.reason)")
            } else if !withoutLog.contains(j) {
                checked += 1
                #expect(c.verdict == fate.expected.0 && c.location == fate.expected.1, "\(c.from) -> \(c.to) \(c.kind)")
            }
        }
        #expect(logless > 0 && checked > 0)
    }

    @Test func noncesRoundTrip() {
        let hex = "00ff10a0b1c2d3e4f5061728394a5b6c"
        #expect(Nonce(hex: hex)?.hex == hex)
        #expect(Nonce(hex: "00FF10A0B1C2D3E4F5061728394A5B6C")?.hex == hex)
        #expect(Nonce(hex: "abc") == nil)
        #expect(Nonce(hex: hex + "00") == nil)
        #expect(LookupKey.nonce(hex) == 0x00ff_10a0_b1c2_d3e4)
    }

    /// What `phases()` assigns comes back as it was: nonces (hex or not), retried ports, details, RTT.
    @Test func senderEvidenceRoundTrips() {
        let a = IPAddress("10.0.0.2")!, b = IPAddress("fd00::3")!
        let tcp = KindID(proto: .tcp, port: 7946), udp = KindID(proto: .udp, port: 4789)
        let map: [ProbeKey: SenderEvidence] = [
            ProbeKey(target: a, kind: tcp): SenderEvidence(
                outcome: .timeout, attempts: 2, nonces: ["00ff10a0b1c2d3e4f5061728394a5b6c"],
                sourcePorts: [40001, 40002]),
            ProbeKey(target: a, kind: udp): SenderEvidence(
                outcome: .answered, attempts: 1, rttMicros: 812,
                nonces: ["0123456789abcdef0123456789abcdef"]),
            ProbeKey(target: b, kind: udp): SenderEvidence(
                outcome: .sendFailed, attempts: 1, detail: "ENETUNREACH",
                nonces: ["not-hex", "also not"]),
        ]
        var store = SentStore()
        store["n1"] = map
        #expect(store["n1"] == map)
        #expect(store["n2"] == nil)
    }

    @Test func receiveLogsAndCaptureMatchByNonce() {
        let a = IPAddress("10.0.0.2")!, nat = IPAddress("192.0.2.9")!
        let udp = KindID(proto: .udp, port: 7946)
        let n0 = "00ff10a0b1c2d3e4f5061728394a5b6c", n1 = "11ff10a0b1c2d3e4f5061728394a5b6c"
        var store = ReceivedStore()
        store.set(
            "t",
            entries: [
                ReceiveLogEntry(nonce: n0, runID: "r", kind: udp, claimedSender: a, sourceAddress: nat, sourcePort: 7946, timeMs: 0, answered: true),
                ReceiveLogEntry(nonce: n1, runID: "r", kind: udp, claimedSender: a, sourceAddress: a, sourcePort: 7946, timeMs: 0, answered: false),
            ])
        let log = store.tables["t"]!
        #expect(log.index[LookupKey.nonce(n0)].map { store.addresses.list[Int($0 >> 1)] } == nat)
        #expect(log.index[LookupKey.nonce(n1)].map { $0 & 1 } == 0)
        #expect(log.index[LookupKey.nonce("22ff10a0b1c2d3e4f5061728394a5b6c")] == nil)

        let capture = CaptureIndex([
            CaptureRecord(tap: .interface, direction: .inbound, kind: udp, peer: a, peerPort: 7946, nonce: n0, tcp: nil, timeMs: 0),
            CaptureRecord(
                tap: .interface, direction: .inbound, kind: KindID(proto: .tcp, port: 7946), peer: a, peerPort: 40001,
                nonce: nil, tcp: "syn", timeMs: 0),
        ])
        let udpEvidence = capture.evidence(nonceKeys: [LookupKey.nonce(n0)], sourcePorts: [], from: a, kind: udp, interface: true, nflog: true)
        #expect(udpEvidence == CaptureEvidence(seenAtInterface: true, seenPastFirewall: false, answerSeenLeaving: false))
        let tcpEvidence = capture.evidence(
            nonceKeys: [], sourcePorts: [40009, 40001], from: a, kind: KindID(proto: .tcp, port: 7946),
            interface: true, nflog: false)
        #expect(tcpEvidence == CaptureEvidence(seenAtInterface: true, seenPastFirewall: nil, answerSeenLeaving: false))
    }
}
