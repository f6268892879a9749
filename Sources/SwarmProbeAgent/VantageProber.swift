import NIOCore
import NIOPosix
import SwarmProbeCore

/// Probes sent from a host that runs no agent: the coordinator standing for a service's clients and its load
/// balancer (`check --published`). The same prober as an agent's, so the targets' logs and capture taps judge
/// these probes exactly as they judge a node's.
public final class VantageProber: Sendable {
    private let prober: Prober

    /// `address`: this host's source address toward the nodes, which the probes name and answers come back to.
    public init(address: IPAddress, token: ClusterToken) {
        prober = Prober(
            group: MultiThreadedEventLoopGroup.singleton, address: address, token: token, esp: nil, framedKinds: [],
            concurrency: max(64, min(1024, (Agent.raiseOpenFileLimit() - 256) / 4)))
    }

    /// Sends every probe of `request` and reports what each ended with; cancelling the task ends the probes in flight.
    public func run(_ request: RunRequest) async -> RunResponse {
        let progress = RunProgress()
        let probing = Task { [prober] in await prober.run(request, progress: progress) }
        let ran = await withTaskCancellationHandler {
            await probing.value
        } onCancel: {
            _ = progress.stop()
            probing.cancel()
        }
        let results = progress.isStopped ? progress.recorded.reports : ran.reports
        return RunResponse(runID: request.runID, results: results)
    }
}
