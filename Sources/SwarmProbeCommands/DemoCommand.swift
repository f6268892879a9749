import ArgumentParser
import Foundation
import SwarmProbeAgentCLI
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build a lab of network namespaces with injected faults, run real agents and a real check, and report.",
        discussion: """
            As root: four nodes (two managers, two workers) on a bridge, with a one-way network drop of VXLAN, \
            a host firewall rejecting gossip and swarm management, a return path that loses answers, and a published \
            port (8080/tcp) the load balancer cannot reach on two nodes; then a real check. Everything is removed on exit, Ctrl-C included. Without root: agents on 127.0.0.x and a \
            check of a healthy mesh. Exit code 0 when every verdict matches what the lab injected.
            """
    )

    @Option(help: ArgumentHelp("Also write the markdown report here.", valueName: "file"))
    var report: String?

    @Option(help: ArgumentHelp("Also write the results JSON here.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Probe timeout for the check: auto or a duration.", valueName: "auto|duration"))
    var timeout: TimeoutArgument = TimeoutArgument(.auto)

    func validate() throws {
        try timeout.validate(flag: "--timeout")
        if ssh && loopback { throw ValidationError("--ssh and --loopback: the SSH demo needs the namespace lab") }
    }

    @Flag(help: "Run the loopback demo even as root.")
    var loopback = false

    @Flag(help: "As root: start sshd on every lab node and run `check --ssh`, which puts the agents there and takes them off again.")
    var ssh = false

    func run() async throws {
        if ssh {
            if let why = Lab.canBuild() ?? LabSSH.unavailable() { throw CleanExit.message("swarmprobe demo --ssh: \(why)") }
            try runLab()
        } else if !loopback, let why = Lab.canBuild() {
            printError("swarmprobe demo: the namespace lab \(why); running agents on loopback instead.")
            try runLoopback()
        } else if loopback {
            try runLoopback()
        } else {
            try runLab()
        }
    }

    /// `token`: the agents' token file; nil for an SSH check (which makes its own).
    private func checkArguments(inventory: String, token: String?, dir: URL, published: [KindID] = []) -> [String] {
        var args = ["check", "--inventory", inventory] + (token.map { ["--token-file", $0] } ?? ["--ssh"])
        if !published.isEmpty {
            args += ["--published", published.map(\.description).joined(separator: ","), "--client-name", Lab.coordinator]
        }
        args += ["--timeout", timeout.argument, "--json", dir.appendingPathComponent("results.json").path]
        args += ["--report", report.map { absolute($0) } ?? dir.appendingPathComponent("report.md").path]
        return args
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    private func runLab() throws {
        let scenario = LabScenario.demo
        let binary = selfExecutable()
        // Ctrl-C while the check runs goes to the check, which stops, cleans up and writes what it has; before
        // or after it, the lab is removed at once.
        let running = RunningCheck()
        let teardown = SignalCancellation {
            if running.interrupt() { return }
            LabRegistry.shared.destroyAll()
            printError("\nswarmprobe demo: interrupted; the lab is removed.")
            Foundation.exit(130)
        }
        defer { teardown.stop() }
        printError("Building a lab of \(scenario.nodes.count) network namespaces on one bridge (198.18.0.0/16) ...")
        let lab = try Lab(nodes: scenario.nodes)
        defer { lab.destroy() }
        var arguments: [String]
        if ssh {
            let servers = try lab.startSSH()
            for n in lab.nodes { printError("  \(n.name) (\(n.role.rawValue)) \(n.address) in namespace \(n.namespace): sshd up, no agent") }
            let inventory = try lab.write("inventory.yaml", lab.inventoryYAML(sshUser: "root"))
            arguments = checkArguments(inventory: inventory, token: nil, dir: lab.directory, published: scenario.published)
            arguments += servers.sshOptions.flatMap { ["--ssh-option", $0] }
        } else {
            let inventory = try lab.write("inventory.yaml", lab.inventoryYAML())
            let token = try lab.write("token", ClusterToken.generate() + "\n")
            try lab.startAgents(
                binary: binary, tokenFile: token, extraArguments: PublishedTarget.agentArguments(scenario.published.map { PublishedTarget(port: $0) })
            )
            for n in lab.nodes { printError("  \(n.name) (\(n.role.rawValue)) \(n.address) in namespace \(n.namespace): agent up") }
            arguments = checkArguments(inventory: inventory, token: token, dir: lab.directory, published: scenario.published)
        }
        printError("Injecting faults:")
        for f in scenario.faults {
            try lab.inject(f)
            printError("  - \(f)")
        }
        printError("Running `swarmprobe \(ssh ? "check --ssh" : "check")` from the switch namespace ...\n")
        // Its progress goes straight to this terminal; its report is printed here after.
        let stdout = lab.directory.appendingPathComponent("check.out").path
        let check = try ChildProcess(["ip", "netns", "exec", lab.switchNamespace, binary] + arguments, stdout: .file(stdout), stderr: .inherit)
        running.set(check)
        let status = check.wait().status
        running.set(nil)
        print((try? String(contentsOfFile: stdout, encoding: .utf8)) ?? "", terminator: "")
        if status == 2 || !FileManager.default.fileExists(atPath: lab.directory.appendingPathComponent("results.json").path) {
            throw ExitCode(1)
        }
        let results = try readResults(lab.directory)
        try copyOutputs(lab.directory)
        // The demo checks itself: every verdict against what the lab injected.
        var mismatches: [String] = []
        // With capture taps on every node, silent drops get their layer; without, `unknown` is right.
        let capture = results.nodes.allSatisfy { $0.taps.contains { $0.tap == .interface && $0.active } }
        for c in results.checks {
            let (v, w) = scenario.expected(from: c.from, to: c.to, kind: c.kindID, capture: capture)
            if c.verdict != v || c.location != w {
                mismatches.append(
                    "\(c.from) -> \(c.to) \(c.kindID): expected \(v.rawValue)\(w.map { "/\($0.rawValue)" } ?? ""), got \(c.verdict.rawValue)\(c.location.map { "/\($0.rawValue)" } ?? "")"
                )
            }
            // And the path MTU of every data path that answered: what the faults let through, else all of it.
            if let m = c.pathMTU {
                let limit = scenario.expectedPathMTU(from: c.from, to: c.to)
                if limit.map({ m.bytes != $0 }) ?? m.tooSmall {
                    mismatches.append("\(c.from) -> \(c.to) path MTU: expected \(limit.map(String.init) ?? "what the overlay needs"), got \(m.bytes)")
                }
            }
        }
        print("")
        if mismatches.isEmpty {
            print(
                "demo: all \(results.checks.count) verdicts match the faults the lab injected (check took \(results.durationMs) ms with a \(results.timeoutMs) ms probe timeout)."
            )
        } else {
            print("demo: \(mismatches.count) of \(results.checks.count) verdicts differ from the injected faults:")
            mismatches.forEach { print("  \($0)") }
        }
        if report == nil { print("Add --report FILE to keep the markdown report.") }
        if !mismatches.isEmpty { throw ExitCode(1) }
    }

    private func runLoopback() throws {
        let scenario = LabScenario.healthy(nodes: 4, managers: 2)
        let binary = selfExecutable()
        let lab = try LoopbackLab(nodes: scenario.nodes)
        let teardown = SignalCancellation {
            lab.destroy()
            Foundation.exit(130)
        }
        defer {
            teardown.stop()
            lab.destroy()
        }
        let token = try lab.write("token", ClusterToken.generate() + "\n")
        let inventory = try lab.write("inventory.yaml", lab.inventoryYAML())
        printError("Starting \(lab.nodes.count) agents on 127.0.0.11-\(10 + lab.nodes.count) ...")
        try lab.startAgents(binary: binary, tokenFile: token)
        let run = try Program.capture([binary] + checkArguments(inventory: inventory, token: token, dir: lab.directory))
        print(run.stdout, terminator: "")
        if run.status == 2 {
            printError(run.stderr)
            throw ExitCode(1)
        }
        try copyOutputs(lab.directory)
        print(
            """

            This was a healthy mesh on loopback. As root, `swarmprobe demo` builds four network namespaces on a
            bridge and injects a one-way VXLAN drop in the network, a host firewall rejecting gossip and swarm
            management, and a stateless return path; the check then names each one: blocked, in which direction,
            and where (network, host-firewall, return-path).
            """)
        if run.status != 0 { throw ExitCode(run.status) }
    }

    private func readResults(_ dir: URL) throws -> Results {
        let data = try Data(contentsOf: dir.appendingPathComponent("results.json"))
        return try JSONDecoder().decode(Results.self, from: data)
    }

    private func copyOutputs(_ dir: URL) throws {
        if let json {
            try writeOutput(
                String(decoding: try Data(contentsOf: dir.appendingPathComponent("results.json")), as: UTF8.self), to: absolute(json), what: "--json")
        }
    }
}

/// The demo's check while it runs, so that a signal reaches it rather than tearing the lab down under it.
private final class RunningCheck: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var check: ChildProcess?

    func set(_ check: ChildProcess?) { lock.withLock { self.check = check } }

    /// Passes SIGINT to the running check; false when none runs.
    func interrupt() -> Bool {
        lock.withLock {
            check?.signal(SIGINT)
            return check != nil
        }
    }
}
