/// A problem with one node rather than with a path: a host setting or route that breaks swarm traffic, or
/// why a published port does not answer there. Results list them in `findings` beside the path findings.
public struct NodeFinding: Codable, Sendable, Equatable, Hashable {
    public var node: String
    /// Stable kebab-case code (documented in docs/results.md) a script can match on.
    public var code: String
    /// One line naming the setting, route or path at fault.
    public var detail: String
    /// What to run or change, when there is one thing to do.
    public var fix: String?
    /// True: it breaks the swarm (exit code 1, like a required path not open); false: information.
    public var required: Bool
    /// The published port the finding explains (`8080/tcp`); nil for a finding about the node itself.
    public var port: KindID?
    /// The other nodes of a finding about paths from this node (`path-mtu-below-overlay`); nil otherwise.
    public var peers: [String]?

    public init(
        node: String, code: String, detail: String, fix: String? = nil, required: Bool, port: KindID? = nil, peers: [String]? = nil
    ) {
        self.peers = peers
        self.port = port
        self.node = node
        self.code = code
        self.detail = detail
        self.fix = fix
        self.required = required
    }

    enum CodingKeys: String, CodingKey { case node, code, detail, fix, required, port, peers }

    /// `fix` is written as null when there is none, as the results document writes it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(node, forKey: .node)
        try c.encode(code, forKey: .code)
        try c.encode(detail, forKey: .detail)
        try c.encode(fix, forKey: .fix)
        try c.encode(required, forKey: .required)
        try c.encodeIfPresent(port, forKey: .port)
        try c.encodeIfPresent(peers, forKey: .peers)
    }
}
