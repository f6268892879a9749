import ArgumentParser
import SwarmProbeAgentCLI

/// `swarmprobe agent`: the same agent as the lean `swarmprobe-agent` binary.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: AgentOptions.abstract, discussion: AgentOptions.discussion)

    @OptionGroup var options: AgentOptions

    func run() async throws { try await options.run() }
}
