import ArgumentParser

/// `swarmprobe bench`: benchmarks on namespace labs. `mesh` (the default) is the full-mesh benchmark.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks on namespace labs (needs root); `mesh` is the default.",
        subcommands: [BenchMeshCommand.self],
        defaultSubcommand: BenchMeshCommand.self
    )
}
