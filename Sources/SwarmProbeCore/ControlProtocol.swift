/// The version of the control protocol. A coordinator and an agent talk only when they speak the same one:
/// the hello carries it both ways, and each side names the other's in a one-line error. Version 1 is
/// swarmprobe 0.1, from before the hello carried a version (its keys were camelCase).
public enum ControlProtocol {
    public static let version = 2

    /// Why an agent and a coordinator cannot talk, and which to upgrade (the one with the lower version).
    public static func mismatch(
        agent: Int, agentVersion: String?, coordinator: Int, coordinatorVersion: String?,
        endpoint: String
    ) -> String {
        func side(_ p: Int, _ v: String?) -> String { "protocol \(p)" + (v.map { " (swarmprobe \($0))" } ?? "") }
        let upgrade = agent < coordinator ? "upgrade the agent" : "upgrade the coordinator (swarmprobe where the check runs)"
        return
            "the agent at \(endpoint) speaks control \(side(agent, agentVersion)), this coordinator \(side(coordinator, coordinatorVersion)): \(upgrade)"
    }
}
