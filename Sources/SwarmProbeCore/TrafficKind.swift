public enum TransportProtocol: String, Codable, Sendable, Hashable, CaseIterable {
    case tcp
    case udp
    /// IP protocol 50, for overlays created with `--opt encrypted`.
    case esp
}

/// One port/protocol pair swarm needs, and between which roles it is required.
public struct TrafficKind: Codable, Sendable, Hashable {
    public var name: String
    public var proto: TransportProtocol
    /// nil for ESP.
    public var port: Int?
    /// Roles whose nodes must be able to send this traffic ...
    public var from: Set<Role>
    /// ... to nodes of these roles.
    public var to: Set<Role>
    /// False: checked and reported, never a finding.
    public var required: Bool
    /// False: declared but not probed (ESP unless the profile turns it on).
    public var enabled: Bool
    /// The kind whose port `--data-path-port` replaces (VXLAN, 4789).
    public var dataPath: Bool
    /// The source port real traffic uses (gossip is 7946 -> 7946).
    public var sourcePort: Int?
    /// A port published to clients (`check --published`): probed only from the coordinator's vantage, never
    /// node to node; an agent listens on it wherever nothing else holds it, on a live swarm node too.
    public var published: Bool
    /// A live service's published port: the agent only watches it in its capture taps and never binds it, so
    /// that it cannot stand in for a routing mesh that does not answer.
    public var observeOnly: Bool = false
    public var description: String

    public init(
        name: String, proto: TransportProtocol, port: Int?, from: Set<Role> = Set(Role.allCases),
        to: Set<Role> = Set(Role.allCases), required: Bool = true, enabled: Bool = true,
        dataPath: Bool = false, sourcePort: Int? = nil, published: Bool = false, description: String = ""
    ) {
        self.name = name
        self.proto = proto
        self.port = port
        self.from = from
        self.to = to
        self.required = required
        self.enabled = enabled
        self.dataPath = dataPath
        self.sourcePort = sourcePort
        self.published = published
        self.description = description
    }

    /// `2377/tcp`, `4789/udp`, `esp`: how a kind is named on the wire and in reports.
    public var id: String { KindID(proto: proto, port: port).description }
    public var kindID: KindID { KindID(proto: proto, port: port) }

    /// Whether swarm needs `from -> to` on this kind.
    public func isRequired(from a: Role, to b: Role) -> Bool {
        required && from.contains(a) && to.contains(b)
    }
}

/// Port and protocol, the identity of a traffic kind.
public struct KindID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public var proto: TransportProtocol
    public var port: Int?
    public init(proto: TransportProtocol, port: Int?) {
        self.proto = proto
        self.port = proto == .esp ? nil : port
    }
    public var description: String {
        if let port { return "\(port)/\(proto.rawValue)" }
        return proto.rawValue
    }
    public init?(_ text: String) {
        if text == "esp" { self.init(proto: .esp, port: nil); return }
        let parts = text.split(separator: "/")
        guard parts.count == 2, let port = Int(parts[0]), (1...65535).contains(port),
            let proto = TransportProtocol(rawValue: String(parts[1])), proto != .esp
        else { return nil }
        self.init(proto: proto, port: port)
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let k = KindID(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a traffic kind (PORT/tcp, PORT/udp or esp): \(s)")
        }
        self = k
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
    public static func < (a: KindID, b: KindID) -> Bool {
        ((a.port ?? Int.max), a.proto.rawValue) < ((b.port ?? Int.max), b.proto.rawValue)
    }
}
