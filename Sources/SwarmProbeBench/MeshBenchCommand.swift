import ArgumentParser
import Foundation
import SwarmProbeCommands
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess

/// `swarmprobe-bench mesh`: the full-mesh benchmark. Per lab size, a healthy lab and a
/// faulted one (a seeded 25 % of the checks dropped or rejected, one agent not started), each timed,
/// measured (CPU, memory, packets) and scored against the lab's ground truth; on the faulted lab, nmap
/// and nc from every node, scored the same way.
struct MeshBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Full-mesh `check` on healthy and faulted namespace labs, against nmap and nc (needs root).",
        discussion: """
            Per size: a healthy lab and a faulted one (--fraction of the directed checks faulted with a seeded mix of \
            network drops, silent host-firewall drops and host-firewall rejects; from 8 nodes on one agent is not \
            started). Prints the scaling table (wall time against the probe timeout, coordinator CPU and peak RSS, \
            agents' CPU and RSS, packets, accuracy against the ground truth) and, with --peers, nmap and nc run from \
            every node on the same faulted lab with their confusion matrices. Markdown on stdout (BENCHMARKS.md quotes \
            it), progress on stderr when it is a terminal, every raw number with --json.
            """
    )

    @Option(help: ArgumentHelp("Lab sizes, comma-separated.", valueName: "n,n,..."))
    var sizes: String = "4,8,16,32"

    @Option(
        help: ArgumentHelp(
            "Passed verbatim to `check --timeout` (e.g. 1s, auto); not given: check's default. The effective timeout is read from the results.",
            valueName: "duration"))
    var timeout: String?

    @Option(
        help: ArgumentHelp(
            "Passed verbatim to `check --overlay-mtu` (`off`: no path MTU ladder, to see what it costs); not given: check's default.",
            valueName: "bytes|off"))
    var overlayMTU: String?

    @Option(help: ArgumentHelp("Checks per configuration (the table shows the median).", valueName: "n"))
    var runs: Int = 3

    @Option(help: ArgumentHelp("Fraction of the directed checks the faulted lab faults.", valueName: "f"))
    var fraction: Double = 0.25

    @Option(help: ArgumentHelp("Seed of the fault plan.", valueName: "n"))
    var seed: UInt64 = 1

    @Flag(inversion: .prefixedNo, help: "Run nmap (timing matched, and default) and an nc loop from every node of each faulted lab.")
    var peers = true

    @Flag(
        inversion: .prefixedNo,
        help:
            "Pin every lab address in every namespace's neighbour table first (see Lab.pinNeighbours: the host's ARP table is shared by all namespaces and overflows at 1024 entries; a 32-node lab needs 1,056)."
    )
    var pinNeighbours = true

    @Flag(help: "Also run the peers on the healthy labs.")
    var peersOnHealthy = false

    @Option(help: ArgumentHelp("Kill a peer tool still running after this long (its unanswered checks count as undecided).", valueName: "duration"))
    var peerTimeout: DurationArgument = DurationArgument(milliseconds: 300_000)

    @Option(
        help: ArgumentHelp("Run this agent-only binary (a `swarmprobe-agent` build) on the nodes instead of `swarmprobe agent`.", valueName: "path"))
    var agentBinary: String?

    @Option(
        help: ArgumentHelp(
            "After a lab's last check, leave the agents alone this long and read their resident sets again (an agent drops what its logs no longer need, and hands the freed memory back, 16 s after the last log it served); 0 skips.",
            valueName: "seconds"))
    var settle: Double = 18

    @Option(help: ArgumentHelp("Write every raw number as JSON here.", valueName: "file"))
    var json: String?

    @Option(
        help: ArgumentHelp(
            "Keep each check's results JSON, and each node's neighbour (ARP) statistics after it, in this directory.", valueName: "dir"))
    var keepResults: String?

    func validate() throws {
        guard parsedSizes != nil else { throw ValidationError("--sizes: \"\(sizes)\" must be numbers from 2 to 200 separated by commas") }
        guard (1...100).contains(runs) else { throw ValidationError("--runs: \(runs) is outside 1 to 100") }
        if let agentBinary, !FileManager.default.isExecutableFile(atPath: agentBinary) {
            throw ValidationError("--agent-binary: \(agentBinary) is not an executable file")
        }
        guard fraction >= 0 && fraction <= 0.9 else { throw ValidationError("--fraction: \(fraction) is outside 0 to 0.9") }
        if let timeout, timeout.isEmpty || timeout.hasPrefix("-") { throw ValidationError("--timeout: \"\(timeout)\" is not a duration") }
        guard settle.isFinite && (0...600).contains(settle) else { throw ValidationError("--settle: \(settle) is outside 0 to 600 seconds") }
    }

    var parsedSizes: [Int]? {
        let v = sizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil && (2...200).contains($0!) }) else { return nil }
        return v.map { $0! }
    }

    func run() async throws {
        if let why = Lab.canBuild() { throw InputError(source: "bench", "the namespace lab \(why)") }
        if peers {
            for tool in ["nmap", "nc"] where (try? Program.path(tool)) == nil {
                throw InputError(
                    source: "bench",
                    "--peers needs \(tool) (scripts/setup.sh --bench, or apt-get install -y nmap netcat-openbsd); --no-peers skips them")
            }
        }
        let binary = siblingExecutable("swarmprobe")
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw InputError(source: "bench", "swarmprobe-bench runs the swarmprobe built beside it, and \(binary) is missing: swift build")
        }
        let children = ChildRegistry()
        let teardown = SignalCancellation {
            children.killAll()
            LabRegistry.shared.destroyAll()
            Foundation.exit(130)
        }
        defer { teardown.stop() }

        var report = MeshBenchReport(
            command: CommandLine.arguments.map(Program.shellQuoted).joined(separator: " "),
            machine: .current(), sizes: parsedSizes!, timeout: timeout, runs: runs,
            fraction: fraction, seed: seed, peers: peers, pinNeighbours: pinNeighbours)
        print(report.headerMarkdown())
        print(MeshBenchReport.scalingHeader)
        for n in parsedSizes! {
            let managers = min(3, max(1, n / 4))
            for scenario in [
                LabScenario.healthy(nodes: n, managers: managers),
                LabScenario.faulted(nodes: n, managers: managers, fraction: fraction, seed: seed),
            ] {
                let config = try runConfiguration(scenario, binary: binary, children: children)
                report.configurations.append(config)
                print(config.scalingRow())
                if let json { try writeOutput(report.jsonText(), to: json, what: "--json") }
            }
        }
        print("")
        print(report.targetsMarkdown())
        print(report.peersMarkdown())
        print(report.wrongVerdictsMarkdown())
        if let json { try writeOutput(report.jsonText(), to: json, what: "--json") }
    }

    // MARK: - One lab

    private func runConfiguration(_ scenario: LabScenario, binary: String, children: ChildRegistry) throws -> MeshConfiguration {
        let n = scenario.nodes.count
        let faulted = !scenario.faults.isEmpty || !scenario.agentsDown.isEmpty
        progressLine("[\(scenario.name)] building a lab of \(n) nodes ...")
        var t0 = Date()
        let lab = try Lab(nodes: scenario.nodes)
        defer { lab.destroy() }
        if pinNeighbours { try lab.pinNeighbours() }
        let buildMs = Date().timeIntervalSince(t0) * 1000
        let token = try lab.write("token", ClusterToken.generate() + "\n")
        let inventory = try lab.write("inventory.yaml", lab.inventoryYAML())
        progressLine("[\(scenario.name)] starting \(n - scenario.agentsDown.count) agents ...")
        t0 = Date()
        let up = scenario.nodes.map(\.name).filter { !scenario.agentsDown.contains($0) }
        try lab.startAgents(binary: binary, tokenFile: token, only: up, leanBinary: agentBinary)
        let agentsMs = Date().timeIntervalSince(t0) * 1000
        t0 = Date()
        try lab.inject(scenario.faults)
        let injectMs = Date().timeIntervalSince(t0) * 1000
        if !scenario.faults.isEmpty { progressLine("[\(scenario.name)] \(scenario.faults.count) faults injected in \(Int(injectMs)) ms") }

        var config = MeshConfiguration(scenario: scenario, labBuildMs: buildMs, agentsStartMs: agentsMs, injectMs: injectMs)
        var lastResults: [Results] = []
        for r in 0..<runs {
            progressLine("[\(scenario.name)] check \(r + 1)/\(runs) ...")
            let (record, results, wrong) = try measureCheck(
                lab: lab, scenario: scenario, binary: binary, inventory: inventory,
                token: token, run: r, agents: up, children: children)
            config.runs.append(record)
            config.wrong += wrong
            lastResults.append(results)
        }
        if settle > 0 {
            progressLine("[\(scenario.name)] agents left alone for \(String(format: "%g", settle)) s ...")
            Thread.sleep(forTimeInterval: settle)
            config.settleMs = Int((settle * 1000).rounded())
            config.settledMemory = Dictionary(
                uniqueKeysWithValues: up.compactMap { name in
                    lab.agentPID(name).flatMap { ProcessMemory.read(pid: $0) }.map { (name, $0) }
                })
        }
        // Peers run against the run with the median wall time.
        let medianIndex = config.runs.indices.sorted { config.runs[$0].wallMs < config.runs[$1].wallMs }[config.runs.count / 2]
        if peers && (faulted || peersOnHealthy) {
            config.peers = try runPeers(
                lab: lab, scenario: scenario, results: lastResults[medianIndex],
                swarmprobe: config.runs[medianIndex], children: children)
        }
        if let keepResults {
            // The agents' own output (a crash or a refusal shows here), before the lab goes.
            for name in up {
                try? lab.agentLog(name).write(
                    toFile: URL(fileURLWithPath: keepResults).appendingPathComponent("\(scenario.name)-agent-\(name).log").path,
                    atomically: true, encoding: .utf8)
            }
        }
        lab.destroy()
        return config
    }

    private func measureCheck(
        lab: Lab, scenario: LabScenario, binary: String, inventory: String, token: String, run: Int,
        agents: [String], children: ChildRegistry
    ) throws -> (CheckRecord, Results, [WrongVerdict]) {
        let pids = agents.compactMap { name in lab.agentPID(name).map { (name, $0) } }
        var idle: [String: ProcessMemory] = [:], idleAnon: [String: Int] = [:], cpu0: [String: Double] = [:]
        for (name, pid) in pids {
            idle[name] = ProcessMemory.read(pid: pid)
            idleAnon[name] = ProcInfo.status(pid, "RssAnon")
            ProcInfo.resetPeakRSS(pid)
            cpu0[name] = ProcInfo.cpuSeconds(pid)
        }
        // Private memory has no high-water mark. What grows during a check is the anonymous memory (the
        // binary's private file pages are set at start), so its peak is sampled while the check runs.
        let sampler = PeakSampler.anonymous(pids.map(\.1))
        let packets0 = try lab.portCounters()
        let json = lab.directory.appendingPathComponent("results-\(run).json").path
        var args = [
            "ip", "netns", "exec", lab.switchNamespace, binary, "check", "--inventory", inventory,
            "--token-file", token, "--json", json, "--quiet",
        ]
        if let timeout { args += ["--timeout", timeout] }
        if let overlayMTU { args += ["--overlay-mtu", overlayMTU] }
        let child = try MeasuredProcess(args, directory: lab.directory, label: "check-\(run)", timeout: 600)
        children.add(child.pid)
        let m = child.wait()
        children.remove(child.pid)
        let sampled = sampler.stop()
        let packets1 = try lab.portCounters()
        var peak: [String: ProcessMemory] = [:], cpu: [String: Double] = [:]
        for (name, pid) in pids {
            // RSS's own high-water mark is exact; PSS and private rise by what the anonymous memory rose.
            if let before = idle[name], let anon = idleAnon[name], let top = sampled[pid] {
                let rise = max(0, top - anon)
                peak[name] = ProcessMemory(
                    rssKiB: ProcInfo.status(pid, "VmHWM") ?? before.rssKiB + rise,
                    pssKiB: before.pssKiB + rise, privateKiB: before.privateKiB + rise)
            }
            if let a = cpu0[name], let b = ProcInfo.cpuSeconds(pid) { cpu[name] = (b - a) * 1000 }
        }
        guard m.status != 2, let data = FileManager.default.contents(atPath: json) else {
            throw InputError(
                source: "bench", "check failed on \(scenario.name) (exit \(m.status)): \(m.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let results = try JSONDecoder().decode(Results.self, from: data)
        if let keepResults {
            try FileManager.default.createDirectory(atPath: keepResults, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: keepResults).appendingPathComponent("\(scenario.name)-run\(run + 1).json"))
            var neighbours = ""
            for node in lab.nodes {
                let stat = (try? Program.run(["ip", "netns", "exec", node.namespace, "cat", "/proc/net/stat/arp_cache"])) ?? ""
                let neigh = (try? Program.run(["ip", "-n", node.namespace, "-s", "neigh", "show"])) ?? ""
                neighbours += "== \(node.name) (\(node.address))\n\(stat)\(neigh)\n"
            }
            try neighbours.write(
                toFile: URL(fileURLWithPath: keepResults).appendingPathComponent("\(scenario.name)-run\(run + 1)-neigh.txt").path,
                atomically: true, encoding: .utf8)
        }
        var matrix = ConfusionMatrix()
        var wrong: [WrongVerdict] = []
        for c in results.checks {
            let (v, w) = scenario.expected(from: c.from, to: c.to, kind: c.kindID, capture: true)
            matrix.add(truth: TruthClass(verdict: v, location: w), answer: ToolAnswer(verdict: c.verdict, location: c.location))
            if c.verdict != v || c.location != w {
                wrong.append(
                    WrongVerdict(
                        scenario: scenario.name, run: run + 1, from: c.from, to: c.to, kind: c.kindID.description,
                        expected: label(v, w), got: label(c.verdict, c.location), detail: c.detail))
            }
        }
        let udpAttempts = results.checks.filter { $0.proto == .udp }.compactMap { $0.sender?.attempts }.max()
        let sent = packets1.reduce(UInt64(0)) { $0 + ($1.value.sentPackets &- (packets0[$1.key]?.sentPackets ?? 0)) }
        let bytes = packets1.reduce(UInt64(0)) { $0 + ($1.value.sentBytes &- (packets0[$1.key]?.sentBytes ?? 0)) }
        let record = CheckRecord(
            run: run + 1, exitStatus: m.status, wallMs: m.wallSeconds * 1000, durationMs: results.durationMs,
            timeoutMs: results.timeoutMs, udpAttempts: udpAttempts,
            coordinatorUserMs: m.userSeconds * 1000, coordinatorSystemMs: m.systemSeconds * 1000,
            coordinatorMaxRSSKiB: m.maxRSSKiB, agentCPUMs: cpu, agentIdleMemory: idle, agentPeakMemory: peak,
            packetsSent: sent, bytesSent: bytes, checks: results.checks.count, exact: matrix.exact, matrix: matrix,
            phasesMs: results.phasesMs)
        return (record, results, wrong)
    }

    private func label(_ v: Verdict, _ w: Where?) -> String { w.map { "\(v.rawValue)/\($0.rawValue)" } ?? v.rawValue }
}
