import ArgumentParser
import Foundation
import SwarmProbeCommands
import SwarmProbeCoordinator
import SwarmProbeCore
import SwarmProbeReport

/// `swarmprobe-bench scale`: the coordinator's own work for a cluster of many nodes, without a
/// network. The evidence the agents would have returned is generated (with seeded faults, see
/// `SyntheticCluster`), recorded the way `check` records it, and decided, grouped and written by the
/// same code `check` uses; every verdict is compared with the generated ground truth.
struct ScaleBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Time planning, evidence merging, verdicts and reports for a generated cluster of many nodes (no network, no root).",
        discussion: """
            Prints per phase the wall time and the peak RSS so far, then the totals, the verdict counts, how many verdicts \
            match the generated faults (all must), and the JSON size.
            """
    )

    @Option(help: ArgumentHelp("Nodes in the generated cluster (16 to 5000).", valueName: "n"))
    var nodes: Int = 1000

    @Option(help: ArgumentHelp("Write the results JSON here (default: /dev/null; it is written either way).", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Write the markdown report here.", valueName: "file"))
    var report: String?

    @Flag(help: "Print the terminal report after the table.")
    var printReport = false

    @Option(
        help: ArgumentHelp(
            "Threads that decide checks and render their JSON besides the calling one (default: one per core, at most 8; 1: one).",
            valueName: "n"))
    var workers: Int = Merge.defaultWorkers

    @Option(help: ArgumentHelp("Seed of the generated nonces and ports.", valueName: "n"))
    var seed: UInt64 = 1

    @Flag(help: "For comparison: hold every check in one Results and render it in memory, as `check` did before streaming.")
    var materialize = false

    func validate() throws {
        guard (16...5000).contains(nodes) else { throw ValidationError("--nodes: \(nodes) is outside 16 to 5000") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers: \(workers) is outside 1 to 64") }
    }

    func run() throws {
        let bench = PhaseTimer()
        let profile = DefaultProfile.load()
        say(
            "swarmprobe-bench scale: \(nodes) nodes, profile \(profile.name) (\(plural(profile.enabledKinds.count, "kind"))), "
                + (materialize ? "all checks held in memory (--materialize)" : "streamed"))
        say("")
        say("| phase | wall (ms) | CPU (ms) | peak RSS so far (MiB) |")
        say("|:------|----------:|---------:|----------------------:|")

        let cluster = bench.phase("generate inventory and faults") { SyntheticCluster(nodes: nodes, profile: profile, seed: seed) }
        let inventory = cluster.inventory
        let (planned, required) = bench.phase("plan (every check, in order)") { () -> (Int, Int) in
            var n = 0, r = 0
            Planner.forEach(inventory: inventory, profile: profile) { c, _, _, _ in
                n += 1
                if c.required { r += 1 }
            }
            return (n, r)
        }

        var gathered = Gathered()
        bench.phase("hello answers (generate + record)") {
            for (i, node) in inventory.nodes.enumerated() {
                if cluster.down.contains(i) {
                    gathered.recordHealth(node, AgentHealth(.down, "connection refused (\(node.control))"))
                } else {
                    gathered.recordHello(node, cluster.hello(i), clockOffsetMs: i % 40 - 20)
                }
            }
        }
        var generateMs = 0.0, recordMs = 0.0, generateCPU = 0.0, recordCPU = 0.0
        bench.phase("run answers: generate (\(nodes - cluster.down.count) senders)", rows: false) {
            for (i, node) in inventory.nodes.enumerated() where !cluster.down.contains(i) {
                let t0 = PhaseTimer.now(), c0 = PhaseTimer.cpu()
                let response = cluster.run(i)
                let t1 = PhaseTimer.now(), c1 = PhaseTimer.cpu()
                gathered.recordRun(node, response, kinds: profile.enabledKinds)
                generateMs += t1 - t0
                recordMs += PhaseTimer.now() - t1
                generateCPU += c1 - c0
                recordCPU += PhaseTimer.cpu() - c1
            }
        }
        bench.row("run answers: generate", generateMs, generateCPU)
        bench.row("run answers: record (compact sender evidence)", recordMs, recordCPU)
        generateMs = 0
        recordMs = 0
        generateCPU = 0
        recordCPU = 0
        bench.phase("log answers", rows: false) {
            for (j, node) in inventory.nodes.enumerated() where !cluster.down.contains(j) {
                let t0 = PhaseTimer.now(), c0 = PhaseTimer.cpu()
                let response = cluster.log(j)
                let t1 = PhaseTimer.now(), c1 = PhaseTimer.cpu()
                gathered.recordLog(node, response)
                generateMs += t1 - t0
                recordMs += PhaseTimer.now() - t1
                generateCPU += c1 - c0
                recordCPU += PhaseTimer.cpu() - c1
            }
        }
        bench.row("log answers: generate (receive logs, capture records)", generateMs, generateCPU)
        bench.row("log answers: record (compact logs, capture indexes)", recordMs, recordCPU)

        let head = Results(
            toolVersion: SwarmProbeVersion.current, profile: profile.name, startedAt: "2026-11-27T00:00:00Z",
            durationMs: 2000, timeoutMs: 2000, complete: true,
            nodes: Merge.nodeResults(inventory: inventory, gathered: gathered), checks: [])
        var verify = ScaleVerification(cluster: cluster)
        let jsonPath = json ?? "/dev/null"
        var jsonSize = 0
        var groups = CheckGroups(nodes: head.nodes)
        var markdown = "", terminal = ""

        if materialize {
            let results = bench.phase("verdicts into one Results (every check held)") { () -> Results in
                var checks: [CheckResult] = []
                checks.reserveCapacity(planned)
                Merge.forEachResult(inventory: inventory, profile: profile, gathered: gathered, complete: true) { c in
                    verify.check(c)
                    checks.append(c)
                }
                var r = head
                r.checks = checks
                r.summary = Summary(checks: checks, complete: true)
                return r
            }
            let text = bench.phase("JSON (whole document in memory)") { JSONReport.render(results) }
            jsonSize = text.utf8.count
            try writeOutput(text, to: jsonPath, what: "--json")
            markdown = bench.phase("markdown report") { MarkdownReport.render(results) }
            terminal = bench.phase("terminal report") { TerminalReport.render(results, color: false) }
            groups = CheckGroups(results)
        } else {
            let threads = workers == 1 ? "1 thread" : "\(workers) threads"
            bench.phase("pass 1: merge + verdicts (\(threads)) + grouping") {
                Merge.forEachBlock(
                    inventory: inventory, profile: profile, gathered: gathered, complete: true, nonces: false,
                    workers: workers, produce: Merge.keepChecks
                ) { block in
                    for c in block {
                        verify.check(c)
                        groups.add(c)
                    }
                }
                groups.finish()
            }
            jsonSize = try bench.phase("pass 2: merge + verdicts + JSON (\(threads)), streamed") { () throws -> Int in
                let fd = open(jsonPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                guard fd >= 0 else { throw InputError(source: jsonPath, "--json: cannot open the file (\(String(cString: strerror(errno))))") }
                defer { close(fd) }
                let out = JSONOutput(fd: fd)
                JSONReport.write(head, groups: groups, to: out) { emit in
                    Merge.forEachBlock(
                        inventory: inventory, profile: profile, gathered: gathered, complete: true,
                        workers: workers, produce: JSONReport.checkBlock, consume: emit)
                }
                out.flush()
                if out.error != 0 { throw InputError(source: jsonPath, "--json: write failed (\(String(cString: strerror(out.error))))") }
                return out.size
            }
            markdown = bench.phase("markdown report (grouped)") { MarkdownReport.render(head: head, groups: groups) }
            terminal = bench.phase("terminal report (grouped)") { TerminalReport.render(head: head, groups: groups, color: false) }
        }
        if let report { try writeOutput(markdown, to: report, what: "--report") }

        let s = groups.summary(complete: true)
        say("| **total** | **\(Int(bench.total))** | **\(Int(bench.totalCPU))** | **\(PhaseTimer.peakRSSMiB())** |")
        say("")
        say("- checks: \(thousands(s.checks)) (planned \(thousands(planned)), \(thousands(required)) required)")
        say(
            "- verdicts: open \(thousands(s.open)), blocked \(thousands(s.blocked)) (network \(thousands(verify.byWhere[.network] ?? 0)), "
                + "host-firewall \(thousands(verify.byWhere[.hostFirewall] ?? 0)), return-path \(thousands(verify.byWhere[.returnPath] ?? 0)), "
                + "unknown \(thousands(verify.byWhere[.unknown] ?? 0))), closed \(thousands(s.closed)), agent-down \(thousands(s.agentDown)), "
                + "inconclusive \(thousands(s.inconclusive)); required not open \(thousands(s.requiredNotOpen))")
        say("- against the generated faults: \(thousands(verify.right)) right, \(thousands(verify.wrong)) wrong")
        for w in verify.examples { say("  - wrong: \(w)") }
        say("- peak RSS: \(PhaseTimer.peakRSSMiB()) MiB")
        say(
            "- JSON: \(thousands(jsonSize)) bytes (\(jsonSize >> 20) MiB) to \(jsonPath); markdown \(thousands(markdown.utf8.count)) bytes; "
                + "terminal \(thousands(terminal.utf8.count)) bytes")
        if printReport {
            say("")
            say(terminal, terminator: "")
        }
        if verify.wrong > 0 || s.checks != planned {
            throw InputError(source: "bench scale", "\(verify.wrong) verdicts differ from the generated faults")
        }
    }
}
