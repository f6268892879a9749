// The hello and the agent's errors on the wire.

extension HelloRequest: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"protocol\":"); w.int(protocolVersion)
        if let v = toolVersion { w.raw(",\"tool_version\":"); w.string(v) }
        if !peers.isEmpty { w.raw(",\"peers\":"); w.strings(peers.map(\.description)) }
        w.raw("}")
    }

    /// A coordinator from before protocol versions sent `{}`: protocol 1. One from before `peers` names none
    /// (an agent from before skips the key): the agent then reads no source addresses, and nothing else changes.
    public init(reading r: WireReader) throws(WireError) {
        var version = 1, tool: String?, peers: [IPAddress] = []
        try r.fields { key throws(WireError) in
            switch key {
            case "protocol": version = try r.int(in: 0...Int(Int32.max))
            case "tool_version": tool = try r.optionalString()
            case "peers": peers = try r.isNull() ? [] : try r.list { () throws(WireError) in try r.address() }
            default: return false
            }
            return true
        }
        self.init(protocolVersion: version, toolVersion: tool, peers: peers)
    }
}

extension HelloResponse: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"protocol\":"); w.int(protocolVersion)
        w.raw(",\"agent_version\":"); w.string(agentVersion)
        w.raw(",\"address\":"); w.string(address.description)
        w.raw(",\"time_ms\":"); w.int(Int(timeMs))
        w.raw(",\"profile\":"); w.string(profile)
        w.raw(",\"listeners\":[")
        for (i, l) in listeners.enumerated() {
            if i > 0 { w.raw(",") }
            l.write(to: &w)
        }
        w.raw("],\"taps\":[")
        for (i, t) in taps.enumerated() {
            if i > 0 { w.raw(",") }
            t.write(to: &w)
        }
        w.raw("]")
        if let h = host {
            w.raw(",\"host\":")
            h.write(to: &w)
        }
        if let m = hostFactsMicros { w.raw(",\"host_facts_micros\":"); w.int(m) }
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var version: Int?, agentVersion: String?, address: IPAddress?, time: Int64?, profile: String?
        var listeners: [ListenerState]?, taps: [TapState] = [], host: HostFacts?, hostMicros: Int?
        try r.fields { key throws(WireError) in
            switch key {
            case "protocol": version = try r.int(in: 0...Int(Int32.max))
            case "agent_version": agentVersion = try r.string()
            case "address": address = try r.address()
            case "time_ms": time = try r.int()
            case "profile": profile = try r.string()
            case "listeners": listeners = try r.list { () throws(WireError) in try ListenerState(reading: r) }
            case "taps": taps = try r.list { () throws(WireError) in try TapState(reading: r) }
            case "host": host = try r.isNull() ? nil : try HostFacts(reading: r)
            case "host_facts_micros": hostMicros = try r.isNull() ? nil : try r.int(in: 0...Int(Int32.max))
            default: return false
            }
            return true
        }
        self.init(
            protocolVersion: try r.required(version, "protocol"), agentVersion: try r.required(agentVersion, "agent_version"),
            address: try r.required(address, "address"), timeMs: try r.required(time, "time_ms"),
            profile: try r.required(profile, "profile"), listeners: try r.required(listeners, "listeners"), taps: taps,
            host: host, hostFactsMicros: hostMicros)
    }

    /// The protocol and tool version an agent's hello names, whatever else it holds: an agent from before
    /// protocol versions (1) answered with camelCase keys and no `protocol`.
    public static func versions(of bytes: [UInt8]) -> (protocolVersion: Int, agentVersion: String?)? {
        let r = WireReader(bytes)
        var version: Int?, agent: String?
        do {
            try r.fields { key throws(WireError) in
                switch key {
                case "protocol": version = try r.int(in: 0...Int(Int32.max))
                case "agent_version", "agentVersion": agent = try r.optionalString()
                default: return false
                }
                return true
            }
        } catch {
            return nil
        }
        return (version ?? 1, agent)
    }
}

extension ListenerState: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"kind\":"); w.string(kind.description)
        w.raw(",\"mode\":"); w.string(mode.rawValue)
        if let d = detail { w.raw(",\"detail\":"); w.string(d) }
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var kind: KindID?, mode: Mode?, detail: String?
        try r.fields { key throws(WireError) in
            switch key {
            case "kind": kind = try r.kind()
            case "mode": mode = try r.enumCase(Mode.self)
            case "detail": detail = try r.optionalString()
            default: return false
            }
            return true
        }
        self.init(kind: try r.required(kind, "kind"), mode: try r.required(mode, "mode"), detail: detail)
    }
}

extension TapState: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"tap\":"); w.string(tap.rawValue)
        w.raw(active ? ",\"active\":true" : ",\"active\":false")
        if let d = device { w.raw(",\"device\":"); w.string(d) }
        if let d = detail { w.raw(",\"detail\":"); w.string(d) }
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var tap: Tap?, active: Bool?, device: String?, detail: String?
        try r.fields { key throws(WireError) in
            switch key {
            case "tap": tap = try r.enumCase(Tap.self)
            case "active": active = try r.bool()
            case "device": device = try r.optionalString()
            case "detail": detail = try r.optionalString()
            default: return false
            }
            return true
        }
        self.init(tap: try r.required(tap, "tap"), active: try r.required(active, "active"), device: device, detail: detail)
    }
}

extension HostFacts: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"routes\":[")
        for (i, route) in routes.enumerated() {
            w.raw(i == 0 ? "{\"destination\":" : ",{\"destination\":")
            w.string(route.destination.description)
            w.raw(",\"device\":"); w.string(route.device)
            w.raw("}")
        }
        w.raw("]")
        if let f = ipForward { w.raw(f ? ",\"ip_forward\":true" : ",\"ip_forward\":false") }
        if let p = forwardPolicy { w.raw(",\"forward_policy\":"); w.string(p) }
        if let ports = ingressPorts { w.raw(",\"ingress_ports\":"); w.strings(ports.map(\.description)) }
        if let chains = forwardChains {
            w.raw(",\"forward_chains\":[")
            for (i, c) in chains.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("{\"family\":"); w.string(c.family)
                w.raw(",\"table\":"); w.string(c.table)
                w.raw(",\"chain\":"); w.string(c.chain)
                w.raw(",\"policy\":"); w.string(c.policy)
                w.raw(",\"jumps\":"); w.strings(c.jumps)
                w.raw(c.acceptsPublished ? ",\"accepts_published\":true" : ",\"accepts_published\":false")
                w.raw(c.endsInDrop ? ",\"ends_in_drop\":true}" : ",\"ends_in_drop\":false}")
            }
            w.raw("]")
        }
        if let i = interface {
            w.raw(",\"interface\":{\"name\":"); w.string(i.name)
            if let mtu = i.mtu { w.raw(",\"mtu\":"); w.int(mtu) }
            if let d = i.driver { w.raw(",\"driver\":"); w.string(d) }
            if let c = i.txChecksumming { w.raw(c ? ",\"tx_checksumming\":true" : ",\"tx_checksumming\":false") }
            if let c = i.txChecksumIPGeneric { w.raw(c ? ",\"tx_checksum_ip_generic\":true" : ",\"tx_checksum_ip_generic\":false") }
            w.raw("}")
        }
        if let list = addresses {
            w.raw(",\"addresses\":[")
            for (i, a) in list.enumerated() {
                w.raw(i == 0 ? "{\"address\":" : ",{\"address\":"); w.string(a.address.description)
                w.raw(",\"device\":"); w.string(a.device)
                w.raw("}")
            }
            w.raw("]")
        }
        if let groups = otherSources {
            w.raw(",\"other_sources\":[")
            for (i, g) in groups.enumerated() {
                w.raw(i == 0 ? "{\"source\":" : ",{\"source\":"); w.string(g.source.description)
                if let d = g.device { w.raw(",\"device\":"); w.string(d) }
                w.raw(",\"peers\":"); w.strings(g.peers.map(\.description))
                w.raw("}")
            }
            w.raw("]")
        }
        if let ipsec {
            // Keys written in full: the writer takes only literals.
            w.raw(",\"ipsec\":{\"esp4\":"); w.optionalState(ipsec.esp4)
            w.raw(",\"xfrm_user\":"); w.optionalState(ipsec.xfrmUser)
            w.raw(",\"aes_gcm\":"); w.optionalState(ipsec.aesGCM)
            w.raw(",\"xt_u32\":"); w.optionalState(ipsec.xtU32)
            w.raw("}")
        }
        w.raw("}")
    }

    /// Every key but `routes` may be absent or null: a fact the agent could not read.
    public init(reading r: WireReader) throws(WireError) {
        var facts = HostFacts()
        var routes: [HostRoute]?
        try r.fields { key throws(WireError) in
            switch key {
            case "routes":
                routes = try r.list { () throws(WireError) in
                    var destination: CIDR?, device: String?
                    try r.fields { key throws(WireError) in
                        switch key {
                        case "destination": destination = try r.prefix()
                        case "device": device = try r.string()
                        default: return false
                        }
                        return true
                    }
                    return HostRoute(destination: try r.required(destination, "destination"), device: try r.required(device, "device"))
                }
            case "ip_forward": facts.ipForward = try r.isNull() ? nil : try r.bool()
            case "forward_policy": facts.forwardPolicy = try r.isNull() ? nil : try r.policy()
            case "ingress_ports": facts.ingressPorts = try r.isNull() ? nil : try r.list { () throws(WireError) in try r.kind() }
            case "forward_chains":
                facts.forwardChains = try r.isNull() ? nil : try r.list { () throws(WireError) in try ForwardChain(reading: r) }
            case "interface": facts.interface = try r.isNull() ? nil : try InterfaceFacts(reading: r)
            case "addresses":
                facts.addresses =
                    try r.isNull()
                    ? nil
                    : try r.list { () throws(WireError) in
                        var address: IPAddress?, device: String?
                        try r.fields { key throws(WireError) in
                            switch key {
                            case "address": address = try r.address()
                            case "device": device = try r.string()
                            default: return false
                            }
                            return true
                        }
                        return HostAddress(address: try r.required(address, "address"), device: try r.required(device, "device"))
                    }
            case "other_sources":
                facts.otherSources = try r.isNull() ? nil : try r.list { () throws(WireError) in try SourceChoice(reading: r) }
            case "ipsec": facts.ipsec = try r.isNull() ? nil : try IPsecSupport(reading: r)
            default: return false
            }
            return true
        }
        facts.routes = try r.required(routes, "routes")
        self = facts
    }
}

extension InterfaceFacts {
    init(reading r: WireReader) throws(WireError) {
        var name: String?, mtu: Int?, driver: String?, checksumming: Bool?, generic: Bool?
        try r.fields { key throws(WireError) in
            switch key {
            case "name": name = try r.string()
            case "mtu": mtu = try r.isNull() ? nil : try r.int(in: 68...65535)
            case "driver": driver = try r.isNull() ? nil : try r.string()
            case "tx_checksumming": checksumming = try r.isNull() ? nil : try r.bool()
            case "tx_checksum_ip_generic": generic = try r.isNull() ? nil : try r.bool()
            default: return false
            }
            return true
        }
        self.init(name: try r.required(name, "name"), mtu: mtu, driver: driver, txChecksumming: checksumming, txChecksumIPGeneric: generic)
    }
}

extension SourceChoice {
    init(reading r: WireReader) throws(WireError) {
        var source: IPAddress?, device: String?, peers: [IPAddress]?
        try r.fields { key throws(WireError) in
            switch key {
            case "source": source = try r.address()
            case "device": device = try r.optionalString()
            case "peers": peers = try r.list { () throws(WireError) in try r.address() }
            default: return false
            }
            return true
        }
        self.init(source: try r.required(source, "source"), device: device, peers: try r.required(peers, "peers"))
    }
}

extension IPsecSupport {
    /// A part this agent does not know (a later one) is skipped; a state it does not know is an error.
    init(reading r: WireReader) throws(WireError) {
        var s = IPsecSupport()
        try r.fields { key throws(WireError) in
            func state() throws(WireError) -> State? { try r.isNull() ? nil : try r.enumCase(State.self) }
            switch key {
            case "esp4": s.esp4 = try state()
            case "xfrm_user": s.xfrmUser = try state()
            case "aes_gcm": s.aesGCM = try state()
            case "xt_u32": s.xtU32 = try state()
            default: return false
            }
            return true
        }
        self = s
    }
}

extension ForwardChain {
    init(reading r: WireReader) throws(WireError) {
        var family: String?, table: String?, chain: String?, policy: String?, jumps: [String] = []
        var accepts: Bool?, endsInDrop: Bool?
        try r.fields { key throws(WireError) in
            switch key {
            case "family": family = try r.string()
            case "table": table = try r.string()
            case "chain": chain = try r.string()
            case "policy": policy = try r.policy()
            case "jumps": jumps = try r.list { () throws(WireError) in try r.string() }
            case "accepts_published": accepts = try r.bool()
            case "ends_in_drop": endsInDrop = try r.bool()
            default: return false
            }
            return true
        }
        self.init(
            family: try r.required(family, "family"), table: try r.required(table, "table"), chain: try r.required(chain, "chain"),
            policy: try r.required(policy, "policy"), jumps: jumps, acceptsPublished: try r.required(accepts, "accepts_published"),
            endsInDrop: try r.required(endsInDrop, "ends_in_drop"))
    }
}

extension JSONLine {
    fileprivate mutating func optionalState(_ state: IPsecSupport.State?) {
        if let state { string(state.rawValue) } else { raw("null") }
    }
}

extension WireReader {
    /// `10.255.0.0/16`.
    fileprivate func prefix() throws(WireError) -> CIDR {
        let text = try string()
        guard let c = CIDR(text) else { throw invalid("not a prefix (ADDRESS/LENGTH): \(InputError.escaped(text))") }
        return c
    }

    /// A chain policy: `accept` or `drop`.
    fileprivate func policy() throws(WireError) -> String {
        let text = try string()
        guard text == "accept" || text == "drop" else { throw invalid("not a chain policy (accept or drop): \(InputError.escaped(text))") }
        return text
    }
}

extension ErrorResponse: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"error\":"); w.string(error)
        if let p = protocolVersion { w.raw(",\"protocol\":"); w.int(p) }
        if let t = timeMs { w.raw(",\"time_ms\":"); w.int(Int(t)) }
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var error: String?, version: Int?, time: Int?
        try r.fields { key throws(WireError) in
            switch key {
            case "error": error = try r.string()
            case "protocol": version = try r.optionalInt()
            case "time_ms": time = try r.isNull() ? nil : try r.int(in: 0...Int(Int64.max / 2))
            default: return false
            }
            return true
        }
        self.init(error: try r.required(error, "error"), protocolVersion: version, timeMs: time.map(Int64.init))
    }
}
