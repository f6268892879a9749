import ArgumentParser
import SwarmProbeAgentCLI
import SwarmProbeCore

/// `swarmprobe-bench`: the measurements BENCHMARKS.md quotes, each a subcommand; `mesh` is the default.
/// Kept out of the shipped binaries: it runs the `swarmprobe` and `swarmprobe-agent` built beside it.
public struct SwarmProbeBench: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "swarmprobe-bench",
        abstract:
            "Measure swarmprobe: full-mesh checks against nmap and nc, random loss, one agent probing many peers (root), the coordinator at 1,000 generated nodes, check --ssh from command to report (root).",
        version: SwarmProbeVersion.current,
        subcommands: [MeshBenchCommand.self, LossBenchCommand.self, FanoutBenchCommand.self, ScaleBenchCommand.self, SSHBenchCommand.self],
        defaultSubcommand: MeshBenchCommand.self
    )

    public init() {}

    public static func main(_ arguments: [String]? = nil) async -> Int32 {
        await runMain(SwarmProbeBench.self, name: "swarmprobe-bench", arguments)
    }
}
