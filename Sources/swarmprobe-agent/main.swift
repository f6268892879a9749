import ArgumentParser
import Foundation
import SwarmProbeAgentCLI
import SwarmProbeCore

/// The agent alone, for production nodes: what `swarmprobe agent` runs, without the coordinator's
/// HTTP client and TLS, the AWS audit, the reports or the labs (a smaller binary, less resident memory).
struct LeanAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarmprobe-agent", abstract: AgentOptions.abstract, discussion: AgentOptions.discussion,
        version: SwarmProbeVersion.current)

    @OptionGroup var options: AgentOptions

    func run() async throws { try await options.run() }
}

exit(await runMain(LeanAgent.self, name: "swarmprobe-agent"))
