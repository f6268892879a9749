/// The log response written straight into bytes, exactly as `WireJSON.encoder()` writes it (sorted keys,
/// no escaped slashes, optionals left out), without Foundation's encoder: for a node of a 32-node mesh that
/// encoder was 12 % of the agent's CPU (a few hundred capture records and receive entries per run, each a
/// keyed container of eight fields). `WireLogTests` holds the two outputs equal byte for byte.
extension LogResponse {
    public func wireJSON() -> [UInt8] {
        var w = JSONLine(capacity: 256 + capture.count * 170 + entries.count * 230)
        w.raw("{\"capture\":[")
        for (i, r) in capture.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"direction\":"); w.string(r.direction.rawValue)
            w.raw(",\"kind\":"); w.string(r.kind.description)
            if let nonce = r.nonce { w.raw(",\"nonce\":"); w.string(nonce) }
            w.raw(",\"peer\":"); w.string(r.peer.description)
            if let port = r.peerPort { w.raw(",\"peer_port\":"); w.int(port) }
            w.raw(",\"tap\":"); w.string(r.tap.rawValue)
            if let tcp = r.tcp { w.raw(",\"tcp\":"); w.string(tcp) }
            w.raw(",\"time_ms\":"); w.int(Int(r.timeMs))
            w.raw("}")
        }
        w.raw("],\"captureLost\":"); w.int(captureLost)
        w.raw(",\"entries\":[")
        for (i, e) in entries.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"answered\":"); w.raw(e.answered ? "true" : "false")
            w.raw(",\"claimedSender\":"); w.string(e.claimedSender.description)
            w.raw(",\"kind\":"); w.string(e.kind.description)
            w.raw(",\"nonce\":"); w.string(e.nonce)
            w.raw(",\"runID\":"); w.string(e.runID)
            w.raw(",\"sourceAddress\":"); w.string(e.sourceAddress.description)
            w.raw(",\"sourcePort\":"); w.int(e.sourcePort)
            w.raw(",\"timeMs\":"); w.int(Int(e.timeMs))
            w.raw("}")
        }
        w.raw("],\"missedAnswers\":[")
        for (i, m) in missedAnswers.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"after_ms\":"); w.int(m.afterMs)
            w.raw(",\"kind\":"); w.string(m.kind.description)
            w.raw(",\"peer\":"); w.string(m.peer.description)
            w.raw(",\"time_ms\":"); w.int(Int(m.timeMs))
            w.raw("}")
        }
        w.raw("],\"runID\":"); w.string(runID)
        w.raw(",\"truncated\":"); w.raw(truncated ? "true" : "false")
        w.raw("}")
        return w.bytes
    }
}

/// Types with a decoder of their own for the control wire, tried before Foundation's; anything it does not
/// fully understand it refuses, and Foundation's decoder then decides (and words the error).
public protocol FastWireDecodable {
    init(wireJSON bytes: [UInt8]) throws(WireReaderError)
}

extension LogResponse: FastWireDecodable {
    /// The coordinator reads one log per agent per check; Foundation's decoder was three quarters of its
    /// CPU in a 32-node mesh. Any key order and whitespace, unknown keys skipped.
    public init(wireJSON bytes: [UInt8]) throws(WireReaderError) {
        let r = WireReader(bytes)
        var runID: String?, entries: [ReceiveLogEntry]?, truncated: Bool?
        var capture: [CaptureRecord] = [], lost = 0, missed: [MissedAnswer] = []
        try r.object { key throws(WireReaderError) in
            switch key {
            case "runID": runID = try r.string()
            case "truncated": truncated = try r.bool()
            case "captureLost": lost = Int(try r.int())
            case "entries":
                var list: [ReceiveLogEntry] = []
                try r.array { () throws(WireReaderError) in list.append(try ReceiveLogEntry(reading: r)) }
                entries = list
            case "capture":
                try r.array { () throws(WireReaderError) in capture.append(try CaptureRecord(reading: r)) }
            case "missedAnswers":
                try r.array { () throws(WireReaderError) in missed.append(try MissedAnswer(reading: r)) }
            default: try r.skipValue()
            }
        }
        try r.end()
        guard let runID, let entries, let truncated else { throw WireReaderError() }
        self.init(runID: runID, entries: entries, truncated: truncated, capture: capture, captureLost: lost, missedAnswers: missed)
    }
}

extension ReceiveLogEntry {
    init(reading r: WireReader) throws(WireReaderError) {
        var nonce: String?, runID: String?, kind: KindID?, claimed: IPAddress?, source: IPAddress?
        var port: Int?, time: Int64?, answered: Bool?
        try r.object { key throws(WireReaderError) in
            switch key {
            case "nonce": nonce = try r.string()
            case "runID": runID = try r.string()
            case "kind": kind = KindID(try r.string())
            case "claimedSender": claimed = IPAddress(try r.string())
            case "sourceAddress": source = IPAddress(try r.string())
            case "sourcePort": port = Int(try r.int())
            case "timeMs": time = try r.int()
            case "answered": answered = try r.bool()
            default: try r.skipValue()
            }
        }
        guard let nonce, let runID, let kind, let claimed, let source, let port, let time, let answered else { throw WireReaderError() }
        self.init(nonce: nonce, runID: runID, kind: kind, claimedSender: claimed, sourceAddress: source, sourcePort: port,
                  timeMs: time, answered: answered)
    }
}

extension CaptureRecord {
    init(reading r: WireReader) throws(WireReaderError) {
        var tap: TapState.Tap?, direction: Direction?, kind: KindID?, peer: IPAddress?
        var port: Int?, nonce: String?, tcp: String?, time: Int64?
        try r.object { key throws(WireReaderError) in
            switch key {
            case "tap": tap = TapState.Tap(rawValue: try r.string())
            case "direction": direction = Direction(rawValue: try r.string())
            case "kind": kind = KindID(try r.string())
            case "peer": peer = IPAddress(try r.string())
            case "peer_port": port = try r.isNull() ? nil : Int(try r.int())
            case "nonce": nonce = try r.isNull() ? nil : try r.string()
            case "tcp": tcp = try r.isNull() ? nil : try r.string()
            case "time_ms": time = try r.int()
            default: try r.skipValue()
            }
        }
        guard let tap, let direction, let kind, let peer, let time else { throw WireReaderError() }
        self.init(tap: tap, direction: direction, kind: kind, peer: peer, peerPort: port, nonce: nonce, tcp: tcp, timeMs: time)
    }
}

extension MissedAnswer {
    init(reading r: WireReader) throws(WireReaderError) {
        var peer: IPAddress?, kind: KindID?, time: Int64?, after: Int?
        try r.object { key throws(WireReaderError) in
            switch key {
            case "peer": peer = IPAddress(try r.string())
            case "kind": kind = KindID(try r.string())
            case "time_ms": time = try r.int()
            case "after_ms": after = Int(try r.int())
            default: try r.skipValue()
            }
        }
        guard let peer, let kind, let time, let after else { throw WireReaderError() }
        self.init(peer: peer, kind: kind, timeMs: time, afterMs: after)
    }
}

/// The reader refused its input (see `FastWireDecodable`); no detail: Foundation's decoder says what is wrong.
public struct WireReaderError: Error {}

/// A strict JSON reader over bytes (RFC 8259): objects, arrays, strings with every escape, integers, booleans
/// and null. No floats: a number with a fraction or exponent is refused, like anything else unexpected.
public final class WireReader {
    private let b: [UInt8]
    private var i = 0
    private var depth = 0

    public init(_ bytes: [UInt8]) { b = bytes }

    private func ws() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private func take(_ c: UInt8) throws(WireReaderError) {
        ws()
        guard i < b.count, b[i] == c else { throw WireReaderError() }
        i += 1
    }

    private func peek() throws(WireReaderError) -> UInt8 {
        ws()
        guard i < b.count else { throw WireReaderError() }
        return b[i]
    }

    /// Nothing but whitespace left.
    public func end() throws(WireReaderError) {
        ws()
        guard i == b.count else { throw WireReaderError() }
    }

    public func object(_ member: (String) throws(WireReaderError) -> Void) throws(WireReaderError) {
        var seen: [String] = []  // a key twice: refused (Foundation decides what it means)
        try container(UInt8(ascii: "{"), UInt8(ascii: "}")) { () throws(WireReaderError) in
            let key = try string()
            guard !seen.contains(key) else { throw WireReaderError() }
            seen.append(key)
            try take(UInt8(ascii: ":"))
            try member(key)
        }
    }

    public func array(_ element: () throws(WireReaderError) -> Void) throws(WireReaderError) {
        try container(UInt8(ascii: "["), UInt8(ascii: "]"), element)
    }

    /// `open`, items separated by commas (none at all is fine, a trailing one is not), `close`; 64 deep at most.
    private func container(_ open: UInt8, _ close: UInt8, _ item: () throws(WireReaderError) -> Void) throws(WireReaderError) {
        try take(open)
        depth += 1
        guard depth <= 64 else { throw WireReaderError() }
        if try peek() == close {
            i += 1
            depth -= 1
            return
        }
        while true {
            try item()
            let c = try peek()
            i += 1
            if c == close { break }
            guard c == UInt8(ascii: ",") else { throw WireReaderError() }
        }
        depth -= 1
    }

    public func isNull() throws(WireReaderError) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    public func bool() throws(WireReaderError) -> Bool {
        if try peek() == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        try literal("false")
        return false
    }

    private func literal(_ word: StaticString) throws(WireReaderError) {
        ws()
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw WireReaderError() }
        let same = word.withUTF8Buffer { w in (0..<n).allSatisfy { b[i + $0] == w[$0] } }
        guard same else { throw WireReaderError() }
        i += n
    }

    /// An integer that fits in 64 bits; no leading zeros, no fraction, no exponent.
    public func int() throws(WireReaderError) -> Int64 {
        ws()
        var negative = false
        if i < b.count, b[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        let start = i
        var value: Int64 = 0
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(b[i] - 0x30))
            guard !o1, !o2 else { throw WireReaderError() }
            value = s
            i += 1
        }
        guard i > start, !(b[start] == 0x30 && i - start > 1) else { throw WireReaderError() }
        if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") { throw WireReaderError() }
        return negative ? -value : value
    }

    public func string() throws(WireReaderError) -> String {
        try take(UInt8(ascii: "\""))
        let start = i
        // Fast path: no escapes.
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { i += 1 }
        guard i < b.count else { throw WireReaderError() }
        if b[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            return try validated(b[start..<i])
        }
        var out = Array(b[start..<i])
        while true {
            guard i < b.count else { throw WireReaderError() }
            let c = b[i]
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return try validated(out[...])
            case UInt8(ascii: "\\"):
                guard i < b.count else { throw WireReaderError() }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw WireReaderError() }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw WireReaderError() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw WireReaderError() }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw WireReaderError()
                }
            default:
                guard c >= 0x20 else { throw WireReaderError() }
                out.append(c)
            }
        }
    }

    private func hex4() throws(WireReaderError) -> UInt32 {
        guard i + 4 <= b.count else { throw WireReaderError() }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            i += 1
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw WireReaderError()
            }
            v = v << 4 | d
        }
        return v
    }

    private func validated(_ bytes: ArraySlice<UInt8>) throws(WireReaderError) -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw WireReaderError() }
        return s
    }

    /// Skips one value of any kind (an unknown key's).
    public func skipValue() throws(WireReaderError) {
        switch try peek() {
        case UInt8(ascii: "{"): try object { _ throws(WireReaderError) in try skipValue() }
        case UInt8(ascii: "["): try array { () throws(WireReaderError) in try skipValue() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try int()
        }
    }
}

/// The run response written straight into bytes, exactly as `WireJSON.encoder()` writes it, and read back
/// without Foundation: the coordinator reads one per agent per check (124 probe reports from a node of a
/// 32-node mesh, 3,996 at a thousand nodes), and Foundation's decoder spent ~90 ms of the coordinator's CPU
/// on a 32-node check, while the last agents' answers were still coming in. `WireRunTests` holds both
/// equal to Foundation's.
extension RunResponse: FastWireDecodable {
    public func wireJSON() -> [UInt8] {
        var w = JSONLine(capacity: 64 + results.count * 170)
        w.raw("{\"results\":[")
        for (i, r) in results.enumerated() {
            if i > 0 { w.raw(",") }
            let e = r.evidence
            w.raw("{\"evidence\":{\"attempts\":"); w.int(e.attempts)
            if let detail = e.detail { w.raw(",\"detail\":"); w.string(detail) }
            if let missed = e.missedAnswerMs { w.raw(",\"missed_answer_ms\":"); w.int(missed) }
            w.raw(",\"nonces\":"); w.strings(e.nonces)
            w.raw(",\"outcome\":"); w.string(e.outcome.rawValue)
            if let rtt = e.rttMicros { w.raw(",\"rtt_micros\":"); w.int(rtt) }
            if let port = e.sourcePort { w.raw(",\"source_port\":"); w.int(port) }
            if e.sourcePorts.count > 1 { w.raw(",\"source_ports\":"); w.ints(e.sourcePorts) }
            w.raw("},\"kind\":"); w.string(r.kind.description)
            w.raw(",\"target\":"); w.string(r.target.description)
            w.raw("}")
        }
        w.raw("],\"runID\":"); w.string(runID)
        w.raw("}")
        return w.bytes
    }

    /// Any key order and whitespace, unknown keys skipped; anything else (a kind or address that does not
    /// parse, a missing field) is refused, and Foundation's decoder words the error.
    public init(wireJSON bytes: [UInt8]) throws(WireReaderError) {
        let r = WireReader(bytes)
        var runID: String?, results: [ProbeReport]?
        try r.object { key throws(WireReaderError) in
            switch key {
            case "runID": runID = try r.string()
            case "results":
                var list: [ProbeReport] = []
                try r.array { () throws(WireReaderError) in list.append(try ProbeReport(reading: r)) }
                results = list
            default: try r.skipValue()
            }
        }
        try r.end()
        guard let runID, let results else { throw WireReaderError() }
        self.init(runID: runID, results: results)
    }
}

extension ProbeReport {
    init(reading r: WireReader) throws(WireReaderError) {
        var target: IPAddress?, kind: KindID?, evidence: SenderEvidence?
        try r.object { key throws(WireReaderError) in
            switch key {
            case "target": target = IPAddress(try r.string())
            case "kind": kind = KindID(try r.string())
            case "evidence": evidence = try SenderEvidence(reading: r)
            default: try r.skipValue()
            }
        }
        guard let target, let kind, let evidence else { throw WireReaderError() }
        self.init(target: target, kind: kind, evidence: evidence)
    }
}

extension SenderEvidence {
    init(reading r: WireReader) throws(WireReaderError) {
        var outcome: ProbeOutcome?, attempts: Int?, rtt: Int?, detail: String?, nonces: [String] = []
        var port: Int?, ports: [Int]?, missed: Int?
        try r.object { key throws(WireReaderError) in
            switch key {
            case "outcome": outcome = ProbeOutcome(rawValue: try r.string())
            case "attempts": attempts = Int(try r.int())
            case "rtt_micros": rtt = try r.isNull() ? nil : Int(try r.int())
            case "detail": detail = try r.isNull() ? nil : try r.string()
            case "nonces":
                guard !(try r.isNull()) else { return }
                try r.array { () throws(WireReaderError) in nonces.append(try r.string()) }
            case "source_port": port = try r.isNull() ? nil : Int(try r.int())
            case "missed_answer_ms": missed = try r.isNull() ? nil : Int(try r.int())
            case "source_ports":
                guard !(try r.isNull()) else { return }
                var list: [Int] = []
                try r.array { () throws(WireReaderError) in list.append(Int(try r.int())) }
                ports = list
            default: try r.skipValue()
            }
        }
        guard let outcome, let attempts else { throw WireReaderError() }
        // As the Codable init: `source_ports` when present, else the single `source_port`.
        self.init(outcome: outcome, attempts: attempts, rttMicros: rtt, detail: detail, nonces: nonces,
                  sourcePorts: ports ?? port.map { [$0] } ?? [], missedAnswerMs: missed)
    }
}

/// The plan written straight into bytes, exactly as `WireJSON.encoder()` writes it, and read back without
/// Foundation: a coordinator writes one per agent (4,000 probe orders each at a thousand nodes) and each
/// agent reads its own before it can send a probe. `WireRunTests` holds both equal to Foundation's.
extension RunRequest: FastWireDecodable, FastWireEncodable {
    public func wireJSON() -> [UInt8] {
        var w = JSONLine(capacity: 96 + nodes.count * 48 + probes.count * 72)
        w.raw("{\"attempts\":"); w.int(attempts)
        w.raw(",\"nodes\":[")
        for (i, n) in nodes.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"address\":"); w.string(n.address.description)
            w.raw(",\"name\":"); w.string(n.name)
            w.raw("}")
        }
        w.raw("],\"probes\":[")
        for (i, p) in probes.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"kind\":"); w.string(p.kind.description)
            w.raw(p.observed ? ",\"observed\":true" : ",\"observed\":false")
            w.raw(",\"target\":"); w.string(p.target.description)
            if let t = p.timeoutMs { w.raw(",\"timeoutMs\":"); w.int(t) }
            w.raw("}")
        }
        w.raw("],\"runID\":"); w.string(runID)
        w.raw(",\"timeoutMs\":"); w.int(timeoutMs)
        w.raw("}")
        return w.bytes
    }

    public init(wireJSON bytes: [UInt8]) throws(WireReaderError) {
        let r = WireReader(bytes)
        var runID: String?, nodes: [PeerRef]?, probes: [ProbeOrder]?, timeout: Int?, attempts: Int?
        try r.object { key throws(WireReaderError) in
            switch key {
            case "runID": runID = try r.string()
            case "timeoutMs": timeout = Int(try r.int())
            case "attempts": attempts = Int(try r.int())
            case "nodes":
                var list: [PeerRef] = []
                try r.array { () throws(WireReaderError) in
                    var name: String?, address: IPAddress?
                    try r.object { key throws(WireReaderError) in
                        switch key {
                        case "name": name = try r.string()
                        case "address": address = IPAddress(try r.string())
                        default: try r.skipValue()
                        }
                    }
                    guard let name, let address else { throw WireReaderError() }
                    list.append(PeerRef(name: name, address: address))
                }
                nodes = list
            case "probes":
                var list: [ProbeOrder] = []
                try r.array { () throws(WireReaderError) in
                    var target: IPAddress?, kind: KindID?, observed = false, timeout: Int?
                    try r.object { key throws(WireReaderError) in
                        switch key {
                        case "target": target = IPAddress(try r.string())
                        case "kind": kind = KindID(try r.string())
                        case "observed": observed = try r.isNull() ? false : try r.bool()
                        case "timeoutMs": timeout = try r.isNull() ? nil : Int(try r.int())
                        default: try r.skipValue()
                        }
                    }
                    guard let target, let kind else { throw WireReaderError() }
                    list.append(ProbeOrder(target: target, kind: kind, observed: observed, timeoutMs: timeout))
                }
                probes = list
            default: try r.skipValue()
            }
        }
        try r.end()
        guard let runID, let nodes, let probes, let timeout, let attempts else { throw WireReaderError() }
        self.init(runID: runID, nodes: nodes, probes: probes, timeoutMs: timeout, attempts: attempts)
    }
}

/// Types that write their own control-wire JSON, byte for byte what `WireJSON.encoder()` writes.
public protocol FastWireEncodable {
    func wireJSON() -> [UInt8]
}

extension LogResponse: FastWireEncodable {}
extension RunResponse: FastWireEncodable {}
