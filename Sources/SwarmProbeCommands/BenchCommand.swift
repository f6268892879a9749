import ArgumentParser
import Foundation
import SwarmProbeCore
import SwarmProbeLab

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: `mesh` times real checks on namespace labs (the default), `scale` the coordinator's work for 1,000 generated nodes.",
        subcommands: [BenchMeshCommand.self, BenchScaleCommand.self],
        defaultSubcommand: BenchMeshCommand.self
    )
}

struct BenchMeshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Time `check` on healthy namespace labs of several sizes (needs root).",
        discussion: "Prints, per lab size, the check's wall time and its ratio to the probe timeout. BENCHMARKS.md quotes it."
    )

    @Option(help: ArgumentHelp("Lab sizes, comma-separated.", valueName: "n,n,..."))
    var sizes: String = "4,8,16"

    @Option(help: ArgumentHelp("Probe timeout.", valueName: "duration"))
    var timeout: Duration = Duration(milliseconds: 1000)

    @Option(help: ArgumentHelp("Checks per size (the table shows the median).", valueName: "n"))
    var runs: Int = 3

    func validate() throws {
        guard parsedSizes != nil else { throw ValidationError("--sizes: \"\(sizes)\" must be numbers from 2 to 200 separated by commas") }
        guard (1...20).contains(runs) else { throw ValidationError("--runs: \(runs) is outside 1 to 20") }
    }

    var parsedSizes: [Int]? {
        let v = sizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil && (2...200).contains($0!) }) else { return nil }
        return v.map { $0! }
    }

    func run() async throws {
        if let why = Lab.canBuild() { throw InputError(source: "bench", "the namespace lab \(why)") }
        let binary = selfExecutable()
        let teardown = SignalCancellation {
            LabRegistry.shared.destroyAll()
            Foundation.exit(130)
        }
        defer { teardown.stop() }
        print("swarmprobe bench: healthy labs, probe timeout \(timeout.milliseconds) ms, \(runs) run(s) per size, median shown")
        print("| nodes | checks | wall (ms) | coordinator (ms) | wall / timeout | all open |")
        print("|------:|-------:|----------:|-----------------:|---------------:|:--------:|")
        for n in parsedSizes! {
            progressLine("building a lab of \(n) nodes ...")
            let scenario = LabScenario.healthy(nodes: n, managers: min(3, max(1, n / 4)))
            let lab = try Lab(nodes: scenario.nodes)
            defer { lab.destroy() }
            let token = try lab.write("token", ClusterToken.generate() + "\n")
            let inventory = try lab.write("inventory.yaml", lab.inventoryYAML())
            try lab.startAgents(binary: binary, tokenFile: token)
            var walls: [Double] = [], inner: [Int] = [], checks = 0, allOpen = true
            for _ in 0..<runs {
                let json = lab.directory.appendingPathComponent("results.json").path
                let t0 = Date()
                let r = try lab.runInSwitch(binary: binary, ["check", "--inventory", inventory, "--token-file", token,
                                                             "--timeout", "\(timeout.milliseconds)ms", "--json", json, "--quiet"])
                walls.append(Date().timeIntervalSince(t0) * 1000)
                guard r.status != 2, let data = FileManager.default.contents(atPath: json) else {
                    throw InputError(source: "bench", "check failed on \(n) nodes: \(r.stderr)")
                }
                let results = try JSONDecoder().decode(Results.self, from: data)
                inner.append(results.durationMs)
                checks = results.checks.count
                allOpen = allOpen && results.summary.open == results.checks.count
            }
            let wall = walls.sorted()[walls.count / 2]
            let coord = inner.sorted()[inner.count / 2]
            let ratio = wall / Double(timeout.milliseconds)
            print("| \(n) | \(checks) | \(Int(wall)) | \(coord) | \(String(format: "%.2f", ratio)) | \(allOpen ? "yes" : "NO") |")
            lab.destroy()
        }
    }
}
