/// The log response written straight into bytes, exactly as `WireJSON.encoder()` writes it (sorted keys,
/// no escaped slashes, optionals left out), without Foundation's encoder: for a node of a 32-node mesh that
/// encoder was 12 % of the agent's CPU (a few hundred capture records and receive entries per run, each a
/// keyed container of eight fields). `WireLogTests` holds the two outputs equal byte for byte.
extension LogResponse {
    public func wireJSON() -> [UInt8] {
        var w = JSONBytes()
        w.bytes.reserveCapacity(256 + capture.count * 170 + entries.count * 230)
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
            w.raw(",\"time_ms\":"); w.int(r.timeMs)
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
            w.raw(",\"timeMs\":"); w.int(e.timeMs)
            w.raw("}")
        }
        w.raw("],\"runID\":"); w.string(runID)
        w.raw(",\"truncated\":"); w.raw(truncated ? "true" : "false")
        w.raw("}")
        return w.bytes
    }
}

/// A minimal JSON byte writer: strings escaped as JSONEncoder escapes them (quote, backslash and control
/// characters; `/` left alone, as `.withoutEscapingSlashes` does).
struct JSONBytes {
    var bytes: [UInt8] = []

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func int<I: BinaryInteger>(_ v: I) {
        bytes.append(contentsOf: String(v).utf8)
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
