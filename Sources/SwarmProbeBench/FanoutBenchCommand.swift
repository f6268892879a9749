import ArgumentParser
import Foundation
import SwarmProbeAgent
import SwarmProbeAgentCLI
import SwarmProbeCommands
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess

/// `swarmprobe-bench fanout`: what probing a thousand peers costs one agent.
///
/// Runs in its own network namespace (so its loopback and ports are its own): one real agent on
/// 127.0.0.11, and a farm answering for `--peers` loopback addresses (127.1.x.y) exactly as agents
/// there would; `--silent` percent of them get no listener and an nftables drop on the swarm ports
/// (their control port still refuses at once, as a node without an agent does), so their probes wait
/// out the timeout (the expensive case). A real `check` drives it; the peers have no control endpoint,
/// so their own checks are agent-down and only the one agent's plan runs.
struct FanoutBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Measure one agent probing many peers (default 999) on loopback (needs root).",
        discussion: "Prints the check's wall time, the agent's CPU time, memory and open files, and what came back. BENCHMARKS.md quotes it."
    )

    @Option(help: ArgumentHelp("Peers the agent probes.", valueName: "n"))
    var peers: Int = 999

    @Option(help: ArgumentHelp("Percent of the peers that drop everything silently.", valueName: "percent"))
    var silent: Int = 25

    @Option(help: ArgumentHelp("The check's --timeout (auto or a duration).", valueName: "auto|duration"))
    var timeout: TimeoutArgument = TimeoutArgument(.auto)

    @Flag(help: "Run the agent without capture taps.")
    var noCapture = false

    @Option(help: .hidden)
    var insideNamespace: String?

    func validate() throws {
        guard (1...4000).contains(peers) else { throw ValidationError("--peers: \(peers) is outside 1 to 4000") }
        guard (0...100).contains(silent) else { throw ValidationError("--silent: \(silent) is outside 0 to 100") }
        try timeout.validate(flag: "--timeout")
    }

    func run() async throws {
        if insideNamespace != nil { return try await measure() }
        if let why = Lab.canBuild() { throw InputError(source: "bench fanout", "the namespace \(why)") }
        // A namespace of our own: its loopback, its ports, its nftables; removed on every exit.
        let ns = "spf" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
        try Program.run(["ip", "netns", "add", ns])
        let teardown = SignalCancellation {
            _ = try? Program.run(["ip", "netns", "delete", ns])
            Foundation.exit(130)
        }
        defer {
            teardown.stop()
            _ = try? Program.run(["ip", "netns", "delete", ns])
        }
        try Program.run(["ip", "-n", ns, "link", "set", "lo", "up"])
        var args = [
            selfExecutable(), "fanout", "--peers", "\(peers)", "--silent", "\(silent)",
            "--timeout", timeout.argument, "--inside-namespace", ns,
        ]
        if noCapture { args.append("--no-capture") }
        // Its output goes straight to this terminal: the child inherits neither pipe nor file.
        let status = try Program.passthrough(["ip", "netns", "exec", ns] + args)
        if status != 0 { throw ExitCode(status) }
    }

    private func measure() async throws {
        _ = Agent.raiseOpenFileLimit()
        let lab = try LoopbackLab(nodes: [("a0", .manager)])
        defer { lab.destroy() }
        let agentAddress = lab.nodes[0].address
        let addresses = (0..<peers).map { i in IPAddress.v4(127, 1, UInt8(i / 250), UInt8(1 + i % 250)) }
        let silentCount = peers * silent / 100
        let quiet = Array(addresses.suffix(silentCount)), answering = Array(addresses.prefix(peers - silentCount))

        var inventory = "nodes:\n  - name: a0\n    address: \(agentAddress)\n    role: manager\n"
        for (i, a) in addresses.enumerated() { inventory += "  - name: p\(i + 1)\n    address: \(a)\n    role: worker\n" }
        let inventoryFile = try lab.write("inventory.yaml", inventory)
        let tokenFile = try lab.write("token", ClusterToken.generate() + "\n")
        let token = try ClusterToken.load(path: tokenFile)
        if !quiet.isEmpty {
            let set = quiet.map(\.description).joined(separator: ", ")
            try Program.run(
                ["nft", "-f", "-"],
                input: """
                    table inet spfanout {
                      set silent { type ipv4_addr; elements = { \(set) } }
                      chain input { type filter hook input priority 0; policy accept; ip daddr @silent tcp dport != \(Defaults.controlPort) drop; ip daddr @silent meta l4proto != tcp drop; }
                    }

                    """)
        }
        progressLine("fanout: opening \(answering.count * 4) listeners for \(answering.count) answering peers ...")
        let farm = try await ProbeFarm.start(addresses: answering, profile: DefaultProfile.load(), token: token)
        defer { Task { await farm.stop() } }
        try lab.startAgents(binary: siblingExecutable("swarmprobe"), tokenFile: tokenFile, extraArguments: noCapture ? ["--no-capture"] : [])
        guard let pid = lab.agentPID("a0"), let idle = ProcessStats.read(pid: pid) else {
            throw InputError(source: "bench fanout", "the agent did not start: \(lab.agentLog("a0"))")
        }
        let packetsBefore = loopbackPackets()
        progressLine("fanout: the agent probes \(peers) peers x 4 kinds (\(silentCount) peers silent) ...")
        ProcInfo.resetPeakRSS(pid)  // VmHWM from here on is the check's peak
        let files = PeakSampler.openFiles(pid)
        let idleAnon = ProcInfo.status(pid, "RssAnon") ?? 0
        let anonymous = PeakSampler.anonymous([pid])
        let json = lab.directory.appendingPathComponent("results.json").path
        let t0 = Date()
        let check = try Program.capture(
            [
                siblingExecutable("swarmprobe"), "check", "--inventory", inventoryFile, "--token-file", tokenFile,
                "--timeout", timeout.argument, "--json", json, "--quiet",
            ], timeout: 300)
        let wall = Date().timeIntervalSince(t0)
        let peakFiles = files.stop()[pid] ?? 0
        let rise = max(0, (anonymous.stop()[pid] ?? idleAnon) - idleAnon)
        guard let after = ProcessStats.read(pid: pid), FileManager.default.fileExists(atPath: json) else {
            throw InputError(source: "bench fanout", "the check failed (exit \(check.status)): \(check.stderr)")
        }
        let packets = loopbackPackets() - packetsBefore
        // The agent logs how long its part took: "... probes done in N ms".
        let runMs = lab.agentLog("a0").components(separatedBy: "probes done in ").dropFirst().last
            .flatMap { Int($0.prefix { $0.isNumber }) }
        // The results of a thousand nodes are four million checks (about 2 GiB): read them as the stream
        // they are written as, one check per line, and decode only the agent's own.
        let quietSet = Set(quiet.map(\.description))
        let byName = Dictionary(uniqueKeysWithValues: (0..<peers).map { ("p\($0 + 1)", addresses[$0].description) })
        var answered = 0, timedOut = 0, wrong = 0, tries = 0, checks = 0
        var timeoutMs = 0, policy = "-", inChecks = false
        let decoder = JSONDecoder()
        try forEachLine(json) { line in
            if inChecks && line.hasPrefix("    {") {
                checks += 1
                guard line.hasPrefix("    {\"from\":\"a0\"") else { return }
                let c = try decoder.decode(CheckResult.self, from: Data((line.hasSuffix(",") ? line.dropLast() : line[...]).utf8))
                guard let s = c.sender else { wrong += 1; return }
                tries += s.attempts
                let isQuiet = quietSet.contains(byName[c.to] ?? "")
                switch s.outcome {
                case .answered where !isQuiet: answered += 1
                case .timeout where isQuiet: timedOut += 1
                default:
                    wrong += 1
                    printError("fanout: wrong: a0 -> \(c.to) \(c.kindID): \(s.outcome) \(s.detail ?? "") (\(isQuiet ? "silent" : "answering") peer)")
                }
            } else if line.hasPrefix("  \"checks\" : [") {
                inChecks = true
            } else if line.hasPrefix("  \"timeout_ms\" : ") {
                timeoutMs = Int(line.dropFirst(17).prefix { $0.isNumber }) ?? 0
            } else if line.hasPrefix("  \"timeout_policy\" : \"") {
                policy = String(line.dropFirst(22).prefix { $0 != "\"" })
            }
        }
        let probes = answered + timedOut + wrong
        print("swarmprobe-bench fanout --peers \(peers) --silent \(silent) --timeout \(timeout.argument)\(noCapture ? " --no-capture" : "")")
        print(
            "one agent (capture \(noCapture ? "off" : "on")), \(peers) loopback peers x 4 kinds = \(probes) probes; \(answering.count) peers answer, \(silentCount) drop silently; probe timeout \(timeoutMs) ms (\(policy))"
        )
        print("")
        print("| measure | value |")
        print("|---|---:|")
        print(
            "| the agent's run (all \(probes) probes decided) | \(runMs.map { "\($0) ms (\(String(format: "%.2f", Double($0) / Double(timeoutMs))) x timeout)" } ?? "?") |"
        )
        print("| whole check wall time (hello, run, logs, \(checks) verdicts, JSON) | \(Int(wall * 1000)) ms |")
        print("| probes answered / timed out / wrong | \(answered) / \(timedOut) / \(wrong) |")
        print("| tries sent (datagrams + TCP connections) | \(tries) |")
        print("| agent CPU time during the check | \(Int((after.cpuSeconds - idle.cpuSeconds) * 1000)) ms |")
        print("| agent resident memory idle / peak | \(idle.rssKiB / 1024) MiB / \(after.peakRSSKiB / 1024) MiB |")
        func mib(_ kib: Int?) -> String { kib.map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "?" }
        print("| agent PSS idle / peak | \(mib(idle.memory?.pssKiB)) / \(mib(idle.memory.map { $0.pssKiB + rise })) |")
        print("| agent private memory idle / peak | \(mib(idle.memory?.privateKiB)) / \(mib(idle.memory.map { $0.privateKiB + rise })) |")
        print("| agent open files idle / peak | \(idle.openFiles) / \(peakFiles) |")
        print("| loopback packets during the check | \(packets) |")
        if wrong > 0 { throw ExitCode(1) }
    }

    /// Calls `body` with each line of the file at `path` (without its newline), reading 1 MiB at a time.
    private func forEachLine(_ path: String, _ body: (Substring) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InputError(source: path, "cannot read the check's results")
        }
        defer { try? handle.close() }
        var pending = Data()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            pending.append(chunk)
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: 0x0A) {
                try body(Substring(decoding: pending[start..<nl], as: UTF8.self))
                start = pending.index(after: nl)
            }
            pending = Data(pending[start...])
        }
        if !pending.isEmpty { try body(Substring(decoding: pending, as: UTF8.self)) }
    }

    private func loopbackPackets() -> Int {
        Int(
            (try? String(contentsOfFile: "/sys/class/net/lo/statistics/tx_packets", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
    }
}
