// What an agent received, on the wire: the coordinator reads one log per agent per check, each with a few
// hundred receive entries and capture records.

extension LogResponse: WireMessage {
    public func write(to w: inout JSONLine) {
        w.reserve(256 + capture.count * 170 + entries.count * 230)
        w.raw("{\"run_id\":"); w.string(runID)
        w.raw(truncated ? ",\"truncated\":true" : ",\"truncated\":false")
        w.raw(",\"capture_lost\":"); w.int(captureLost)
        w.raw(",\"entries\":[")
        for (i, e) in entries.enumerated() {
            if i > 0 { w.raw(",") }
            e.write(to: &w)
        }
        w.raw("],\"capture\":[")
        for (i, c) in capture.enumerated() {
            if i > 0 { w.raw(",") }
            c.write(to: &w)
        }
        w.raw("],\"missed_answers\":[")
        for (i, m) in missedAnswers.enumerated() {
            if i > 0 { w.raw(",") }
            m.write(to: &w)
        }
        w.raw("]")
        // Only when there are some: an older coordinator skips the key, a newer one reads none from an older agent.
        if !neverLeft.isEmpty {
            w.raw(",\"never_left\":[")
            for (i, p) in neverLeft.enumerated() {
                if i > 0 { w.raw(",") }
                p.write(to: &w)
            }
            w.raw("]")
        }
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var runID: String?, entries: [ReceiveLogEntry]?, truncated: Bool?
        var capture: [CaptureRecord] = [], lost = 0, missed: [MissedAnswer] = [], neverLeft: [NeverLeftProbe] = []
        try r.fields { key throws(WireError) in
            switch key {
            case "run_id": runID = try r.string()
            case "truncated": truncated = try r.bool()
            case "capture_lost": lost = try r.int(in: 0...Int.max)
            case "entries": entries = try r.list { () throws(WireError) in try ReceiveLogEntry(reading: r) }
            case "capture": capture = try r.list { () throws(WireError) in try CaptureRecord(reading: r) }
            case "missed_answers": missed = try r.list { () throws(WireError) in try MissedAnswer(reading: r) }
            case "never_left": neverLeft = try r.list { () throws(WireError) in try NeverLeftProbe(reading: r) }
            default: return false
            }
            return true
        }
        self.init(
            runID: try r.required(runID, "run_id"), entries: try r.required(entries, "entries"),
            truncated: try r.required(truncated, "truncated"), capture: capture, captureLost: lost, missedAnswers: missed,
            neverLeft: neverLeft)
    }
}

extension ReceiveLogEntry: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"nonce\":"); w.string(nonce)
        w.raw(",\"run_id\":"); w.string(runID)
        w.raw(",\"kind\":"); w.string(kind.description)
        w.raw(",\"claimed_sender\":"); w.string(claimedSender.description)
        w.raw(",\"source_address\":"); w.string(sourceAddress.description)
        w.raw(",\"source_port\":"); w.int(sourcePort)
        w.raw(",\"time_ms\":"); w.int(Int(timeMs))
        w.raw(answered ? ",\"answered\":true}" : ",\"answered\":false}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var nonce: String?, runID: String?, kind: KindID?, claimed: IPAddress?, source: IPAddress?
        var port: Int?, time: Int64?, answered: Bool?
        try r.fields { key throws(WireError) in
            switch key {
            case "nonce": nonce = try r.string()
            case "run_id": runID = try r.string()
            case "kind": kind = try r.kind()
            case "claimed_sender": claimed = try r.address()
            case "source_address": source = try r.address()
            case "source_port": port = try r.int(in: 0...65535)
            case "time_ms": time = try r.int()
            case "answered": answered = try r.bool()
            default: return false
            }
            return true
        }
        self.init(
            nonce: try r.required(nonce, "nonce"), runID: try r.required(runID, "run_id"), kind: try r.required(kind, "kind"),
            claimedSender: try r.required(claimed, "claimed_sender"), sourceAddress: try r.required(source, "source_address"),
            sourcePort: try r.required(port, "source_port"), timeMs: try r.required(time, "time_ms"),
            answered: try r.required(answered, "answered"))
    }
}

extension CaptureRecord: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"tap\":"); w.string(tap.rawValue)
        w.raw(",\"direction\":"); w.string(direction.rawValue)
        w.raw(",\"kind\":"); w.string(kind.description)
        w.raw(",\"peer\":"); w.string(peer.description)
        if let port = peerPort { w.raw(",\"peer_port\":"); w.int(port) }
        if let nonce { w.raw(",\"nonce\":"); w.string(nonce) }
        if let tcp { w.raw(",\"tcp\":"); w.string(tcp) }
        w.raw(",\"time_ms\":"); w.int(Int(timeMs))
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var tap: TapState.Tap?, direction: Direction?, kind: KindID?, peer: IPAddress?
        var port: Int?, nonce: String?, tcp: String?, time: Int64?
        try r.fields { key throws(WireError) in
            switch key {
            case "tap": tap = try r.enumCase(TapState.Tap.self)
            case "direction": direction = try r.enumCase(Direction.self)
            case "kind": kind = try r.kind()
            case "peer": peer = try r.address()
            case "peer_port": port = try r.optionalInt()
            case "nonce": nonce = try r.optionalString()
            case "tcp": tcp = try r.optionalString()
            case "time_ms": time = try r.int()
            default: return false
            }
            return true
        }
        self.init(
            tap: try r.required(tap, "tap"), direction: try r.required(direction, "direction"), kind: try r.required(kind, "kind"),
            peer: try r.required(peer, "peer"), peerPort: port, nonce: nonce, tcp: tcp, timeMs: try r.required(time, "time_ms"))
    }
}

extension MissedAnswer: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"peer\":"); w.string(peer.description)
        w.raw(",\"kind\":"); w.string(kind.description)
        w.raw(",\"time_ms\":"); w.int(Int(timeMs))
        w.raw(",\"after_ms\":"); w.int(afterMs)
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var peer: IPAddress?, kind: KindID?, time: Int64?, after: Int?
        try r.fields { key throws(WireError) in
            switch key {
            case "peer": peer = try r.address()
            case "kind": kind = try r.kind()
            case "time_ms": time = try r.int()
            case "after_ms": after = Int(try r.int())
            default: return false
            }
            return true
        }
        self.init(
            peer: try r.required(peer, "peer"), kind: try r.required(kind, "kind"), timeMs: try r.required(time, "time_ms"),
            afterMs: try r.required(after, "after_ms"))
    }
}

extension NeverLeftProbe: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"peer\":"); w.string(peer.description)
        w.raw(",\"kind\":"); w.string(kind.description)
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var peer: IPAddress?, kind: KindID?
        try r.fields { key throws(WireError) in
            switch key {
            case "peer": peer = try r.address()
            case "kind": kind = try r.kind()
            default: return false
            }
            return true
        }
        self.init(peer: try r.required(peer, "peer"), kind: try r.required(kind, "kind"))
    }
}
