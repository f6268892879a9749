import ArgumentParser

/// `swarmprobe bench ...`: the measurements BENCHMARKS.md quotes, each a subcommand.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure swarmprobe: full-mesh checks on namespace labs, one agent probing many peers (see BENCHMARKS.md).",
        subcommands: [BenchMeshCommand.self, BenchFanoutCommand.self, BenchLossCommand.self],
        defaultSubcommand: BenchMeshCommand.self
    )
}
