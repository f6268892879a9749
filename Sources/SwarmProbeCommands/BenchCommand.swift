import ArgumentParser

/// `swarmprobe bench ...`: the measurements BENCHMARKS.md quotes, each a subcommand.
/// `mesh`, the full-mesh benchmark, is the default.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure swarmprobe: full-mesh checks against nmap and nc, random loss, one agent probing many peers (root), the coordinator at 1,000 generated nodes (see BENCHMARKS.md).",
        subcommands: [BenchMeshCommand.self, BenchLossCommand.self, BenchFanoutCommand.self, BenchScaleCommand.self],
        defaultSubcommand: BenchMeshCommand.self
    )
}
