import Foundation
import SwarmProbeCore

/// The `swarmprobe.results/v1` document, as scripts and CI gates consume it.
///
/// It is written as a stream, small parts first: the run facts, `summary`, `nodes` (one per line),
/// `node_groups` and `findings` (the checks that are not open, grouped by cause and node group), and
/// last the big `checks` array with one check per line. A reader that wants the verdict stops after
/// `summary`; a line-oriented tool reads the checks one line at a time (each line between
/// `"checks" : [` and `]` is one JSON object, followed by a comma except the last).
public enum JSONReport {
    /// The whole document in memory, ending in a newline.
    public static func render(_ r: Results) -> String {
        let groups = CheckGroups(r)
        let out = JSONOutput()
        write(r, groups: groups, to: out) { each in
            for c in r.checks { each(c) }
        }
        return out.string
    }

    /// Streams the document to `out`: `head` gives the run facts and nodes (its `checks` are not used),
    /// `groups` the summary and findings (a first pass over the checks), and `checks` hands every check
    /// to the writer in order (the second pass). Nothing but the output buffer is held.
    public static func write(_ head: Results, groups: CheckGroups, to out: JSONOutput,
                             checks: (_ each: (CheckResult) -> Void) -> Void) {
        let summary = groups.summary(complete: head.complete)
        out.write("{\n")
        out.write("  \"schema\" : "); out.string(head.schema); out.write(",\n")
        out.write("  \"tool_version\" : "); out.string(head.toolVersion); out.write(",\n")
        out.write("  \"profile\" : "); out.string(head.profile); out.write(",\n")
        out.write("  \"started_at\" : "); out.string(head.startedAt); out.write(",\n")
        out.write("  \"duration_ms\" : \(head.durationMs),\n")
        out.write("  \"timeout_ms\" : \(head.timeoutMs),\n")
        out.write("  \"complete\" : \(head.complete),\n")
        out.write("  \"summary\" : "); out.encoded(summary); out.write(",\n")
        out.write("  \"nodes\" : [")
        for (i, n) in head.nodes.enumerated() {
            out.write(i == 0 ? "\n    " : ",\n    ")
            out.encoded(n)
        }
        out.write(head.nodes.isEmpty ? "],\n" : "\n  ],\n")
        out.write("  \"node_groups\" : {\"by\" : "); out.string(groups.groups.basis.rawValue); out.write(", \"groups\" : [")
        for g in 0..<groups.groups.count {
            out.write(g == 0 ? "\n    " : ",\n    ")
            out.write("{\"name\" : "); out.string(groups.groups.names[g]); out.write(", \"nodes\" : [")
            for (i, n) in groups.groups.members[g].enumerated() {
                if i > 0 { out.write(", ") }
                out.string(head.nodes[n].name)
            }
            out.write("]}")
        }
        out.write(groups.groups.count == 0 ? "]},\n" : "\n  ]},\n")
        out.write("  \"findings\" : [")
        var first = true
        for c in groups.causes + groups.information {
            for p in c.pairs {
                out.write(first ? "\n    " : ",\n    ")
                first = false
                finding(c, p, groups, out)
            }
        }
        out.write(first ? "],\n" : "\n  ],\n")
        out.write("  \"checks\" : [")
        var any = false
        checks { c in
            out.write(any ? ",\n    " : "\n    ")
            any = true
            check(c, out)
        }
        out.write(any ? "\n  ]\n" : "]\n")
        out.write("}\n")
    }

    /// `{"verdict" : ..., "from_group" : ..., "checks" : 62500, "sample" : {"from" : ..., "to" : ...}}`
    private static func finding(_ c: CauseGroup, _ p: GroupPair, _ groups: CheckGroups, _ out: JSONOutput) {
        out.write("{\"verdict\":"); out.string(c.verdict.rawValue)
        out.write(",\"where\":"); if let w = c.location { out.string(w.rawValue) } else { out.write("null") }
        out.write(",\"kind\":"); out.string(c.kindName)
        out.write(",\"port\":"); out.write(c.kind.port.map(String.init) ?? "null")
        out.write(",\"protocol\":"); out.string(c.kind.proto.rawValue)
        out.write(",\"required\":\(c.required)")
        out.write(",\"from_group\":"); out.string(groups.groupName(p.fromGroup))
        out.write(",\"to_group\":"); out.string(groups.groupName(p.toGroup))
        out.write(",\"checks\":\(p.checks),\"senders\":\(p.senderCount),\"targets\":\(p.targetCount)")
        out.write(",\"sample\":{\"from\":"); out.string(p.sample.from)
        out.write(",\"to\":"); out.string(p.sample.to)
        out.write(",\"detail\":"); out.string(p.sample.detail)
        out.write("}}")
    }

    /// One check on one line, the fields `CheckResult` decodes.
    static func check(_ c: CheckResult, _ out: JSONOutput) {
        out.write("{\"from\":"); out.string(c.from)
        out.write(",\"to\":"); out.string(c.to)
        out.write(",\"kind\":"); out.string(c.kind)
        out.write(",\"port\":"); out.write(c.port.map(String.init) ?? "null")
        out.write(",\"protocol\":"); out.string(c.proto.rawValue)
        out.write(",\"required\":\(c.required)")
        out.write(",\"verdict\":"); out.string(c.verdict.rawValue)
        out.write(",\"where\":"); if let w = c.location { out.string(w.rawValue) } else { out.write("null") }
        out.write(",\"detail\":"); out.string(c.detail)
        if !c.unexpectedSources.isEmpty {
            out.write(",\"unexpected_sources\":"); out.strings(c.unexpectedSources.map(\.description))
        }
        out.write(",\"evidence\":{\"sender\":")
        if let s = c.sender {
            out.write("{\"outcome\":"); out.string(s.outcome.rawValue)
            out.write(",\"attempts\":\(s.attempts)")
            if let rtt = s.rttMicros { out.write(",\"rtt_micros\":\(rtt)") }
            if let d = s.detail { out.write(",\"detail\":"); out.string(d) }
            out.write(",\"nonces\":"); out.strings(s.nonces)
            if let p = s.sourcePort { out.write(",\"source_port\":\(p)") }
            if s.sourcePorts.count > 1 { out.write(",\"source_ports\":[" + s.sourcePorts.map(String.init).joined(separator: ",") + "]") }
            out.write("}")
        } else {
            out.write("null")
        }
        out.write(",\"receiver\":")
        if let r = c.receiver {
            out.write("{")
            if let l = r.listener {
                out.write("\"listener\":{\"kind\":"); out.string(l.kind.description)
                out.write(",\"mode\":"); out.string(l.mode.rawValue)
                if let d = l.detail { out.write(",\"detail\":"); out.string(d) }
                out.write("},")
            }
            out.write("\"received\":\(r.received),\"answered\":\(r.answered),\"source_addresses\":")
            out.strings(r.sourceAddresses.map(\.description))
            if let cap = r.capture {
                var parts: [String] = []
                if let v = cap.seenAtInterface { parts.append("\"seen_at_interface\":\(v)") }
                if let v = cap.seenPastFirewall { parts.append("\"seen_past_firewall\":\(v)") }
                if let v = cap.answerSeenLeaving { parts.append("\"answer_seen_leaving\":\(v)") }
                out.write(",\"capture\":{" + parts.joined(separator: ",") + "}")
            }
            out.write("}")
        } else {
            out.write("null")
        }
        out.write("}}")
    }
}

/// Where the streamed JSON goes: a file descriptor, written in 1 MiB pieces, or memory.
public final class JSONOutput {
    private var buffer: [UInt8] = []
    private let fd: Int32?
    private var failure: Int32 = 0
    /// Bytes written so far (flushed or not).
    public private(set) var size = 0

    /// In memory: read `string` at the end.
    public init() { fd = nil }

    /// To an open file descriptor (not closed here); call `flush()` at the end.
    public init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 20)
    }

    public var string: String { String(decoding: buffer, as: UTF8.self) }

    /// The errno of the first failed write, 0 if none.
    public var error: Int32 { failure }

    func write(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        size += s.utf8.count
        if fd != nil && buffer.count >= 1 << 20 { flush() }
    }

    public func flush() {
        guard let fd, !buffer.isEmpty else { return }
        var offset = 0
        buffer.withUnsafeBytes { raw in
            while offset < raw.count && failure == 0 {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                } else {
                    offset += n
                }
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// A JSON string literal.
    func string(_ s: String) {
        var escaped = false
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5c {
            escaped = true
            break
        }
        if !escaped {
            write("\"" + s + "\"")
            return
        }
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        write(out + "\"")
    }

    func strings(_ list: [String]) {
        write("[")
        for (i, s) in list.enumerated() {
            if i > 0 { write(",") }
            string(s)
        }
        write("]")
    }

    /// A small value through the wire encoder, on one line.
    func encoded<T: Encodable>(_ value: T) {
        do {
            let data = try WireJSON.encoder(pretty: false).encode(value)
            write(String(decoding: data, as: UTF8.self))
        } catch {
            // Results hold only strings, integers, booleans and enums: encoding cannot fail.
            preconditionFailure("could not encode \(T.self): \(error)")
        }
    }
}
