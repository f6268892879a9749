import ArgumentParser
import Foundation
import SwarmProbeCore
import SwarmProbeLab

/// `swarmprobe bench mesh`: the full-mesh benchmark (issue 5). Per lab size, a healthy lab and a
/// faulted one (a seeded 25 % of the checks dropped or rejected, one agent not started), each timed,
/// measured (CPU, memory, packets) and scored against the lab's ground truth; on the faulted lab, nmap
/// and nc from every node, scored the same way.
struct BenchMeshCommand: AsyncParsableCommand {
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

    @Option(help: ArgumentHelp("Passed verbatim to `check --timeout` (e.g. 1s, auto); not given: check's default. The effective timeout is read from the results.", valueName: "duration"))
    var timeout: String?

    @Option(help: ArgumentHelp("Checks per configuration (the table shows the median).", valueName: "n"))
    var runs: Int = 3

    @Option(help: ArgumentHelp("Fraction of the directed checks the faulted lab faults.", valueName: "f"))
    var fraction: Double = 0.25

    @Option(help: ArgumentHelp("Seed of the fault plan.", valueName: "n"))
    var seed: UInt64 = 1

    @Flag(inversion: .prefixedNo, help: "Run nmap (timing matched, and default) and an nc loop from every node of each faulted lab.")
    var peers = true

    @Flag(inversion: .prefixedNo, help: "Pin every lab address in every namespace's neighbour table first (see Lab.pinNeighbours: the host's ARP table is shared by all namespaces and overflows at 1024 entries; a 32-node lab needs 1,056).")
    var pinNeighbours = true

    @Flag(help: "Also run the peers on the healthy labs.")
    var peersOnHealthy = false

    @Option(help: ArgumentHelp("Kill a peer tool still running after this long (its unanswered checks count as undecided).", valueName: "duration"))
    var peerTimeout: Duration = Duration(milliseconds: 300_000)

    @Option(help: ArgumentHelp("Run this agent-only binary (a `swarmprobe-agent` build) on the nodes instead of `swarmprobe agent`.", valueName: "path"))
    var agentBinary: String?

    @Option(help: ArgumentHelp("After a lab's last check, leave the agents alone this long and read their resident sets again (an agent drops what its logs no longer need, and hands the freed memory back, 16 s after the last log it served); 0 skips.", valueName: "seconds"))
    var settle: Double = 18

    @Option(help: ArgumentHelp("Write every raw number as JSON here.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Keep each check's results JSON, and each node's neighbour (ARP) statistics after it, in this directory.", valueName: "dir"))
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
            for tool in ["nmap", "nc"] where (try? Shell.resolve(tool)) == nil {
                throw InputError(source: "bench", "--peers needs \(tool) (scripts/setup.sh --bench, or apt-get install -y nmap netcat-openbsd); --no-peers skips them")
            }
        }
        let binary = selfExecutable()
        let children = ChildRegistry()
        let teardown = SignalCancellation {
            children.killAll()
            LabRegistry.shared.destroyAll()
            Foundation.exit(130)
        }
        defer { teardown.stop() }

        var report = MeshBenchReport(command: CommandLine.arguments.map(shellQuoted).joined(separator: " "),
                                     machine: .current(), sizes: parsedSizes!, timeout: timeout, runs: runs,
                                     fraction: fraction, seed: seed, peers: peers, pinNeighbours: pinNeighbours)
        print(report.headerMarkdown())
        print(MeshBenchReport.scalingHeader)
        for n in parsedSizes! {
            let managers = min(3, max(1, n / 4))
            for scenario in [LabScenario.healthy(nodes: n, managers: managers),
                             LabScenario.faulted(nodes: n, managers: managers, fraction: fraction, seed: seed)] {
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
            let (record, results, wrong) = try measureCheck(lab: lab, scenario: scenario, binary: binary, inventory: inventory,
                                                            token: token, run: r, agents: up, children: children)
            config.runs.append(record)
            config.wrong += wrong
            lastResults.append(results)
        }
        if settle > 0 {
            progressLine("[\(scenario.name)] agents left alone for \(String(format: "%g", settle)) s ...")
            Thread.sleep(forTimeInterval: settle)
            config.settleMs = Int((settle * 1000).rounded())
            config.settledRSSKiB = Dictionary(uniqueKeysWithValues: up.compactMap { name in
                lab.agentPID(name).flatMap { ProcInfo.status($0, "VmRSS") }.map { (name, $0) }
            })
        }
        // Peers run against the run with the median wall time.
        let medianIndex = config.runs.indices.sorted { config.runs[$0].wallMs < config.runs[$1].wallMs }[config.runs.count / 2]
        if peers && (faulted || peersOnHealthy) {
            config.peers = try runPeers(lab: lab, scenario: scenario, results: lastResults[medianIndex],
                                        swarmprobe: config.runs[medianIndex], children: children)
        }
        if let keepResults {
            // The agents' own output (a crash or a refusal shows here), before the lab goes.
            for name in up {
                try? lab.agentLog(name).write(toFile: URL(fileURLWithPath: keepResults).appendingPathComponent("\(scenario.name)-agent-\(name).log").path,
                                              atomically: true, encoding: .utf8)
            }
        }
        lab.destroy()
        return config
    }

    private func measureCheck(lab: Lab, scenario: LabScenario, binary: String, inventory: String, token: String, run: Int,
                              agents: [String], children: ChildRegistry) throws -> (CheckRecord, Results, [WrongVerdict]) {
        let pids = agents.compactMap { name in lab.agentPID(name).map { (name, $0) } }
        var idle: [String: Int] = [:], cpu0: [String: Double] = [:]
        for (name, pid) in pids {
            idle[name] = ProcInfo.status(pid, "VmRSS")
            ProcInfo.resetPeakRSS(pid)
            cpu0[name] = ProcInfo.cpuSeconds(pid)
        }
        let packets0 = try lab.portCounters()
        let json = lab.directory.appendingPathComponent("results-\(run).json").path
        var args = ["ip", "netns", "exec", lab.switchNamespace, binary, "check", "--inventory", inventory,
                    "--token-file", token, "--json", json, "--quiet"]
        if let timeout { args += ["--timeout", timeout] }
        let child = try SpawnedProcess(args, directory: lab.directory, label: "check-\(run)", timeout: 600)
        children.add(child.pid)
        let m = child.wait()
        children.remove(child.pid)
        let packets1 = try lab.portCounters()
        var peak: [String: Int] = [:], cpu: [String: Double] = [:]
        for (name, pid) in pids {
            peak[name] = ProcInfo.status(pid, "VmHWM")
            if let a = cpu0[name], let b = ProcInfo.cpuSeconds(pid) { cpu[name] = (b - a) * 1000 }
        }
        guard m.status != 2, let data = FileManager.default.contents(atPath: json) else {
            throw InputError(source: "bench", "check failed on \(scenario.name) (exit \(m.status)): \(m.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let results = try JSONDecoder().decode(Results.self, from: data)
        if let keepResults {
            try FileManager.default.createDirectory(atPath: keepResults, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: keepResults).appendingPathComponent("\(scenario.name)-run\(run + 1).json"))
            var neighbours = ""
            for node in lab.nodes {
                let stat = (try? Shell.run(["ip", "netns", "exec", node.namespace, "cat", "/proc/net/stat/arp_cache"])) ?? ""
                let neigh = (try? Shell.run(["ip", "-n", node.namespace, "-s", "neigh", "show"])) ?? ""
                neighbours += "== \(node.name) (\(node.address))\n\(stat)\(neigh)\n"
            }
            try neighbours.write(toFile: URL(fileURLWithPath: keepResults).appendingPathComponent("\(scenario.name)-run\(run + 1)-neigh.txt").path,
                                 atomically: true, encoding: .utf8)
        }
        var matrix = ConfusionMatrix()
        var wrong: [WrongVerdict] = []
        for c in results.checks {
            let (v, w) = scenario.expected(from: c.from, to: c.to, kind: c.kindID, capture: true)
            matrix.add(truth: TruthClass(verdict: v, location: w), answer: ToolAnswer(verdict: c.verdict, location: c.location))
            if c.verdict != v || c.location != w {
                wrong.append(WrongVerdict(scenario: scenario.name, run: run + 1, from: c.from, to: c.to, kind: c.kindID.description,
                                          expected: label(v, w), got: label(c.verdict, c.location), detail: c.detail))
            }
        }
        let udpAttempts = results.checks.filter { $0.proto == .udp }.compactMap { $0.sender?.attempts }.max()
        let sent = packets1.reduce(UInt64(0)) { $0 + ($1.value.sentPackets &- (packets0[$1.key]?.sentPackets ?? 0)) }
        let bytes = packets1.reduce(UInt64(0)) { $0 + ($1.value.sentBytes &- (packets0[$1.key]?.sentBytes ?? 0)) }
        let record = CheckRecord(run: run + 1, exitStatus: m.status, wallMs: m.wallSeconds * 1000, durationMs: results.durationMs,
                                 timeoutMs: results.timeoutMs, udpAttempts: udpAttempts,
                                 coordinatorUserMs: m.userSeconds * 1000, coordinatorSystemMs: m.systemSeconds * 1000,
                                 coordinatorMaxRSSKiB: m.maxRSSKiB, agentCPUMs: cpu, agentIdleRSSKiB: idle, agentPeakRSSKiB: peak,
                                 packetsSent: sent, bytesSent: bytes, checks: results.checks.count, exact: matrix.exact, matrix: matrix,
                                 phasesMs: results.phasesMs)
        return (record, results, wrong)
    }

    private func label(_ v: Verdict, _ w: Where?) -> String { w.map { "\(v.rawValue)/\($0.rawValue)" } ?? v.rawValue }

    // MARK: - Peers

    private func runPeers(lab: Lab, scenario: LabScenario, results: Results, swarmprobe: CheckRecord,
                          children: ChildRegistry) throws -> [PeerRecord] {
        let kinds = Array(Set(results.checks.map(\.kindID))).filter { $0.proto != .esp }.sorted()
        let byAddress = Dictionary(uniqueKeysWithValues: lab.nodes.map { ($0.address.description, $0.name) })
        for address in byAddress.keys where !MeshBenchReport.isLabAddress(address) {
            throw InputError(source: "bench", "refusing to scan \(address): not a lab address (198.18.0.0/15)")
        }
        func truth(_ from: String, _ to: String, _ kind: KindID) -> TruthClass {
            let (v, w) = scenario.expected(from: from, to: to, kind: kind, capture: true)
            return TruthClass(verdict: v, location: w)
        }
        var out: [PeerRecord] = []
        // swarmprobe itself, from the check the peers are compared with.
        var own = PeerRecord(tool: "swarmprobe check", perNode: "(one coordinator)", wallMs: swarmprobe.wallMs,
                             packetsSent: swarmprobe.packetsSent, matrix: swarmprobe.matrix)
        own.note = "timeout \(swarmprobe.timeoutMs) ms"
        out.append(own)

        let timeoutMs = results.timeoutMs
        let attempts = max(1, swarmprobe.udpAttempts ?? 3)
        let tcpPorts = kinds.filter { $0.proto == .tcp }.compactMap(\.port).map(String.init).joined(separator: ",")
        let udpPorts = kinds.filter { $0.proto == .udp }.compactMap(\.port).map(String.init).joined(separator: ",")
        let portSpec = "T:\(tcpPorts),U:\(udpPorts)"
        let matched = ["--max-rtt-timeout", "\(timeoutMs)ms", "--initial-rtt-timeout", "\(max(1, timeoutMs / attempts))ms",
                       "--max-retries", "\(attempts - 1)"]
        for (tool, timing) in [("nmap (timing matched)", matched), ("nmap (defaults)", [String]())] {
            progressLine("[\(scenario.name)] \(tool) from every node ...")
            let perNode = (["nmap", "-n", "-Pn", "-sT", "-sU", "-p", portSpec] + timing + ["-oX", "-", "<other nodes>"]).joined(separator: " ")
            let (wall, runs, packets) = try concurrently(lab: lab, label: tool.hasSuffix("matched)") ? "nmap-matched" : "nmap-default",
                                                         children: children) { node in
                ["nmap", "-n", "-Pn", "-sT", "-sU", "-p", portSpec] + timing + ["-oX", "-"]
                    + lab.nodes.filter { $0.name != node.name }.map(\.address.description)
            }
            var matrix = ConfusionMatrix()
            var failures = 0, timedOut = 0
            for (node, run) in zip(lab.nodes, runs) {
                if run.timedOut { timedOut += 1 } else if run.status != 0 { failures += 1 }
                let nmap = NmapReport.parse(run.stdout)
                for other in lab.nodes where other.name != node.name {
                    for kind in kinds {
                        let state = nmap.state(other.address.description, kind.proto.rawValue, kind.port!)
                        matrix.add(truth: truth(node.name, other.name, kind), answer: ToolAnswer(nmapState: state))
                    }
                }
            }
            var record = PeerRecord(tool: tool, perNode: perNode, wallMs: wall, packetsSent: packets, matrix: matrix)
            record.failures = failures
            record.timedOut = timedOut
            out.append(record)
        }

        progressLine("[\(scenario.name)] nc loop from every node ...")
        let (wall, runs, packets) = try concurrently(lab: lab, label: "nc", children: children) { node in
            let targets = lab.nodes.filter { $0.name != node.name }.flatMap { other in kinds.map { (other.address.description, $0) } }
            return ["sh", "-c", NcResult.script(targets: targets.map { (address: $0.0, kind: $0.1) })]
        }
        var matrix = ConfusionMatrix()
        var timedOut = 0
        for (node, run) in zip(lab.nodes, runs) {
            if run.timedOut { timedOut += 1 }
            let answers = NcResult.parse(run.stdout)
            for other in lab.nodes where other.name != node.name {
                for kind in kinds {
                    let answer = answers[NmapReport.Key(address: other.address.description, proto: kind.proto.rawValue, port: kind.port!)] ?? .undecided
                    matrix.add(truth: truth(node.name, other.name, kind), answer: answer)
                }
            }
        }
        var nc = PeerRecord(tool: "nc loop", perNode: "nc -z [-u] -w 1 ADDR PORT, every peer and kind in turn", wallMs: wall,
                            packetsSent: packets, matrix: matrix)
        nc.timedOut = timedOut
        out.append(nc)
        _ = byAddress
        return out
    }

    /// Starts `command(node)` in every node's namespace at once, waits for all; wall time until the last is done.
    private func concurrently(lab: Lab, label: String, children: ChildRegistry,
                              _ command: (LabNode) -> [String]) throws -> (wallMs: Double, runs: [MeasuredRun], packetsSent: UInt64) {
        let packets0 = try lab.portCounters()
        let t0 = Date()
        var started: [SpawnedProcess] = []
        defer { for p in started { children.remove(p.pid) } }
        for (i, node) in lab.nodes.enumerated() {
            let p = try SpawnedProcess(["ip", "netns", "exec", node.namespace] + command(node), directory: lab.directory,
                                       label: "\(label)-\(i + 1)", timeout: Double(peerTimeout.milliseconds) / 1000)
            children.add(p.pid)
            started.append(p)
        }
        let runs = started.map { $0.wait() }
        let wall = Date().timeIntervalSince(t0) * 1000
        let packets1 = try lab.portCounters()
        let sent = packets1.reduce(UInt64(0)) { $0 + ($1.value.sentPackets &- (packets0[$1.key]?.sentPackets ?? 0)) }
        return (wall, runs, sent)
    }
}

/// Children of the bench still running, so a signal can end them (by pid, one by one).
final class ChildRegistry: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var pids: Set<Int32> = []
    func add(_ pid: Int32) { lock.withLock { _ = pids.insert(pid) } }
    func remove(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }
    func killAll() { for pid in lock.withLock({ pids }) { kill(pid, SIGKILL) } }
}

private func shellQuoted(_ s: String) -> String {
    let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_./=:,@%+"))
    if !s.isEmpty && s.unicodeScalars.allSatisfy({ safe.contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

// MARK: - What the bench records

struct WrongVerdict: Codable {
    var scenario: String
    var run: Int
    var from: String
    var to: String
    var kind: String
    var expected: String
    var got: String
    var detail: String
}

struct CheckRecord: Codable {
    var run: Int
    var exitStatus: Int32
    var wallMs: Double
    var durationMs: Int
    var timeoutMs: Int
    var udpAttempts: Int?
    var coordinatorUserMs: Double
    var coordinatorSystemMs: Double
    var coordinatorMaxRSSKiB: Int
    /// Per agent: utime + stime during the check, ms.
    var agentCPUMs: [String: Double]
    /// Per agent: VmRSS just before the check, KiB.
    var agentIdleRSSKiB: [String: Int]
    /// Per agent: VmHWM after the check (reset to the RSS just before it), KiB.
    var agentPeakRSSKiB: [String: Int]
    /// Packets every node sent during the check (its bridge port's rx), and bytes.
    var packetsSent: UInt64
    var bytesSent: UInt64
    var checks: Int
    var exact: Int
    var matrix: ConfusionMatrix
    /// The check's own account of its phases (ends, ms from its start).
    var phasesMs: PhaseTimes?
}

struct PeerRecord: Codable {
    var tool: String
    var perNode: String
    var wallMs: Double
    var packetsSent: UInt64
    var matrix: ConfusionMatrix
    var failures = 0
    var timedOut = 0
    var note: String?
    var accuracy: Double { matrix.accuracy }
}

struct MeshConfiguration: Codable {
    var nodes: Int
    var scenario: String
    var kind: String
    var managers: Int
    var faults: Int
    var networkDrops: Int
    var hostDrops: Int
    var hostRejects: Int
    var agentsDown: [String]
    var labBuildMs: Double
    var agentsStartMs: Double
    var injectMs: Double
    var runs: [CheckRecord] = []
    var wrong: [WrongVerdict] = []
    var peers: [PeerRecord] = []
    /// How long the agents were left alone after the last check (`--settle`), and their resident sets then.
    var settleMs: Int?
    var settledRSSKiB: [String: Int]?

    init(scenario: LabScenario, labBuildMs: Double, agentsStartMs: Double, injectMs: Double) {
        nodes = scenario.nodes.count
        self.scenario = scenario.name
        kind = scenario.faults.isEmpty && scenario.agentsDown.isEmpty ? "healthy" : "faulted"
        managers = scenario.nodes.count { $0.role == .manager }
        faults = scenario.faults.count
        networkDrops = scenario.faults.count { if case .networkDrop = $0 { return true } else { return false } }
        hostDrops = scenario.faults.count { if case .hostFirewall(_, _, _, false) = $0 { return true } else { return false } }
        hostRejects = scenario.faults.count { if case .hostFirewall(_, _, _, true) = $0 { return true } else { return false } }
        agentsDown = scenario.agentsDown
        self.labBuildMs = labBuildMs
        self.agentsStartMs = agentsStartMs
        self.injectMs = injectMs
    }

    func median<T: Comparable>(_ f: (CheckRecord) -> T) -> T {
        let v = runs.map(f).sorted()
        return v[v.count / 2]
    }
    func medianOver(_ f: (CheckRecord) -> [Double]) -> (max: Double, median: Double) {
        (median { f($0).max() ?? 0 }, median { r in let v = f(r).sorted(); return v.isEmpty ? 0 : v[v.count / 2] })
    }

    var wallMs: Double { median(\.wallMs) }
    var timeoutMs: Int { median(\.timeoutMs) }
    var wallTargetMs: Double { 1.5 * Double(timeoutMs) + 500 }
    var wallPass: Bool { wallMs <= wallTargetMs }
    var idleRSS: (max: Double, median: Double) { medianOver { $0.agentIdleRSSKiB.values.map { Double($0) / 1024 } } }
    var peakRSS: (max: Double, median: Double) { medianOver { $0.agentPeakRSSKiB.values.map { Double($0) / 1024 } } }
    /// Before the lab's first check: a fresh agent.
    var freshRSSMax: Double { (runs.first?.agentIdleRSSKiB.values.max()).map { Double($0) / 1024 } ?? 0 }
    /// Before the later checks, the last one's log served milliseconds earlier.
    var betweenRSSMax: Double? { runs.count > 1 ? runs.dropFirst().compactMap { $0.agentIdleRSSKiB.values.max() }.max().map { Double($0) / 1024 } : nil }
    /// Left alone `settleMs` after the last check.
    var settledRSSMax: Double? { settledRSSKiB?.values.max().map { Double($0) / 1024 } }
    /// Idle: fresh, and left alone after the checks (`--settle`); the agent between back-to-back checks still
    /// holds the last 15 s of its logs for a late log request (shown, not judged).
    var rssPass: Bool { freshRSSMax <= 30 && (settledRSSMax ?? 0) <= 30 && peakRSS.max <= 50 }
    /// The worst run's exact matches.
    var worstExact: Int { runs.map(\.exact).min() ?? 0 }
    var checks: Int { runs.first?.checks ?? 0 }

    func scalingRow() -> String {
        let f1 = { (x: Double) in String(format: "%.1f", x) }
        let cpu = median { $0.coordinatorUserMs + $0.coordinatorSystemMs }
        let agentsCPU = median { $0.agentCPUMs.values.reduce(0, +) }
        let faultText = kind == "healthy" ? "-" : "\(faults)" + (agentsDown.isEmpty ? "" : " + 1 agent down")
        // Each phase's length (hello; probes; logs), median over the runs.
        let ends = runs.compactMap(\.phasesMs)
        func med(_ f: (PhaseTimes) -> Int) -> Int { let v = ends.map(f).sorted(); return v.isEmpty ? 0 : v[v.count / 2] }
        let phases = ends.isEmpty ? "-" : "\(med { $0.hello }) / \(med { $0.probes - $0.hello }) / \(med { $0.logs - $0.probes })"
        let acc = checks == 0 ? "-" : "\(worstExact)/\(checks) (\(String(format: "%.1f", 100 * Double(worstExact) / Double(checks))) %)"
        return "| \(nodes) | \(kind) | \(checks) | \(faultText) | \(Int(wallMs.rounded())) | \(timeoutMs) | "
            + "\(String(format: "%.2f", wallMs / Double(max(1, timeoutMs)))) | \(wallPass ? "pass" : "FAIL") (<= \(Int(wallTargetMs))) | "
            + "\(phases) | \(Int(cpu.rounded())) | \(f1(Double(median(\.coordinatorMaxRSSKiB)) / 1024)) | \(Int(agentsCPU.rounded())) | "
            + "\(f1(idleRSS.max)) / \(f1(idleRSS.median)) | \(f1(peakRSS.max)) / \(f1(peakRSS.median)) | \(rssPass ? "pass" : "FAIL") | "
            + "\(median(\.packetsSent)) | \(acc) |"
    }
}

struct MeshBenchReport: Codable {
    struct Machine: Codable {
        var cores: Int
        var kernel: String
        var swift: String
        var build: String

        static func current() -> Machine {
            var u = utsname()
            uname(&u)
            let kernel = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            #if DEBUG
            let build = "debug"
            #else
            let build = "release"
            #endif
            return Machine(cores: ProcessInfo.processInfo.activeProcessorCount, kernel: "Linux \(kernel)", swift: swiftVersion(), build: build)
        }

        /// `swift --version` of the toolchain on PATH (what built this, on the project's machines), else the compiler's floor.
        static func swiftVersion() -> String {
            var env = ProcessInfo.processInfo.environment
            env["PATH"] = (env["PATH"].map { $0 + ":" } ?? "") + "/opt/swift/usr/bin:/usr/local/bin:/usr/bin"
            if let r = try? Shell.capture(["/usr/bin/env", "swift", "--version"], environment: env, timeout: 20), r.status == 0,
               let line = (r.stdout + r.stderr).split(separator: "\n").first(where: { $0.contains("Swift version") }),
               let range = line.range(of: #"Swift version [0-9.]+"#, options: .regularExpression) {
                return String(line[range].dropFirst("Swift version ".count))
            }
            #if compiler(>=6.3)
            return "6.3 or later"
            #else
            return "6.x"
            #endif
        }
    }

    var schema = "swarmprobe.bench-mesh/v1"
    var command: String
    var machine: Machine
    var sizes: [Int]
    var timeout: String?
    var runs: Int
    var fraction: Double
    var seed: UInt64
    var peers: Bool
    var pinNeighbours: Bool
    var configurations: [MeshConfiguration] = []

    init(command: String, machine: Machine, sizes: [Int], timeout: String?, runs: Int, fraction: Double, seed: UInt64, peers: Bool,
         pinNeighbours: Bool) {
        self.pinNeighbours = pinNeighbours
        self.command = command
        self.machine = machine
        self.sizes = sizes
        self.timeout = timeout
        self.runs = runs
        self.fraction = fraction
        self.seed = seed
        self.peers = peers
    }

    static func isLabAddress(_ text: String) -> Bool {
        let p = text.split(separator: ".").compactMap { Int($0) }
        return p.count == 4 && p[0] == 198 && (p[1] == 18 || p[1] == 19)
    }

    func jsonText() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(self), as: UTF8.self) + "\n"
    }

    func headerMarkdown() -> String {
        """
        ## swarmprobe bench mesh

        Command: `\(command)`

        Machine: \(machine.cores) cores, \(machine.kernel), Swift \(machine.swift), \(machine.build) build. \
        Probe timeout: \(timeout.map { "`--timeout \($0)` given to check" } ?? "check's default (none given)"); \
        \(runs) run(s) per configuration, median shown, accuracy of the worst run. \
        \(pinNeighbours ? "Neighbour (ARP) entries pinned in every namespace. " : "ARP left to the kernel (--no-pin-neighbours). ")Faulted labs: \
        \(Int((fraction * 100).rounded())) % of the directed checks faulted (seed \(seed)), rotating network drop / \
        silent host-firewall drop / host-firewall reject, and from 8 nodes on one agent not started.

        ### Full-mesh check: scaling

        Targets: wall <= 1.5 x timeout + 0.5 s; agent RSS <= 30 MiB idle and <= 50 MiB during the check (the 32-node \
        check is the target; smaller labs shown alike). *wall*: the `swarmprobe check` process; *hello / probes / logs*: \
        how long each phase took, from the results' `phases_ms` (the rest of the wall time is process start, \
        verdicts and writing); *coord CPU* user+sys \
        and *coord RSS* its peak (VmHWM, read every 5 ms); *agents CPU*: all agents' utime+stime during the check; agent RSS: VmRSS \
        before, VmHWM during (max / median over agents); *packets*: sent by all nodes during the check (bridge-port \
        counters); *accuracy*: checks with exactly the expected verdict and `where`.

        """
    }

    static let scalingHeader = """
        | nodes | lab | checks | faults | wall (ms) | timeout (ms) | wall / timeout | wall target | hello / probes / logs (ms) | coord CPU (ms) | coord RSS (MiB) | agents CPU (ms) | agent idle RSS max / med (MiB) | agent peak RSS max / med (MiB) | RSS target | packets | accuracy |
        |------:|:----|-------:|-------:|----------:|-------------:|---------------:|:------------|----------:|---------------:|----------------:|----------------:|------------:|------------:|:-----:|--------:|:---------|
        """

    func targetsMarkdown() -> String {
        var s = "### Targets\n\n"
        let wallFails = configurations.filter { !$0.wallPass }
        s += "- wall <= 1.5 x timeout + 0.5 s: " + (wallFails.isEmpty ? "pass on every lab" : "FAIL on " + wallFails.map { "\($0.nodes) \($0.kind) (\(Int($0.wallMs)) ms > \(Int($0.wallTargetMs)))" }.joined(separator: ", ")) + "\n"
        let largest = configurations.filter { $0.nodes == (sizes.max() ?? 0) }
        if let big = largest.max(by: { $0.peakRSS.max < $1.peakRSS.max }) {
            let f1 = { (x: Double) in String(format: "%.1f", x) }
            let fresh = largest.map(\.freshRSSMax).max() ?? 0
            let settled = largest.compactMap(\.settledRSSMax).max()
            let between = largest.compactMap(\.betweenRSSMax).max()
            s += "- agent RSS at \(big.nodes) nodes (worst lab), idle: fresh max \(f1(fresh)) MiB (<= 30: \(fresh <= 30 ? "pass" : "FAIL"))"
                + (settled.map { ", left alone \(String(format: "%g", Double(largest.first?.settleMs ?? 0) / 1000)) s after the last check max \(f1($0)) MiB (<= 30: \($0 <= 30 ? "pass" : "FAIL"))" } ?? "")
                + (between.map { "; between back-to-back checks (the last 15 s of logs still kept) max \(f1($0)) MiB" } ?? "") + "\n"
            s += "- agent RSS at \(big.nodes) nodes (worst lab), peak max \(f1(big.peakRSS.max)) MiB (<= 50: \(big.peakRSS.max <= 50 ? "pass" : "FAIL"))\n"
        }
        let inexact = configurations.filter { $0.worstExact != $0.checks }
        s += "- swarmprobe accuracy 100 %: " + (inexact.isEmpty ? "pass on every lab" : "FAIL on " + inexact.map { "\($0.nodes) \($0.kind) (\($0.checks - $0.worstExact) wrong)" }.joined(separator: ", ")) + "\n"
        for c in configurations where !c.peers.isEmpty {
            guard let own = c.peers.first else { continue }
            for p in c.peers.dropFirst() where p.tool.hasPrefix("nmap") {
                let speed = p.wallMs / max(1, own.wallMs)
                let ok = speed >= 10 && own.matrix.exact == own.matrix.total
                s += "- \(c.nodes) nodes \(c.kind), swarmprobe >= 10x faster than \(p.tool) with full accuracy: \(ok ? "pass" : "FAIL") (\(String(format: "%.1f", speed))x, accuracy \(String(format: "%.1f", own.accuracy * 100)) %)\n"
            }
        }
        return s
    }

    func peersMarkdown() -> String {
        var s = ""
        for c in configurations where !c.peers.isEmpty {
            let own = c.peers[0]
            s += "\n### Peers on the \(c.kind) \(c.nodes)-node lab (\(c.checks) checks, same lab, same run)\n\n"
            s += "Truth classes from the lab's fault plan: \(c.faults) faults (\(c.networkDrops) network drops, \(c.hostDrops) silent host-firewall drops, \(c.hostRejects) host-firewall rejects)"
            s += c.agentsDown.isEmpty ? ".\n\n" : ", agent not started on \(c.agentsDown.joined(separator: ", ")).\n\n"
            s += "| tool | per node | wall (ms) | wall / swarmprobe wall | packets | accuracy | notes |\n|:--|:--|--:|--:|--:|--:|:--|\n"
            for p in c.peers {
                var notes: [String] = []
                if let n = p.note { notes.append(n) }
                if p.failures > 0 { notes.append("\(p.failures) node(s) exited non-zero") }
                if p.timedOut > 0 { notes.append("\(p.timedOut) node(s) killed at the peer timeout") }
                s += "| \(p.tool) | `\(p.perNode)` | \(Int(p.wallMs.rounded())) | \(String(format: "%.1f", p.wallMs / max(1, own.wallMs))) | \(p.packetsSent) | "
                    + "\(p.matrix.exact)/\(p.matrix.total) (\(String(format: "%.1f", p.accuracy * 100)) %) | \(notes.joined(separator: "; ")) |\n"
            }
            for p in c.peers {
                s += "\n#### \(p.tool), \(c.nodes) nodes: truth (rows) x answer (columns)\n\n" + p.matrix.markdown()
            }
        }
        if !s.isEmpty {
            s += "\nAnswer mapping: nmap open -> open, filtered -> blocked (layer unknown), closed -> closed/refused, open|filtered -> undecided; "
                + "nc exit 0 -> open (`nc -u -z` also exits 0 on silence), refused -> closed/refused, timeout -> blocked (layer unknown); "
                + "swarmprobe blocked/return-path or /unknown -> blocked (layer unknown), inconclusive -> undecided. Bold: the exact class.\n"
        }
        return s
    }

    func wrongVerdictsMarkdown() -> String {
        let all = configurations.flatMap(\.wrong)
        var s = "\n### swarmprobe verdicts that differ from the ground truth\n\n"
        if all.isEmpty { return s + "None.\n" }
        s += "| lab | run | from | to | kind | expected | got | detail |\n|:--|--:|:--|:--|:--|:--|:--|:--|\n"
        for w in all.prefix(200) {
            s += "| \(w.scenario) | \(w.run) | \(w.from) | \(w.to) | \(w.kind) | \(w.expected) | \(w.got) | \(w.detail.replacingOccurrences(of: "|", with: "\\|")) |\n"
        }
        if all.count > 200 { s += "\n(\(all.count - 200) more in --json)\n" }
        return s
    }
}
