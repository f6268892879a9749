import Foundation
import SwarmProbeCore
import Testing

@testable import SwarmProbeCoordinator
@testable import SwarmProbeReport

@Suite("Node groups")
struct NodeGroupTests {
    func node(_ name: String, _ address: String, _ role: Role = .worker, group: String? = nil) -> NodeResult {
        NodeResult(node: Node(name: name, address: IPAddress(address)!, role: role, group: group), agent: .up)
    }

    @Test func inventoryGroupsWin() {
        let g = NodeGroups(nodes: [node("a", "10.0.1.1", group: "az-a"), node("b", "10.0.2.1", group: "az-b"),
                                   node("c", "10.0.1.2", group: "az-a"), node("d", "10.0.3.1")])
        #expect(g.basis == .group)
        #expect(g.names == ["az-a", "az-b", "ungrouped"])
        #expect(g.members == [[0, 2], [1], [3]])
        #expect(g.label(1) == "group az-b")
    }

    @Test func elseSubnets() {
        let g = NodeGroups(nodes: [node("a", "10.0.1.1"), node("b", "10.0.2.1"), node("c", "10.0.1.200"), node("d", "2001:db8:0:7::5")])
        #expect(g.basis == .subnet)
        #expect(g.names == ["10.0.1.0/24", "10.0.2.0/24", "2001:db8:0:7::/64"])
        #expect(g.groupOf == [0, 1, 0, 2])
    }

    @Test func elseRoles() {
        let g = NodeGroups(nodes: [node("m", "10.0.1.1", .manager), node("w1", "10.0.1.2"), node("w2", "10.0.1.3")])
        #expect(g.basis == .role)
        #expect(g.names == ["manager", "worker"])
        #expect(g.label(0) == "role manager")
    }
}

@Suite("Grouped findings")
struct GroupedFindingTests {
    /// Required blocked checks of one kind from two groups to a third: one cause, one pair per group pair,
    /// the first check as the sample; open checks only counted.
    @Test func groupsByCauseAndNodeGroup() {
        let r = Fixtures.grouped()
        let g = CheckGroups(r)
        #expect(g.counter.checks == 6240)
        let network = g.causes.filter { $0.verdict == .blocked && $0.location == .network }
        #expect(network.count == 1)
        #expect(network[0].kind == KindID(proto: .udp, port: 4789))
        #expect(network[0].checks == 100)
        #expect(network[0].pairs.count == 1)
        let pair = network[0].pairs[0]
        #expect(g.groupName(pair.fromGroup) == "az-a" && g.groupName(pair.toGroup) == "az-b")
        #expect(pair.senderCount == 10 && pair.targetCount == 10 && pair.checks == 100)
        #expect(pair.sample.from == "n-0001" && pair.sample.to == "n-0011")

        let firewall = g.causes.first { $0.location == .hostFirewall }
        #expect(firewall?.pairs.map { g.groupName($0.fromGroup) } == ["az-a", "az-b", "az-c", "az-d"])
        #expect(firewall?.pairs.allSatisfy { g.groupName($0.toGroup) == "az-c" && $0.targetCount == 3 } == true)
        // Causes in the order of the node-by-node report: network, host firewall, return path.
        #expect(g.causes.map { $0.location?.rawValue ?? $0.verdict.rawValue } == ["network", "host-firewall", "return-path", "return-path"])
        #expect(g.agents.map { r.nodes[$0.node].name } == ["n-0030", "n-0040"])
        #expect(g.agents.allSatisfy { $0.checks == 234 })
        #expect(g.information.allSatisfy { !$0.required })
        // n-0012's VXLAN arrives from a second address: open, and a finding of its own.
        #expect(g.sources.map { r.nodes[$0.sender].name } == ["n-0012"])
        #expect(g.sources.first?.addresses == [IPAddress("10.99.0.1")!])
        #expect(g.sources.first?.targetCount == 37)
    }

    @Test func theGroupedReportNamesEachCause() {
        let r = Fixtures.grouped()
        let text = TerminalReport.render(r, color: false)
        #expect(text.contains("4789/udp blocked in the network: group az-a -> group az-b, 10 x 10 paths (100 checks); sample:"))
        #expect(!text.contains("n-0040  -"))  // no node-by-node matrix
        let md = MarkdownReport.render(r)
        #expect(md.contains("## Matrices (node group x node group)"))
        #expect(md.contains(" NET 100 "))
    }

    @Test func cellsCountWhatIsNotOpen() {
        var counts = Array(repeating: 0, count: 16)
        #expect(GroupedReport.cellText(counts[...]) == ".")
        counts[0 * 2 + 1] = 5
        #expect(GroupedReport.cellText(counts[...]) == "ok")
        counts[1 * 2 + 1] = 3  // NET, required
        counts[5 * 2] = 2  // cl, not required
        #expect(GroupedReport.cellText(counts[...]) == "NET 3 (cl 2)")
    }
}

@Suite("Scale")
struct ScaleTests {
    /// 200 generated nodes (159,200 checks) decided by the coordinator's merge, streamed through the
    /// grouping and the JSON writer: every verdict is the generated fault's, and nothing is held.
    @Test func twoHundredNodes() throws {
        let cluster = SyntheticCluster(nodes: 200, profile: DefaultProfile.load())
        var gathered = Gathered()
        cluster.gather(into: &gathered)
        let head = Results(toolVersion: "0.1.0", profile: "swarm", startedAt: "2025-06-02T09:14:07Z", durationMs: 1, timeoutMs: 2000,
                           complete: true, nodes: Merge.nodeResults(inventory: cluster.inventory, gathered: gathered), checks: [])
        var groups = CheckGroups(nodes: head.nodes)
        var wrong = 0
        let kinds = cluster.kinds.map(\.name)
        Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true) { c in
            groups.add(c)
            let expected = cluster.fate(from: SyntheticCluster.index(c.from)!, to: SyntheticCluster.index(c.to)!,
                                        kind: kinds.firstIndex(of: c.kind)!).expected
            if c.verdict != expected.0 || c.location != expected.1 { wrong += 1 }
        }
        groups.finish()
        #expect(wrong == 0)
        #expect(groups.counter == cluster.expectedCounts())
        let s = groups.summary(complete: true)
        #expect(s.checks == 200 * 199 * 4)
        #expect(s.blocked == 2500 + 3 * 197 + 2 * 50)  // 4789 az-a -> az-b; 3 firewalled targets; return path from az-a, two kinds
        #expect(s.agentDown == 2 * (2 * 198 + 1) * 4)
        #expect(s.inconclusive == 0)

        // The streamed JSON: small parts first, then one check per line; count the lines.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swarmprobe-scale-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        let out = JSONOutput(fd: fd)
        JSONReport.write(head, groups: groups, to: out) { each in
            Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true, each)
        }
        out.flush()
        close(fd)
        #expect(out.error == 0)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.utf8.count == out.size)
        let lines = text.split(separator: "\n")
        let start = try #require(lines.firstIndex(of: #"  "checks" : ["#))
        #expect(lines.count - start - 3 == s.checks)  // the checks, then "  ]" and "}"
        let summaryLine = try #require(lines.first { $0.hasPrefix(#"  "summary" : "#) })
        let summary = try JSONDecoder().decode(Summary.self, from: Data(summaryLine.dropFirst(14).dropLast().utf8))
        #expect(summary == s)
    }

    /// Deciding on several threads, block by block, changes nothing: the same checks in the same order,
    /// the same groups, the same JSON bytes, whatever the block size and the number of threads (a worker
    /// that finishes early must still wait for its turn).
    @Test(arguments: [(workers: 2, rows: 1), (workers: 3, rows: 7), (workers: 8, rows: 4), (workers: 2, rows: 10_000)])
    func blocksOnThreadsDecideAsOneLoop(workers: Int, rows: Int) throws {
        let cluster = SyntheticCluster(nodes: 60, profile: DefaultProfile.load())
        var gathered = Gathered()
        cluster.gather(into: &gathered)
        let head = Results(toolVersion: "0.1.0", profile: "swarm", startedAt: "2025-06-02T09:14:07Z", durationMs: 1, timeoutMs: 2000,
                           complete: true, nodes: Merge.nodeResults(inventory: cluster.inventory, gathered: gathered), checks: [])
        var sequential: [CheckResult] = []
        Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true) { sequential.append($0) }
        var parallel: [CheckResult] = []
        Merge.forEachBlock(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true,
                           workers: workers, rowsPerBlock: rows, produce: Merge.keepChecks, consume: { parallel += $0 })
        #expect(parallel.count == 60 * 59 * 4)
        #expect(parallel == sequential)

        let groups = CheckGroups(Results(toolVersion: head.toolVersion, profile: head.profile, startedAt: head.startedAt, durationMs: 1,
                                         timeoutMs: 2000, complete: true, nodes: head.nodes, checks: sequential))
        let one = JSONOutput(), many = JSONOutput()
        JSONReport.write(head, groups: groups, to: one) { each in
            Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true, each)
        }
        JSONReport.write(head, groups: groups, to: many) { emit in
            Merge.forEachBlock(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true,
                               workers: workers, rowsPerBlock: rows, produce: JSONReport.checkBlock, consume: emit)
        }
        #expect(many.size == one.size)
        #expect(many.string == one.string)
        let decoded = try JSONDecoder().decode(Results.self, from: Data(many.string.utf8))
        #expect(decoded.checks == sequential)
    }

    /// A reader that stops (a write that fails) stops the workers, and none outlives the call: nothing is
    /// decided after it returns (a worker left running would keep adding, or hang here forever).
    @Test(.timeLimit(.minutes(1)))
    func aReaderThatStopsStopsTheWorkers() throws {
        let cluster = SyntheticCluster(nodes: 40, profile: DefaultProfile.load())
        var gathered = Gathered()
        cluster.gather(into: &gathered)
        struct Stop: Error {}
        final class Count: @unchecked Sendable {  // every access under the lock
            private let lock = NSLock()
            private var n = 0
            func add() { lock.lock(); n += 1; lock.unlock() }
            var value: Int { lock.lock(); defer { lock.unlock() }; return n }
        }
        let produced = Count()
        var taken = 0
        #expect(throws: Stop.self) {
            try Merge.forEachBlock(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true,
                                   workers: 2, rowsPerBlock: 1,
                                   produce: { checks in
                                       produced.add()
                                       return JSONReport.checkBlock(checks)
                                   }) { _ in
                taken += 1
                if taken == 3 { throw Stop() }
            }
        }
        #expect(taken == 3)
        let atReturn = produced.value
        #expect(atReturn <= 3 + 2 * 2 + 2)  // taken, the window, one in hand per worker
        Thread.sleep(forTimeInterval: 0.1)
        #expect(produced.value == atReturn)
    }
}

@Suite("Compact evidence")
struct CompactEvidenceTests {
    /// The compact store and streamed merge decide exactly what the dictionaries of hex strings did.
    @Test func sameResultsAsTheRepresentationBefore() {
        let cluster = SyntheticCluster(nodes: 40, profile: DefaultProfile.load(), seed: 7)
        var old = LegacyGathered()
        var new = Gathered()
        for (i, node) in cluster.inventory.nodes.enumerated() {
            if cluster.down.contains(i) {
                old.recordHealth(node, AgentHealth(.down, "refused"))
                new.recordHealth(node, AgentHealth(.down, "refused"))
                continue
            }
            old.recordHello(node, cluster.hello(i), clockOffsetMs: 0)
            new.recordHello(node, cluster.hello(i), clockOffsetMs: 0)
        }
        for (i, node) in cluster.inventory.nodes.enumerated() where !cluster.down.contains(i) {
            old.recordRun(node, cluster.run(i), kinds: cluster.kinds)
            new.recordRun(node, cluster.run(i), kinds: cluster.kinds)
        }
        for (i, node) in cluster.inventory.nodes.enumerated() where !cluster.down.contains(i) && i % 7 != 3 {
            old.recordLog(node, cluster.log(i))
            new.recordLog(node, cluster.log(i))
        }
        let head = Results(toolVersion: "0.1.0", profile: "swarm", startedAt: "", durationMs: 0, timeoutMs: 0, complete: true, nodes: [], checks: [])
        let before = LegacyMerge.results(inventory: cluster.inventory, profile: cluster.profile, gathered: old, head: head).checks
        var after: [CheckResult] = []
        Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: new, complete: true) { after.append($0) }
        #expect(after.count == before.count)
        #expect(after == before)
        // Logs missing from some targets (i % 7 == 3) make those checks inconclusive or unknown, alike.
        #expect(after.contains { $0.receiver == nil && $0.verdict != .agentDown })
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
            ProbeKey(target: a, kind: tcp): SenderEvidence(outcome: .timeout, attempts: 2, nonces: ["00ff10a0b1c2d3e4f5061728394a5b6c"],
                                                           sourcePorts: [40001, 40002]),
            ProbeKey(target: a, kind: udp): SenderEvidence(outcome: .answered, attempts: 1, rttMicros: 812,
                                                           nonces: ["0123456789abcdef0123456789abcdef"]),
            ProbeKey(target: b, kind: udp): SenderEvidence(outcome: .sendFailed, attempts: 1, detail: "ENETUNREACH",
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
        store.set("t", entries: [
            ReceiveLogEntry(nonce: n0, runID: "r", kind: udp, claimedSender: a, sourceAddress: nat, sourcePort: 7946, timeMs: 0, answered: true),
            ReceiveLogEntry(nonce: n1, runID: "r", kind: udp, claimedSender: a, sourceAddress: a, sourcePort: 7946, timeMs: 0, answered: false),
        ])
        let log = store.tables["t"]!
        #expect(log.index[LookupKey.nonce(n0)].map { store.addresses.list[Int($0 >> 1)] } == nat)
        #expect(log.index[LookupKey.nonce(n1)].map { $0 & 1 } == 0)
        #expect(log.index[LookupKey.nonce("22ff10a0b1c2d3e4f5061728394a5b6c")] == nil)

        let capture = CaptureIndex([
            CaptureRecord(tap: .interface, direction: .inbound, kind: udp, peer: a, peerPort: 7946, nonce: n0, tcp: nil, timeMs: 0),
            CaptureRecord(tap: .interface, direction: .inbound, kind: KindID(proto: .tcp, port: 7946), peer: a, peerPort: 40001,
                          nonce: nil, tcp: "syn", timeMs: 0),
        ])
        let udpEvidence = capture.evidence(nonceKeys: [LookupKey.nonce(n0)], sourcePorts: [], from: a, kind: udp, interface: true, nflog: true)
        #expect(udpEvidence == CaptureEvidence(seenAtInterface: true, seenPastFirewall: false, answerSeenLeaving: false))
        let tcpEvidence = capture.evidence(nonceKeys: [], sourcePorts: [40009, 40001], from: a, kind: KindID(proto: .tcp, port: 7946),
                                           interface: true, nflog: false)
        #expect(tcpEvidence == CaptureEvidence(seenAtInterface: true, seenPastFirewall: nil, answerSeenLeaving: false))
    }
}
