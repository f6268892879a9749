/// Whether the agent at one end of a check could be used.
public struct AgentHealth: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case up
        /// Could not be reached, refused the connection, or died during the check.
        case down
        /// Reached, but it does not hold our token (or we do not hold its).
        case authFailed = "auth-failed"
        /// Reached, but it speaks another version of the control protocol: `detail` names both, and which to upgrade.
        case incompatible
        /// No agent was asked: the results come from another source (`aws audit` reads configuration).
        case notContacted = "not-contacted"
    }
    public var status: Status
    public var detail: String?

    public init(_ status: Status, _ detail: String? = nil) {
        self.status = status
        self.detail = detail
    }
    public static let up = AgentHealth(.up)
    public var isUp: Bool { status == .up }
}
