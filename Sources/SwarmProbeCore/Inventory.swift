/// What a node will be in the swarm.
public enum Role: String, Codable, Sendable, CaseIterable, Hashable {
    case manager
    case worker
}

/// Where the coordinator reaches a node's agent.
public struct ControlEndpoint: Codable, Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `host:port`, `[v6]:port`, or just `host` (then `defaultPort`).
    public static func parse(_ text: String, defaultPort: Int) -> ControlEndpoint? {
        var host = text
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()) else { return nil }
                port = p
            }
        } else if text.filter({ $0 == ":" }).count == 1 {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            host = String(parts[0])
            guard let p = Int(parts[1]) else { return nil }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port), !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        return ControlEndpoint(host: host, port: port)
    }
}

public struct Node: Codable, Sendable, Hashable {
    public var name: String
    /// The advertise address: where the other nodes send swarm traffic.
    public var address: IPAddress
    public var role: Role
    /// Where the agent's control endpoint is; default `address:7950`.
    public var control: ControlEndpoint
    /// Optional label (availability zone, rack, subnet) that reports of many nodes group by.
    public var group: String?
    /// Where `check --ssh` logs in; nil: the node's address, with the user's own SSH defaults.
    public var ssh: SSHTarget?

    public init(
        name: String, address: IPAddress, role: Role, control: ControlEndpoint? = nil, group: String? = nil, ssh: SSHTarget? = nil
    ) {
        self.name = name
        self.address = address
        self.role = role
        self.control = control ?? ControlEndpoint(host: address.description, port: Defaults.controlPort)
        self.group = group
        self.ssh = ssh
    }

    /// Where `check --ssh` logs in to this node.
    public var sshTarget: SSHTarget { ssh ?? SSHTarget(host: address.description) }
}

public enum Defaults {
    /// The agent's control endpoint listens here unless `--control-port` says otherwise.
    public static let controlPort = 7950
}

public struct Inventory: Sendable, Equatable {
    public var nodes: [Node]

    public init(nodes: [Node]) {
        self.nodes = nodes
    }

    public var managers: [Node] { nodes.filter { $0.role == .manager } }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Parses and validates an inventory; every error names `source` and a line.
    public static func parse(_ text: String, source: String) throws(InputError) -> Inventory {
        let root = try YAMLNode.load(text, source: source)
        let top = try root.mapping(what: "inventory")
        try rejectUnknown(top, allowed: ["nodes"], what: "inventory", source: source)
        guard let nodesEntry = top.first(where: { $0.key == "nodes" }) else {
            throw root.error("inventory: missing `nodes:` (a list of nodes with name, address and role)")
        }
        let items = try nodesEntry.value.sequence(what: "`nodes`")
        if items.isEmpty { throw nodesEntry.value.error("`nodes` is empty: list at least two nodes") }

        var nodes: [Node] = []
        var byName: [String: Int?] = [:]
        var byAddress: [IPAddress: (String, Int?)] = [:]
        for (index, item) in items.enumerated() {
            let what = "node #\(index + 1)"
            let fields = try item.mapping(what: what)
            try rejectUnknown(fields, allowed: ["name", "address", "role", "control", "group", "ssh"], what: what, source: source)
            func field(_ key: String) throws(InputError) -> YAMLNode {
                guard let f = fields.first(where: { $0.key == key }) else {
                    throw item.error("\(what): missing `\(key)`")
                }
                return f.value
            }
            let nameNode = try field("name")
            let name = try nameNode.string(what: "\(what): `name`")
            guard isValidName(name) else {
                throw nameNode.error("\(what): name \"\(name)\" must be 1-63 letters, digits, '-', '_' or '.'")
            }
            let label = "node \"\(name)\""
            if let previous = byName[name] {
                let at = previous.map { " (first on line \($0))" } ?? ""
                throw nameNode.error("\(label): duplicate name\(at)")
            }
            byName[name] = nameNode.line

            let addressNode = try field("address")
            let addressText = try addressNode.string(what: "\(label): `address`")
            guard let address = IPAddress(addressText) else {
                throw addressNode.error("\(label): address \"\(addressText)\" is not an IPv4 or IPv6 address")
            }
            if let (other, line) = byAddress[address] {
                let at = line.map { " on line \($0)" } ?? ""
                throw addressNode.error("\(label): address \(address) is already used by node \"\(other)\"\(at)")
            }
            byAddress[address] = (name, addressNode.line)

            let roleNode = try field("role")
            let roleText = try roleNode.string(what: "\(label): `role`")
            guard let role = Role(rawValue: roleText) else {
                throw roleNode.error("\(label): unknown role \"\(roleText)\" (expected manager or worker)")
            }

            var control: ControlEndpoint?
            if let c = fields.first(where: { $0.key == "control" }) {
                let text = try c.value.string(what: "\(label): `control`")
                guard let ep = ControlEndpoint.parse(text, defaultPort: Defaults.controlPort) else {
                    throw c.value.error("\(label): control \"\(text)\" must be host:port with a port from 1 to 65535")
                }
                control = ep
            }
            var group: String?
            if let g = fields.first(where: { $0.key == "group" }) {
                let text = try g.value.string(what: "\(label): `group`")
                guard isValidName(text) else {
                    throw g.value.error("\(label): group \"\(text)\" must be 1-63 letters, digits, '-', '_' or '.'")
                }
                group = text
            }
            var ssh: SSHTarget?
            if let f = fields.first(where: { $0.key == "ssh" }) {
                let text = try f.value.string(what: "\(label): `ssh`")
                guard let target = SSHTarget.parse(text) else {
                    throw f.value.error("\(label): ssh \"\(text)\" must be [user@]host[:port] with a port from 1 to 65535")
                }
                ssh = target
            }
            nodes.append(Node(name: name, address: address, role: role, control: control, group: group, ssh: ssh))
        }
        if !nodes.contains(where: { $0.role == .manager }) {
            throw nodesEntry.value.error("no node has role manager: a swarm needs at least one")
        }
        return Inventory(nodes: nodes)
    }

    public static func isValidName(_ s: String) -> Bool {
        (1...63).contains(s.count) && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }
}
