import ArgumentParser
import Foundation
import SwarmProbeCoordinator
import SwarmProbeCore
import SwarmProbeReport

/// `swarmprobe bench scale`: the coordinator's own work for a cluster of many nodes, without a
/// network. The evidence the agents would have returned is generated (with seeded faults, see
/// `SyntheticCluster`), recorded the way `check` records it, and decided, grouped and written by the
/// same code `check` uses; every verdict is compared with the generated ground truth.
struct BenchScaleCommand: ParsableCommand {
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

    @Option(help: ArgumentHelp("Threads that decide checks and render their JSON besides the calling one (default: one per core, at most 8; 1: one).",
                               valueName: "n"))
    var workers: Int = Merge.defaultWorkers

    @Option(help: ArgumentHelp("Seed of the generated nonces and ports.", valueName: "n"))
    var seed: UInt64 = 1

    @Flag(help: "For comparison: hold every check in one Results and render it in memory, as `check` did before streaming.")
    var materialize = false

    @Flag(help: "For comparison: the evidence store, merge and JSON encoder as they were before the compact representation (implies the in-memory path; no markdown or terminal report).")
    var legacy = false

    func validate() throws {
        guard (16...5000).contains(nodes) else { throw ValidationError("--nodes: \(nodes) is outside 16 to 5000") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers: \(workers) is outside 1 to 64") }
    }

    func run() throws {
        let bench = ScaleBench()
        let profile = DefaultProfile.load()
        say("swarmprobe bench scale: \(nodes) nodes, profile \(profile.name) (\(plural(profile.enabledKinds.count, "kind"))), "
            + (legacy ? "the representation before the compact one (--legacy)" : materialize ? "all checks held in memory (--materialize)" : "streamed"))
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
        var old = LegacyGathered()
        bench.phase("hello answers (generate + record)") {
            for (i, node) in inventory.nodes.enumerated() {
                if cluster.down.contains(i) {
                    let h = AgentHealth(.down, "connection refused (\(node.control))")
                    if legacy { old.recordHealth(node, h) } else { gathered.recordHealth(node, h) }
                } else if legacy {
                    old.recordHello(node, cluster.hello(i), clockOffsetMs: i % 40 - 20)
                } else {
                    gathered.recordHello(node, cluster.hello(i), clockOffsetMs: i % 40 - 20)
                }
            }
        }
        var generateMs = 0.0, recordMs = 0.0, generateCPU = 0.0, recordCPU = 0.0
        bench.phase("run answers: generate (\(nodes - cluster.down.count) senders)", rows: false) {
            for (i, node) in inventory.nodes.enumerated() where !cluster.down.contains(i) {
                let t0 = ScaleBench.now(), c0 = ScaleBench.cpu()
                let response = cluster.run(i)
                let t1 = ScaleBench.now(), c1 = ScaleBench.cpu()
                if legacy { old.recordRun(node, response, kinds: profile.enabledKinds) } else { gathered.recordRun(node, response, kinds: profile.enabledKinds) }
                generateMs += t1 - t0
                recordMs += ScaleBench.now() - t1
                generateCPU += c1 - c0
                recordCPU += ScaleBench.cpu() - c1
            }
        }
        bench.row("run answers: generate", generateMs, generateCPU)
        bench.row(legacy ? "run answers: record (as before)" : "run answers: record (compact sender evidence)", recordMs, recordCPU)
        generateMs = 0
        recordMs = 0
        generateCPU = 0
        recordCPU = 0
        bench.phase("log answers", rows: false) {
            for (j, node) in inventory.nodes.enumerated() where !cluster.down.contains(j) {
                let t0 = ScaleBench.now(), c0 = ScaleBench.cpu()
                let response = cluster.log(j)
                let t1 = ScaleBench.now(), c1 = ScaleBench.cpu()
                if legacy { old.recordLog(node, response) } else { gathered.recordLog(node, response) }
                generateMs += t1 - t0
                recordMs += ScaleBench.now() - t1
                generateCPU += c1 - c0
                recordCPU += ScaleBench.cpu() - c1
            }
        }
        bench.row("log answers: generate (receive logs, capture records)", generateMs, generateCPU)
        bench.row(legacy ? "log answers: record (as before)" : "log answers: record (compact logs, capture indexes)", recordMs, recordCPU)

        var head = Results(toolVersion: SwarmProbeVersion.current, profile: profile.name, startedAt: "2026-11-27T00:00:00Z",
                           durationMs: 2000, timeoutMs: 2000, complete: true,
                           nodes: Merge.nodeResults(inventory: inventory, gathered: gathered), checks: [])
        if legacy {
            head.nodes = inventory.nodes.enumerated().map { i, n in
                cluster.down.contains(i) ? NodeResult(node: n, agent: AgentHealth(.down, "connection refused (\(n.control))"))
                    : NodeResult(node: n, agent: .up, agentVersion: SwarmProbeVersion.current, listeners: cluster.hello(i).listeners,
                                 taps: cluster.hello(i).taps, clockOffsetMs: i % 40 - 20)
            }
        }
        var verify = Verification(cluster: cluster)
        let jsonPath = json ?? "/dev/null"
        var jsonSize = 0
        var groups = CheckGroups(nodes: head.nodes)
        var markdown = "", terminal = ""

        if legacy {
            let results = bench.phase("verdicts into one Results (merge as before)") {
                LegacyMerge.results(inventory: inventory, profile: profile, gathered: old, head: head)
            }
            for c in results.checks { verify.check(c) }
            let text = try bench.phase("JSON (Foundation's encoder, whole document, as before)") { () throws -> String in
                String(decoding: try WireJSON.encoder(pretty: true).encode(results), as: UTF8.self) + "\n"
            }
            jsonSize = text.utf8.count
            try writeOutput(text, to: jsonPath, what: "--json")
            groups = CheckGroups(results)
        } else if materialize {
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
                Merge.forEachBlock(inventory: inventory, profile: profile, gathered: gathered, complete: true, nonces: false,
                                   workers: workers, produce: Merge.keepChecks) { block in
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
                    Merge.forEachBlock(inventory: inventory, profile: profile, gathered: gathered, complete: true,
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
        say("| **total** | **\(Int(bench.total))** | **\(Int(bench.totalCPU))** | **\(ScaleBench.peakRSSMiB())** |")
        say("")
        say("- checks: \(thousands(s.checks)) (planned \(thousands(planned)), \(thousands(required)) required)")
        say("- verdicts: open \(thousands(s.open)), blocked \(thousands(s.blocked)) (network \(thousands(verify.byWhere[.network] ?? 0)), "
            + "host-firewall \(thousands(verify.byWhere[.hostFirewall] ?? 0)), return-path \(thousands(verify.byWhere[.returnPath] ?? 0)), "
            + "unknown \(thousands(verify.byWhere[.unknown] ?? 0))), closed \(thousands(s.closed)), agent-down \(thousands(s.agentDown)), "
            + "inconclusive \(thousands(s.inconclusive)); required not open \(thousands(s.requiredNotOpen))")
        say("- against the generated faults: \(thousands(verify.right)) right, \(thousands(verify.wrong)) wrong")
        for w in verify.examples { say("  - wrong: \(w)") }
        say("- peak RSS: \(ScaleBench.peakRSSMiB()) MiB")
        say("- JSON: \(thousands(jsonSize)) bytes (\(jsonSize >> 20) MiB) to \(jsonPath); markdown \(thousands(markdown.utf8.count)) bytes; "
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

/// Phase timing and memory.
final class ScaleBench {
    private(set) var total = 0.0
    private(set) var totalCPU = 0.0

    /// User + system CPU time of this process, ms: less moved by other work on a shared machine than wall time.
    static func cpu() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
    }

    /// getrusage's ru_maxrss: the peak resident set of this process, in MiB.
    static func peakRSSMiB() -> Int {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Int(u.ru_maxrss) / 1024
    }

    @discardableResult
    func phase<T>(_ name: String, rows: Bool = true, _ body: () throws -> T) rethrows -> T {
        let t0 = ScaleBench.now(), c0 = ScaleBench.cpu()
        let v = try body()
        let ms = ScaleBench.now() - t0, cpu = ScaleBench.cpu() - c0
        if rows { row(name, ms, cpu) }
        total += ms
        totalCPU += cpu
        return v
    }

    func row(_ name: String, _ ms: Double, _ cpu: Double) {
        say("| \(name) | \(Int(ms.rounded())) | \(Int(cpu.rounded())) | \(ScaleBench.peakRSSMiB()) |")
    }
}

/// Every verdict against the fault it was generated from.
struct Verification {
    let cluster: SyntheticCluster
    let kindNames: [String]
    var right = 0, wrong = 0
    var byWhere: [Where: Int] = [:]
    var examples: [String] = []

    init(cluster: SyntheticCluster) {
        self.cluster = cluster
        kindNames = cluster.kinds.map(\.name)
    }

    mutating func check(_ c: CheckResult) {
        if let w = c.location { byWhere[w, default: 0] += 1 }
        guard let i = SyntheticCluster.index(c.from), let j = SyntheticCluster.index(c.to), let k = kindNames.firstIndex(of: c.kind) else {
            wrong += 1
            return
        }
        let fate = cluster.fate(from: i, to: j, kind: k)
        let (v, w) = fate.expected
        if c.verdict == v && c.location == w {
            right += 1
        } else {
            wrong += 1
            if examples.count < 5 {
                examples.append("\(c.from) -> \(c.to) \(c.kind): \(c.verdict.rawValue)/\(c.location?.rawValue ?? "-"), expected \(v.rawValue)/\(w?.rawValue ?? "-") (\(fate)): \(c.detail)")
            }
        }
    }
}

/// Straight to stdout, unbuffered, so a long phase shows the rows before it.
func say(_ s: String, terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((s + terminator).utf8))
}
