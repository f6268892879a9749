import ArgumentParser
import Foundation
import SwarmProbeAgentCLI
import SwarmProbeCommands
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess

/// `swarmprobe-bench ssh`: from the command to the report with `check --ssh`, split into setup, check and cleanup,
/// and how many SSH connections each node saw.
struct SSHBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssh",
        abstract: "Time `check --ssh` on namespace labs with sshd in every node: setup, check, cleanup, SSH connections per node (needs root).",
        discussion:
            "A healthy lab per size; `swarmprobe check --ssh` runs under a pseudo-terminal (`script`) so that it prints its phase times, and each node's sshd log counts the connections it accepted."
    )

    @Option(help: ArgumentHelp("Lab sizes, comma-separated.", valueName: "n,n,..."))
    var nodes: String = "4,12"

    @Option(help: ArgumentHelp("Checks per size; the table gives the median.", valueName: "n"))
    var runs: Int = 3

    var sizes: [Int]? {
        let v = nodes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil && (2...64).contains($0!) }) else { return nil }
        return v.map { $0! }
    }

    func validate() throws {
        guard sizes != nil else { throw ValidationError("--nodes: \"\(nodes)\" must be numbers from 2 to 64 separated by commas") }
        guard (1...50).contains(runs) else { throw ValidationError("--runs: \(runs) is outside 1 to 50") }
    }

    /// One check's figures, in seconds; connections: the most any node accepted.
    struct Sample {
        var total: Double, setup: Double, check: Double, cleanup: Double
        var connections: Int
    }

    func run() async throws {
        if let why = Lab.canBuild() ?? LabSSH.unavailable() { throw InputError(source: "bench ssh", "the SSH lab \(why)") }
        _ = try Program.path("script")  // util-linux: a pseudo-terminal for the check's progress lines
        let binary = siblingExecutable("swarmprobe")
        let teardown = SignalCancellation {
            LabRegistry.shared.destroyAll()
            Foundation.exit(130)
        }
        defer { teardown.stop() }
        print("swarmprobe-bench ssh --nodes \(nodes) --runs \(runs)")
        print("healthy namespace labs, sshd in every node, `check --ssh --timeout auto`; median of \(runs) checks")
        print("")
        print("| nodes | command to report (s) | setup (s) | check (s) | cleanup (s) | SSH connections per node |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n in sizes! {
            let specs = (0..<n).map { i in (name: i < 3 ? "m\(i + 1)" : "w\(i - 2)", role: i < 3 ? Role.manager : Role.worker) }
            let lab = try Lab(nodes: specs)
            defer { lab.destroy() }
            let ssh = try lab.startSSH()
            let inventory = try lab.write("inventory-ssh.yaml", lab.inventoryYAML(sshUser: "root"))
            var samples: [Sample] = []
            for i in 0..<runs {
                progressLine("ssh: \(n) nodes, check \(i + 1) of \(runs) ...")
                let before = lab.nodes.map { Self.accepted(ssh.log($0.name)) }
                let json = lab.directory.appendingPathComponent("results.json").path
                let command =
                    ["ip", "netns", "exec", lab.switchNamespace, binary, "check", "--ssh", "--inventory", inventory, "--json", json, "--quiet"]
                    + ssh.sshOptions.flatMap { ["--ssh-option", $0] }
                let t0 = Date()
                let r = try Program.capture(["script", "-qefc", command.map(Program.shellQuoted).joined(separator: " "), "/dev/null"], timeout: 600)
                let total = Date().timeIntervalSince(t0)
                guard r.status == 0, let data = FileManager.default.contents(atPath: json),
                    let setup = Self.seconds(after: "agents started on", in: r.stdout),
                    let cleanup = Self.seconds(after: "cleaned up in", in: r.stdout)
                else { throw InputError(source: "bench ssh", "check --ssh on \(n) nodes failed (exit \(r.status)): \(r.stdout.suffix(600))") }
                let results = try JSONDecoder().decode(Results.self, from: data)
                let connections = zip(lab.nodes, before).map { Self.accepted(ssh.log($0.0.name)) - $0.1 }.max() ?? 0
                samples.append(
                    Sample(total: total, setup: setup, check: Double(results.durationMs) / 1000, cleanup: cleanup, connections: connections))
            }
            func median(_ k: KeyPath<Sample, Double>) -> String {
                let v = samples.map { $0[keyPath: k] }.sorted()
                return String(format: "%.2f", v[v.count / 2])
            }
            print(
                "| \(n) | \(median(\.total)) | \(median(\.setup)) | \(median(\.check)) | \(median(\.cleanup)) | \(samples.map(\.connections).max() ?? 0) |"
            )
        }
    }

    /// How many logins an sshd log shows.
    static func accepted(_ log: String) -> Int { log.components(separatedBy: "Accepted publickey").count - 1 }

    /// The seconds in a progress line `... <marker> ... in 1.23 s`.
    static func seconds(after marker: String, in text: String) -> Double? {
        guard let line = text.split(whereSeparator: \.isNewline).last(where: { $0.contains(marker) }),
            let range = line.range(of: " in ", options: .backwards)
        else { return nil }
        return Double(line[range.upperBound...].split(separator: " ").first ?? "")
    }
}
