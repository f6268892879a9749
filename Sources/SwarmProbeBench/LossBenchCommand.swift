import ArgumentParser
import Foundation
import SwarmProbeAgentCLI
import SwarmProbeCommands
import SwarmProbeCore
import SwarmProbeLab

/// `swarmprobe-bench loss`: how many verdicts random loss flips, per number of tries.
struct LossBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loss",
        abstract: "Count wrong verdicts on a namespace lab whose one link loses packets at random, per --attempts (needs root).",
        discussion:
            "A 4-node healthy lab; one node's link drops --percent of its IPv4 packets each way (nftables numgen). Every check over that link should be open; the table counts those that are not."
    )

    @Option(help: ArgumentHelp("Loss on the link, each way.", valueName: "percent"))
    var percent: Int = 10

    @Option(help: ArgumentHelp("Tries per probe to compare, comma-separated.", valueName: "n,n,..."))
    var attempts: String = "1,2,3,6"

    @Option(help: ArgumentHelp("Checks per setting.", valueName: "n"))
    var runs: Int = 10

    func validate() throws {
        guard (1...99).contains(percent) else { throw ValidationError("--percent: \(percent) is outside 1 to 99") }
        guard parsedAttempts != nil else { throw ValidationError("--attempts: \"\(attempts)\" must be numbers from 1 to 10 separated by commas") }
        guard (1...100).contains(runs) else { throw ValidationError("--runs: \(runs) is outside 1 to 100") }
    }

    var parsedAttempts: [Int]? {
        let v = attempts.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil && RunRequest.attemptsRange.contains($0!) }) else { return nil }
        return v.map { $0! }
    }

    func run() async throws {
        if let why = Lab.canBuild() { throw InputError(source: "bench loss", "the namespace lab \(why)") }
        let binary = siblingExecutable("swarmprobe")
        let teardown = SignalCancellation {
            LabRegistry.shared.destroyAll()
            Foundation.exit(130)
        }
        defer { teardown.stop() }
        let scenario = LabScenario(
            name: "lossy", nodes: [("m1", .manager), ("m2", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.randomLoss(node: "w1", percent: percent)])
        let lab = try Lab(nodes: scenario.nodes)
        defer { lab.destroy() }
        let token = try lab.write("token", ClusterToken.generate() + "\n")
        let inventory = try lab.write("inventory.yaml", lab.inventoryYAML())
        try lab.startAgents(binary: binary, tokenFile: token)
        for f in scenario.faults { try lab.inject(f) }
        func check(_ tries: Int) throws -> Results {
            let json = lab.directory.appendingPathComponent("results.json").path
            let r = try lab.runInSwitch(
                binary: binary,
                [
                    "check", "--inventory", inventory, "--token-file", token,
                    "--attempts", "\(tries)", "--json", json, "--quiet",
                ])
            guard r.status != 2, let data = FileManager.default.contents(atPath: json) else {
                throw InputError(source: "bench loss", "check failed: \(r.stderr)")
            }
            return try JSONDecoder().decode(Results.self, from: data)
        }
        // One check first, so every node has resolved its neighbours (ARP is spared by the loss rule,
        // but a cold cache would still add its own delay to the first run).
        _ = try check(ProbeTiming.defaultAttempts)
        print("swarmprobe-bench loss --percent \(percent) --attempts \(attempts) --runs \(runs)")
        print("4-node lab, w1's link loses \(percent) % of IPv4 packets each way; \(runs) checks per setting, timeout auto")
        print("")
        print(
            "| tries per probe | checks over the lossy link | wrong verdicts | wrong, % | expected wrong, % (round-trip loss ^ tries) | mean check (ms) | datagrams + connections per check |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        let perTry = 1 - pow(1 - Double(percent) / 100, 2)
        for tries in parsedAttempts! {
            var wrong = 0, total = 0, ms = 0, sent = 0
            for i in 0..<runs {
                progressLine("loss: --attempts \(tries), check \(i + 1) of \(runs) ...")
                let r = try check(tries)
                ms += r.durationMs
                for c in r.checks where c.from == "w1" || c.to == "w1" {
                    total += 1
                    sent += c.sender?.attempts ?? 0
                    if c.verdict != .open {
                        wrong += 1
                        printError(
                            "loss: --attempts \(tries): \(c.from) -> \(c.to) \(c.kindID): \(c.verdict)/\(c.location.map(\.rawValue) ?? "-"): \(c.detail) [tries \(c.sender?.attempts ?? 0)]"
                        )
                    }
                }
            }
            let expected = pow(perTry, Double(tries)) * 100
            print(
                "| \(tries) | \(total) | \(wrong) | \(String(format: "%.2f", Double(wrong) * 100 / Double(max(1, total)))) | \(String(format: "%.3f", expected)) | \(ms / runs) | \(sent / runs) |"
            )
        }
    }
}
