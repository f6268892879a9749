// A plan and its results on the wire: a coordinator writes one plan per agent (4,000 probe orders each at a
// thousand nodes) and reads back as many reports, so both are written straight into bytes.

extension RunRequest: WireMessage {
    public func write(to w: inout JSONLine) {
        w.reserve(96 + nodes.count * 48 + probes.count * 72)
        w.raw("{\"run_id\":"); w.string(runID)
        w.raw(",\"timeout_ms\":"); w.int(timeoutMs)
        w.raw(",\"attempts\":"); w.int(attempts)
        if let n = pathMTUNeeded { w.raw(",\"path_mtu_needed\":"); w.int(n) }
        w.raw(",\"nodes\":[")
        for (i, n) in nodes.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"name\":"); w.string(n.name)
            w.raw(",\"address\":"); w.string(n.address.description)
            w.raw("}")
        }
        w.raw("],\"probes\":[")
        for (i, p) in probes.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"target\":"); w.string(p.target.description)
            w.raw(",\"kind\":"); w.string(p.kind.description)
            if p.observed { w.raw(",\"observed\":true") }
            if let t = p.timeoutMs { w.raw(",\"timeout_ms\":"); w.int(t) }
            w.raw("}")
        }
        w.raw("]}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var runID: String?, nodes: [PeerRef]?, probes: [ProbeOrder]?, timeout: Int?, attempts: Int?, mtuNeeded: Int?
        try r.fields { key throws(WireError) in
            switch key {
            case "run_id": runID = try r.string()
            case "timeout_ms": timeout = Int(try r.int())
            case "attempts": attempts = Int(try r.int())
            case "path_mtu_needed": mtuNeeded = try r.optionalInt()
            case "nodes": nodes = try r.list { () throws(WireError) in try PeerRef(reading: r) }
            case "probes": probes = try r.list { () throws(WireError) in try ProbeOrder(reading: r) }
            default: return false
            }
            return true
        }
        self.init(
            runID: try r.required(runID, "run_id"), nodes: try r.required(nodes, "nodes"), probes: try r.required(probes, "probes"),
            timeoutMs: try r.required(timeout, "timeout_ms"), attempts: try r.required(attempts, "attempts"), pathMTUNeeded: mtuNeeded)
    }
}

extension PeerRef {
    init(reading r: WireReader) throws(WireError) {
        var name: String?, address: IPAddress?
        try r.fields { key throws(WireError) in
            switch key {
            case "name": name = try r.string()
            case "address": address = try r.address()
            default: return false
            }
            return true
        }
        self.init(name: try r.required(name, "name"), address: try r.required(address, "address"))
    }
}

extension ProbeOrder {
    init(reading r: WireReader) throws(WireError) {
        var target: IPAddress?, kind: KindID?, observed = false, timeout: Int?
        try r.fields { key throws(WireError) in
            switch key {
            case "target": target = try r.address()
            case "kind": kind = try r.kind()
            case "observed": observed = try r.bool()
            case "timeout_ms": timeout = try r.optionalInt()
            default: return false
            }
            return true
        }
        self.init(target: try r.required(target, "target"), kind: try r.required(kind, "kind"), observed: observed, timeoutMs: timeout)
    }
}

extension RunResponse: WireMessage {
    public func write(to w: inout JSONLine) {
        w.reserve(64 + results.count * 170)
        w.raw("{\"run_id\":"); w.string(runID)
        w.raw(",\"results\":[")
        for (i, p) in results.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"target\":"); w.string(p.target.description)
            w.raw(",\"kind\":"); w.string(p.kind.description)
            w.raw(",\"evidence\":"); p.evidence.write(to: &w)
            w.raw("}")
        }
        w.raw("]}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var runID: String?, results: [ProbeReport]?
        try r.fields { key throws(WireError) in
            switch key {
            case "run_id": runID = try r.string()
            case "results": results = try r.list { () throws(WireError) in try ProbeReport(reading: r) }
            default: return false
            }
            return true
        }
        self.init(runID: try r.required(runID, "run_id"), results: try r.required(results, "results"))
    }
}

extension ProbeReport {
    init(reading r: WireReader) throws(WireError) {
        var target: IPAddress?, kind: KindID?, evidence: SenderEvidence?
        try r.fields { key throws(WireError) in
            switch key {
            case "target": target = try r.address()
            case "kind": kind = try r.kind()
            case "evidence": evidence = try SenderEvidence(reading: r)
            default: return false
            }
            return true
        }
        self.init(target: try r.required(target, "target"), kind: try r.required(kind, "kind"), evidence: try r.required(evidence, "evidence"))
    }
}

/// The same keys on the wire and in the results JSON (`JSONReport` writes it with this).
extension SenderEvidence: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"outcome\":"); w.string(outcome.rawValue)
        w.raw(",\"attempts\":"); w.int(attempts)
        if let rtt = rttMicros { w.raw(",\"rtt_micros\":"); w.int(rtt) }
        if let d = detail { w.raw(",\"detail\":"); w.string(d) }
        w.raw(",\"nonces\":"); w.strings(nonces)
        if let p = sourcePort { w.raw(",\"source_port\":"); w.int(p) }
        if sourcePorts.count > 1 { w.raw(",\"source_ports\":"); w.ints(sourcePorts) }
        if let m = missedAnswerMs { w.raw(",\"missed_answer_ms\":"); w.int(m) }
        if let mtu { w.raw(",\"mtu\":"); mtu.write(to: &w) }
        if let e = egressBlocked { w.raw(",\"egress_blocked\":"); w.string(e.rawValue) }
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var outcome: ProbeOutcome?, attempts: Int?, rtt: Int?, detail: String?, nonces: [String] = []
        var port: Int?, ports: [Int]?, missed: Int?, mtu: MTULadder?, egress: EgressBlock?
        try r.fields { key throws(WireError) in
            switch key {
            case "outcome": outcome = try r.enumCase(ProbeOutcome.self)
            case "attempts": attempts = try r.int(in: 0...Int(Int32.max))
            case "rtt_micros": rtt = try r.optionalInt()
            case "detail": detail = try r.optionalString()
            case "nonces": nonces = try r.list { () throws(WireError) in try r.string() }
            case "source_port": port = try r.optionalInt()
            case "source_ports": ports = try r.list { () throws(WireError) in Int(try r.int()) }
            case "missed_answer_ms": missed = try r.optionalInt()
            case "mtu": mtu = try r.isNull() ? nil : try MTULadder(reading: r)
            case "egress_blocked": egress = EgressBlock(rawValue: try r.string())  // a newer agent's way: no claim
            default: return false
            }
            return true
        }
        // `source_ports` when there were several, else the single `source_port`.
        self.init(
            outcome: try r.required(outcome, "outcome"), attempts: try r.required(attempts, "attempts"), rttMicros: rtt,
            detail: detail, nonces: nonces, sourcePorts: ports ?? port.map { [$0] } ?? [], missedAnswerMs: missed, mtu: mtu,
            egressBlocked: egress)
    }
}
