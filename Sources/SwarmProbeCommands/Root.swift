import ArgumentParser
import Foundation
import SwarmProbeAgentCLI
import SwarmProbeCore

public struct SwarmProbe: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "swarmprobe",
        abstract: "Diagnose Docker swarm connectivity: which node pairs are blocked, on which port, in which direction, and where.",
        discussion: """
            Run `swarmprobe agent` on every node, then `swarmprobe check` from anywhere that reaches the agents.
            `swarmprobe demo` shows it all on a lab of network namespaces.
            Exit codes of check: 0 every required path open, 1 findings, 2 bad input or usage.
            """,
        version: SwarmProbeVersion.current,
        subcommands: [CheckCommand.self, AgentCommand.self, TokenCommand.self, DiscoverCommand.self, DemoCommand.self, AWSCommand.self]
    )

    public init() {}

    /// The entry point: parse, run, and map every failure to a one-line message and an exit code
    /// (2 for bad input or usage, where argument-parser alone would say 64).
    public static func main(_ arguments: [String]? = nil) async -> Int32 {
        await runMain(SwarmProbe.self, name: "swarmprobe", arguments)
    }
}
