import ArgumentParser

/// `swarmprobe bench ...`: the measurements BENCHMARKS.md quotes, each a subcommand (all need root).
/// `mesh`, the full-mesh benchmark, is the default.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure swarmprobe: full-mesh checks against nmap and nc, random loss, one agent probing many peers (see BENCHMARKS.md).",
        subcommands: [BenchMeshCommand.self, BenchLossCommand.self, BenchFanoutCommand.self],
        defaultSubcommand: BenchMeshCommand.self
    )
}
