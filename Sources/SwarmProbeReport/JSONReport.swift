import Foundation
import SwarmProbeCore

/// The `swarmprobe.results/v1` document, as scripts and CI gates consume it.
///
/// It is written as a stream, small parts first: the run facts, `summary`, `nodes` (one per line),
/// `node_groups` and `findings` (the checks that are not open, grouped by cause and node group, then the
/// node findings: host problems, each with a `node`), and
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
    public static func write(
        _ head: Results, groups: CheckGroups, to out: JSONOutput,
        checks: (_ each: (CheckResult) -> Void) -> Void
    ) {
        document(head, groups: groups, to: out) {
            var any = false
            checks { c in
                out.write(any ? ",\n    " : "\n    ")
                any = true
                var l = JSONLine()
                check(c, into: &l)
                out.write(bytes: l.bytes)
            }
            return any
        }
    }

    /// The same document, its checks handed over as blocks already rendered (`checkBlock`, possibly on
    /// other threads: `Merge.forEachBlock`), in order; empty blocks are skipped.
    public static func write(
        _ head: Results, groups: CheckGroups, to out: JSONOutput,
        checkBlocks: (_ emit: ([UInt8]) -> Void) -> Void
    ) {
        document(head, groups: groups, to: out) {
            var any = false
            checkBlocks { bytes in
                guard !bytes.isEmpty else { return }
                out.write(any ? ",\n    " : "\n    ")
                any = true
                out.write(bytes: bytes)
            }
            return any
        }
    }

    /// Everything around the checks; `checks` writes them (each after its separator) and says if there were any.
    private static func document(_ head: Results, groups: CheckGroups, to out: JSONOutput, checks: () -> Bool) {
        let summary = groups.summary(complete: head.complete)
        out.write("{\n")
        out.write("  \"schema\" : "); out.string(head.schema); out.write(",\n")
        out.write("  \"tool_version\" : "); out.string(head.toolVersion); out.write(",\n")
        out.write("  \"profile\" : "); out.string(head.profile); out.write(",\n")
        out.write("  \"started_at\" : "); out.string(head.startedAt); out.write(",\n")
        out.write("  \"duration_ms\" : \(head.durationMs),\n")
        out.write("  \"timeout_ms\" : \(head.timeoutMs),\n")
        if let policy = head.timeoutPolicy { out.write("  \"timeout_policy\" : "); out.string(policy); out.write(",\n") }
        if let attempts = head.attempts { out.write("  \"attempts\" : \(attempts),\n") }
        out.write("  \"complete\" : \(head.complete),\n")
        if let p = head.phasesMs { out.write("  \"phases_ms\" : "); out.encoded(p); out.write(",\n") }
        out.write("  \"summary\" : "); out.encoded(summary); out.write(",\n")
        if let mesh = head.routingMesh { out.write("  \"routing_mesh\" : "); out.encoded(mesh); out.write(",\n") }
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
        // Node findings after the path findings; a script tells them apart by their `node` key.
        for f in groups.nodeFindings {
            out.write(first ? "\n    " : ",\n    ")
            first = false
            out.write("{\"node\":"); out.string(f.node)
            out.write(",\"code\":"); out.string(f.code)
            out.write(",\"detail\":"); out.string(f.detail)
            out.write(",\"fix\":"); if let fix = f.fix { out.string(fix) } else { out.write("null") }
            out.write(",\"required\":\(f.required)")
            if let port = f.port { out.write(",\"port\":"); out.string(port.description) }
            if let peers = f.peers {
                out.write(",\"peers\":[")
                for (i, p) in peers.enumerated() {
                    if i > 0 { out.write(",") }
                    out.string(p)
                }
                out.write("]")
            }
            out.write("}")
        }
        out.write(first ? "],\n" : "\n  ],\n")
        out.write("  \"checks\" : [")
        let any = checks()
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
        out.write(",\"reason\":"); out.string(p.sample.reason.rawValue)
        out.write(",\"detail\":"); out.string(p.sample.detail)
        out.write("}}")
    }

    /// One check on one line, the fields `CheckResult` decodes. Built as bytes in one buffer and written
    /// once: at four million checks the writer's per-call overhead was a third of the time.
    static func check(_ c: CheckResult, into l: inout JSONLine) {
        l.raw("{\"from\":"); l.string(c.from)
        l.raw(",\"to\":"); l.string(c.to)
        l.raw(",\"kind\":"); l.string(c.kind)
        l.raw(",\"port\":"); if let p = c.port { l.int(p) } else { l.raw("null") }
        l.raw(",\"protocol\":"); l.string(c.proto.rawValue)
        l.raw(c.required ? ",\"required\":true" : ",\"required\":false")
        l.raw(",\"verdict\":"); l.string(c.verdict.rawValue)
        l.raw(",\"where\":"); if let w = c.location { l.string(w.rawValue) } else { l.raw("null") }
        l.raw(",\"reason\":"); l.string(c.reason.rawValue)
        l.raw(",\"detail\":"); l.string(c.detail)
        if !c.unexpectedSources.isEmpty {
            l.raw(",\"unexpected_sources\":"); l.strings(c.unexpectedSources.map(\.description))
        }
        if let p = c.published {
            l.raw(",\"published\":{\"service\":")
            if let s = p.service { l.string(s) } else { l.raw("null") }
            l.raw(",\"mode\":"); l.string(p.mode.rawValue)
            l.raw("}")
        }
        if let m = c.pathMTU {
            l.raw(",\"path_mtu\":"); l.int(m.bytes)
            if let limit = m.limit { l.raw(",\"path_mtu_limit\":"); l.string(limit.rawValue) }
            if let below = m.below { l.raw(",\"path_mtu_below\":"); l.int(below) }
            if let needed = m.needed { l.raw(",\"path_mtu_needed\":"); l.int(needed) }
        }
        l.raw(",\"evidence\":{\"sender\":")
        if let s = c.sender { s.write(to: &l) } else { l.raw("null") }
        l.raw(",\"receiver\":")
        if let r = c.receiver {
            l.raw("{")
            if let lis = r.listener {
                l.raw("\"listener\":")
                lis.write(to: &l)
                l.raw(",")
            }
            l.raw("\"received\":"); l.int(r.received)
            l.raw(",\"answered\":"); l.int(r.answered)
            l.raw(",\"source_addresses\":"); l.strings(r.sourceAddresses.map(\.description))
            if let cap = r.capture {
                l.raw(",\"capture\":{")
                var first = true
                for (name, value) in [
                    ("seen_at_interface", cap.seenAtInterface), ("seen_past_firewall", cap.seenPastFirewall),
                    ("answer_seen_leaving", cap.answerSeenLeaving),
                ] {
                    guard let value else { continue }
                    if !first { l.raw(",") }
                    first = false
                    l.string(name)
                    l.raw(value ? ":true" : ":false")
                }
                l.raw("}")
            }
            l.raw("}")
        } else {
            l.raw("null")
        }
        l.raw("}}")
    }

    /// The JSON of a block of checks, one per line, joined as the document joins them: what a worker of
    /// `Merge.forEachBlock` renders for `write(_:groups:to:checkBlocks:)`.
    public static func checkBlock(_ checks: (_ body: (CheckResult) -> Void) -> Void) -> [UInt8] {
        var l = JSONLine()
        var any = false
        checks { c in
            if any { l.raw(",\n    ") }
            any = true
            check(c, into: &l)
        }
        return l.bytes
    }
}
