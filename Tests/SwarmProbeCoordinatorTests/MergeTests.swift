import Foundation
import SwarmProbeBench
import SwarmProbeCore
import SwarmProbeReport
import Testing

@testable import SwarmProbeCoordinator

@Suite("Scale")
struct ScaleTests {
    /// 200 generated nodes (159,200 checks) decided by the coordinator's merge, streamed through the
    /// grouping and the JSON writer: every verdict is the generated fault's, and nothing is held.
    @Test func twoHundredNodes() throws {
        let cluster = SyntheticCluster(nodes: 200, profile: DefaultProfile.load())
        var gathered = Gathered()
        cluster.gather(into: &gathered)
        let head = Results(
            toolVersion: "0.1.0", profile: "swarm", startedAt: "2025-06-02T09:14:07Z", durationMs: 1, timeoutMs: 2000,
            complete: true, nodes: Merge.nodeResults(inventory: cluster.inventory, gathered: gathered), checks: [])
        var groups = CheckGroups(nodes: head.nodes)
        var wrong = 0
        let kinds = cluster.kinds.map(\.name)
        Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true) { c in
            groups.add(c)
            let expected = cluster.fate(
                from: SyntheticCluster.index(c.from)!, to: SyntheticCluster.index(c.to)!,
                kind: kinds.firstIndex(of: c.kind)!
            ).expected
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
        let head = Results(
            toolVersion: "0.1.0", profile: "swarm", startedAt: "2025-06-02T09:14:07Z", durationMs: 1, timeoutMs: 2000,
            complete: true, nodes: Merge.nodeResults(inventory: cluster.inventory, gathered: gathered), checks: [])
        var sequential: [CheckResult] = []
        Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true) { sequential.append($0) }
        var parallel: [CheckResult] = []
        Merge.forEachBlock(
            inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true,
            workers: workers, rowsPerBlock: rows, produce: Merge.keepChecks, consume: { parallel += $0 })
        #expect(parallel.count == 60 * 59 * 4)
        #expect(parallel == sequential)

        let groups = CheckGroups(
            Results(
                toolVersion: head.toolVersion, profile: head.profile, startedAt: head.startedAt, durationMs: 1,
                timeoutMs: 2000, complete: true, nodes: head.nodes, checks: sequential))
        let one = JSONOutput(), many = JSONOutput()
        JSONReport.write(head, groups: groups, to: one) { each in
            Merge.forEachResult(inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true, each)
        }
        JSONReport.write(head, groups: groups, to: many) { emit in
            Merge.forEachBlock(
                inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true,
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
            try Merge.forEachBlock(
                inventory: cluster.inventory, profile: cluster.profile, gathered: gathered, complete: true,
                workers: 2, rowsPerBlock: 1,
                produce: { checks in
                    produced.add()
                    return JSONReport.checkBlock(checks)
                }
            ) { _ in
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
