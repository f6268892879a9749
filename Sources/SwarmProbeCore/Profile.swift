/// A declarative list of what to probe: `probes/swarm.yaml` is the default.
public struct Profile: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Every declared kind, enabled or not, in file order.
    public var kinds: [TrafficKind]

    public init(name: String, description: String, kinds: [TrafficKind]) {
        self.name = name
        self.description = description
        self.kinds = kinds
    }

    /// The kinds that are probed.
    public var enabledKinds: [TrafficKind] { kinds.filter(\.enabled) }

    public func kind(_ id: KindID) -> TrafficKind? { enabledKinds.first { $0.kindID == id } }

    /// ESP is probed: the swarm runs encrypted overlays (`--opt encrypted`), so its nodes need IPsec.
    public var encrypted: Bool { enabledKinds.contains { $0.proto == .esp } }

    /// The profile as it is after `docker swarm init --data-path-port N`.
    public func withDataPathPort(_ port: Int) throws(InputError) -> Profile {
        guard (1...65535).contains(port) else {
            throw InputError(source: "--data-path-port", "\(port) is not a port number (1-65535)")
        }
        guard let i = kinds.firstIndex(where: \.dataPath) else {
            throw InputError(source: "--data-path-port", "profile \"\(name)\" has no kind marked `data-path: true` to move")
        }
        var copy = self
        copy.kinds[i].port = port
        if let clash = copy.kinds.enumerated().first(where: { $0.offset != i && $0.element.kindID == copy.kinds[i].kindID }) {
            throw InputError(
                source: "--data-path-port", "\(port)/\(copy.kinds[i].proto.rawValue) is already the profile's kind \"\(clash.element.name)\"")
        }
        return copy
    }

    /// The profile with `ports` added as published kinds (`--published`), for an agent to listen on them too, and
    /// `live` ones (a live service's, `--published-live`) that it only watches.
    public func withPublished(_ ports: [KindID], live: [KindID] = [], source: String = "--published") throws(InputError) -> Profile {
        var copy = self
        for (port, observe) in ports.map({ ($0, false) }) + live.map({ ($0, true) }) {
            if let clash = kinds.first(where: { $0.kindID == port }) {
                throw InputError(source: source, "\(port) is the profile's kind \"\(clash.name)\", a swarm port; a service cannot publish it")
            }
            if copy.kinds.contains(where: { $0.kindID == port }) { continue }
            var kind = PublishedTarget(port: port).kind
            kind.observeOnly = observe
            copy.kinds.append(kind)
        }
        return copy
    }

    public static func parse(_ text: String, source: String) throws(InputError) -> Profile {
        let root = try YAMLNode.load(text, source: source)
        let top = try root.mapping(what: "profile")
        try rejectUnknown(top, allowed: ["name", "description", "kinds"], what: "profile", source: source)
        guard let nameEntry = top.first(where: { $0.key == "name" }) else {
            throw root.error("profile: missing `name`")
        }
        let name = try nameEntry.value.string(what: "profile `name`")
        let description = try top.first(where: { $0.key == "description" })?.value.string(what: "profile `description`") ?? ""
        guard let kindsEntry = top.first(where: { $0.key == "kinds" }) else {
            throw root.error("profile: missing `kinds:` (a list of traffic kinds)")
        }
        let items = try kindsEntry.value.sequence(what: "`kinds`")
        if items.isEmpty { throw kindsEntry.value.error("`kinds` is empty: declare at least one traffic kind") }

        var kinds: [TrafficKind] = []
        var seen: [KindID: String] = [:]
        var dataPathKind: String?
        let allowed: Set<String> = ["name", "protocol", "port", "from", "to", "required", "enabled", "data-path", "source-port", "description"]
        for (index, item) in items.enumerated() {
            var what = "kind #\(index + 1)"
            let fields = try item.mapping(what: what)
            try rejectUnknown(fields, allowed: allowed, what: what, source: source)
            func value(_ key: String) -> YAMLNode? { fields.first { $0.key == key }?.value }

            guard let nameNode = value("name") else { throw item.error("\(what): missing `name`") }
            let kindName = try nameNode.string(what: "\(what): `name`")
            what = "kind \"\(kindName)\""
            guard let protoNode = value("protocol") else { throw item.error("\(what): missing `protocol` (tcp, udp or esp)") }
            let protoText = try protoNode.string(what: "\(what): `protocol`")
            guard let proto = TransportProtocol(rawValue: protoText.lowercased()) else {
                throw protoNode.error("\(what): unknown protocol \"\(protoText)\" (expected tcp, udp or esp)")
            }
            var port: Int?
            if let portNode = value("port") {
                if proto == .esp { throw portNode.error("\(what): ESP is an IP protocol and has no port; remove `port`") }
                let p = try portNode.int(what: "\(what): `port`")
                guard (1...65535).contains(p) else { throw portNode.error("\(what): port \(p) is out of range (1-65535)") }
                port = p
            } else if proto != .esp {
                throw item.error("\(what): missing `port` (required for \(proto.rawValue))")
            }
            func roles(_ key: String) throws(InputError) -> Set<Role> {
                guard let n = value(key) else { return Set(Role.allCases) }
                var out = Set<Role>()
                for r in try n.stringList(what: "\(what): `\(key)`") {
                    if r == "any" || r == "all" { out.formUnion(Role.allCases); continue }
                    guard let role = Role(rawValue: r) else {
                        throw n.error("\(what): `\(key)`: unknown role \"\(r)\" (expected manager, worker or any)")
                    }
                    out.insert(role)
                }
                if out.isEmpty { throw n.error("\(what): `\(key)` lists no role") }
                return out
            }
            let from = try roles("from")
            let to = try roles("to")
            let required = try value("required")?.bool(what: "\(what): `required`") ?? true
            let enabled = try value("enabled")?.bool(what: "\(what): `enabled`") ?? true
            let dataPath = try value("data-path")?.bool(what: "\(what): `data-path`") ?? false
            if dataPath {
                if proto != .udp { throw value("data-path")!.error("\(what): only a udp kind can be the data path") }
                if let other = dataPathKind {
                    throw value("data-path")!.error("\(what): kind \"\(other)\" is already the data path; only one may be")
                }
                dataPathKind = kindName
            }
            var sourcePort: Int?
            if let sp = value("source-port") {
                if proto == .esp { throw sp.error("\(what): ESP has no ports; remove `source-port`") }
                let p = try sp.int(what: "\(what): `source-port`")
                guard (1...65535).contains(p) else { throw sp.error("\(what): source-port \(p) is out of range (1-65535)") }
                sourcePort = p
            }
            let desc = try value("description")?.string(what: "\(what): `description`") ?? ""
            let kind = TrafficKind(
                name: kindName, proto: proto, port: port, from: from, to: to, required: required,
                enabled: enabled, dataPath: dataPath, sourcePort: sourcePort, description: desc)
            if let other = seen[kind.kindID] {
                throw item.error("\(what): \(kind.id) is already declared by kind \"\(other)\"")
            }
            if kinds.contains(where: { $0.name == kindName }) {
                throw nameNode.error("\(what): duplicate kind name")
            }
            seen[kind.kindID] = kindName
            kinds.append(kind)
        }
        if !kinds.contains(where: \.enabled) {
            throw kindsEntry.value.error("every kind has `enabled: false`: nothing would be probed")
        }
        return Profile(name: name, description: description, kinds: kinds)
    }
}
