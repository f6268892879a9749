// The hello and the agent's errors on the wire.

extension HelloRequest: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"protocol\":"); w.int(protocolVersion)
        if let v = toolVersion { w.raw(",\"tool_version\":"); w.string(v) }
        w.raw("}")
    }

    /// A coordinator from before protocol versions sent `{}`: protocol 1.
    public init(reading r: WireReader) throws(WireError) {
        var version = 1, tool: String?
        try r.fields { key throws(WireError) in
            switch key {
            case "protocol": version = try r.int(in: 0...Int(Int32.max))
            case "tool_version": tool = try r.optionalString()
            default: return false
            }
            return true
        }
        self.init(protocolVersion: version, toolVersion: tool)
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
        w.raw("]}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var version: Int?, agentVersion: String?, address: IPAddress?, time: Int64?, profile: String?
        var listeners: [ListenerState]?, taps: [TapState] = []
        try r.fields { key throws(WireError) in
            switch key {
            case "protocol": version = try r.int(in: 0...Int(Int32.max))
            case "agent_version": agentVersion = try r.string()
            case "address": address = try r.address()
            case "time_ms": time = try r.int()
            case "profile": profile = try r.string()
            case "listeners": listeners = try r.list { () throws(WireError) in try ListenerState(reading: r) }
            case "taps": taps = try r.list { () throws(WireError) in try TapState(reading: r) }
            default: return false
            }
            return true
        }
        self.init(
            protocolVersion: try r.required(version, "protocol"), agentVersion: try r.required(agentVersion, "agent_version"),
            address: try r.required(address, "address"), timeMs: try r.required(time, "time_ms"),
            profile: try r.required(profile, "profile"), listeners: try r.required(listeners, "listeners"), taps: taps)
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

extension ErrorResponse: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"error\":"); w.string(error)
        if let p = protocolVersion { w.raw(",\"protocol\":"); w.int(p) }
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var error: String?, version: Int?
        try r.fields { key throws(WireError) in
            switch key {
            case "error": error = try r.string()
            case "protocol": version = try r.optionalInt()
            default: return false
            }
            return true
        }
        self.init(error: try r.required(error, "error"), protocolVersion: version)
    }
}
