import SwarmProbeCore

/// Getting agents onto nodes for one check, and off them again: over SSH before `docker swarm init`, or as a
/// swarm service on a live swarm. `start` brings up what it can and says what it could not; `stop` takes
/// down everything `start` left, whatever happened in between (a finished check, findings, Ctrl-C).
public protocol AgentDeployment: Sendable {
    /// The token the agents were given, made for this run.
    var token: ClusterToken { get }
    /// Starts an agent on every node it can; returns the nodes it could not, each with why, in one line.
    func start(progress: @escaping @Sendable (DeployEvent) -> Void) async -> [String: String]
    /// Stops every agent and removes what the deployment put on the nodes.
    func stop(progress: @escaping @Sendable (DeployEvent) -> Void) async
}

/// What happened to one node's agent, for a person watching.
public struct DeployEvent: Sendable, CustomStringConvertible {
    public enum Step: String, Sendable {
        case connecting, uploading, waiting, started, probing, stopping, cleaned, failed
    }
    public var node: String
    public var step: Step
    public var detail: String?

    public init(_ node: String, _ step: Step, _ detail: String? = nil) {
        self.node = node
        self.step = step
        self.detail = detail
    }

    public var description: String { "\(node): \(step.rawValue)" + (detail.map { " (\($0))" } ?? "") }
}
