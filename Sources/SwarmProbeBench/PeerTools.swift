import Foundation
import SwarmProbeCore

/// The ground truth of one check, as the benchmark's confusion matrices have it (rows).
public enum TruthClass: String, CaseIterable, Codable, Sendable {
    case open
    case blockedNetwork = "blocked-network"
    case blockedHostFirewall = "blocked-host-firewall"
    case agentDown = "agent-down"
    /// Anything else `LabScenario.expected` can say (return path, unknown layer, closed): not in the faulted plan.
    case other

    public init(verdict: Verdict, location: Where?) {
        switch (verdict, location) {
        case (.open, _): self = .open
        case (.blocked, .network?): self = .blockedNetwork
        case (.blocked, .hostFirewall?): self = .blockedHostFirewall
        case (.agentDown, _): self = .agentDown
        default: self = .other
        }
    }
}

/// What a tool answered for one check (columns).
public enum ToolAnswer: String, CaseIterable, Codable, Sendable {
    case open
    case blockedNetwork = "blocked-network"
    case blockedHostFirewall = "blocked-host-firewall"
    /// Blocked, and the tool cannot say (or said another layer: return path).
    case blockedUnknown = "blocked (layer unknown)"
    case closed = "closed/refused"
    case agentDown = "agent-down"
    case undecided

    /// swarmprobe's verdict and `where` as an answer.
    public init(verdict: Verdict, location: Where?) {
        switch (verdict, location) {
        case (.open, _): self = .open
        case (.blocked, .network?): self = .blockedNetwork
        case (.blocked, .hostFirewall?): self = .blockedHostFirewall
        case (.blocked, _): self = .blockedUnknown
        case (.closed, _): self = .closed
        case (.agentDown, _): self = .agentDown
        case (.inconclusive, _): self = .undecided
        }
    }

    /// An nmap port state: open -> open, filtered -> blocked (layer unknown), closed -> closed/refused,
    /// open|filtered (and anything else) -> undecided.
    public init(nmapState: String?) {
        switch nmapState {
        case "open": self = .open
        case "filtered": self = .blockedUnknown
        case "closed": self = .closed
        default: self = .undecided
        }
    }

    /// Is this answer exactly the truth?
    public func matches(_ truth: TruthClass) -> Bool {
        switch (truth, self) {
        case (.open, .open), (.blockedNetwork, .blockedNetwork), (.blockedHostFirewall, .blockedHostFirewall),
            (.agentDown, .agentDown):
            return true
        default: return false
        }
    }
}

/// Rows: ground truth; columns: what a tool answered. Counts of checks.
public struct ConfusionMatrix: Codable, Sendable, Equatable {
    public private(set) var counts: [String: [String: Int]] = [:]
    public private(set) var total = 0
    public private(set) var exact = 0

    public init() {}

    public mutating func add(truth: TruthClass, answer: ToolAnswer) {
        counts[truth.rawValue, default: [:]][answer.rawValue, default: 0] += 1
        total += 1
        if answer.matches(truth) { exact += 1 }
    }

    public func count(_ truth: TruthClass, _ answer: ToolAnswer) -> Int { counts[truth.rawValue]?[answer.rawValue] ?? 0 }
    public func rowTotal(_ truth: TruthClass) -> Int { counts[truth.rawValue]?.values.reduce(0, +) ?? 0 }
    /// Exact-class matches / checks (1 when there are no checks).
    public var accuracy: Double { total == 0 ? 1 : Double(exact) / Double(total) }

    /// A markdown table: one row per truth class present (all four named ones always), one column per answer.
    public func markdown() -> String {
        let rows = TruthClass.allCases.filter { $0 != .other || rowTotal($0) > 0 }
        var s = "| truth \\ answer | " + ToolAnswer.allCases.map(\.rawValue).joined(separator: " | ") + " | checks |\n"
        s += "|---|" + String(repeating: "---:|", count: ToolAnswer.allCases.count + 1) + "\n"
        for t in rows {
            s +=
                "| \(t.rawValue) | "
                + ToolAnswer.allCases.map { a in
                    let n = count(t, a)
                    return a.matches(t) ? "**\(n)**" : "\(n)"
                }.joined(separator: " | ") + " | \(rowTotal(t)) |\n"
        }
        return s
    }
}

/// The port states in nmap's XML output (`-oX`), by target address, protocol and port.
public struct NmapReport: Sendable, Equatable {
    public struct Key: Hashable, Sendable {
        public var address: String
        public var proto: String
        public var port: Int
        public init(address: String, proto: String, port: Int) {
            self.address = address
            self.proto = proto
            self.port = port
        }
    }
    public var states: [Key: String] = [:]
    /// `runstats/finished/@elapsed`, seconds.
    public var elapsed: Double?
    /// `runstats/finished/@exit` (`success` or `error`).
    public var exit: String?

    public func state(_ address: String, _ proto: String, _ port: Int) -> String? {
        states[Key(address: address, proto: proto, port: port)]
    }

    /// Reads what this benchmark needs of nmap's XML: each `<host>`'s IPv4 address and its `<port>`s'
    /// `<state state=...>`, and `<finished>`. A small tag scanner (no libxml): nmap writes one tag per
    /// element, attributes in double quotes, entities only in text we do not read.
    public static func parse(_ xml: String) -> NmapReport {
        var report = NmapReport()
        var address: String?
        var pending: [(proto: String, port: Int, state: String)] = []
        var port: (proto: String, port: Int)?
        for tag in tags(xml) {
            switch tag.name {
            case "host":
                address = nil
                pending = []
            case "/host":
                if let address {
                    for p in pending { report.states[Key(address: address, proto: p.proto, port: p.port)] = p.state }
                }
                address = nil
                pending = []
            case "address" where tag.attributes["addrtype"] == "ipv4" || tag.attributes["addrtype"] == "ipv6":
                address = tag.attributes["addr"]
            case "port":
                if let proto = tag.attributes["protocol"], let p = tag.attributes["portid"].flatMap(Int.init) { port = (proto, p) }
            case "state":
                if let port, let state = tag.attributes["state"] { pending.append((port.proto, port.port, state)) }
            case "/port":
                port = nil
            case "finished":
                report.elapsed = tag.attributes["elapsed"].flatMap(Double.init)
                report.exit = tag.attributes["exit"]
            default:
                continue
            }
        }
        return report
    }

    struct Tag {
        var name: String
        var attributes: [String: String]
    }

    /// Start and end tags with their attributes; comments, declarations and processing instructions skipped.
    static func tags(_ xml: String) -> [Tag] {
        var out: [Tag] = []
        let b = Array(xml.utf8)
        var i = 0
        while i < b.count {
            guard b[i] == UInt8(ascii: "<") else { i += 1; continue }
            guard let end = b[i...].firstIndex(of: UInt8(ascii: ">")) else { break }
            if i + 1 < b.count, b[i + 1] == UInt8(ascii: "!") || b[i + 1] == UInt8(ascii: "?") {
                // Comments may hold '>' (nmap puts its command line there): skip to "-->".
                if b[i...].starts(with: Array("<!--".utf8)) {
                    var j = i + 4
                    while j + 2 < b.count && !(b[j] == UInt8(ascii: "-") && b[j + 1] == UInt8(ascii: "-") && b[j + 2] == UInt8(ascii: ">")) { j += 1 }
                    i = j + 3
                } else {
                    i = end + 1
                }
                continue
            }
            let inner = String(decoding: b[(i + 1)..<end], as: UTF8.self)
            out.append(parseTag(inner))
            i = end + 1
        }
        return out
    }

    static func parseTag(_ inner: String) -> Tag {
        var text = Substring(inner)
        if text.hasSuffix("/") { text = text.dropLast() }
        let name = String(text.prefix { !$0.isWhitespace })
        var attributes: [String: String] = [:]
        var rest = text.dropFirst(name.count)
        while let eq = rest.firstIndex(of: "=") {
            let key = rest[..<eq].trimmingCharacters(in: .whitespaces)
            let afterEq = rest[rest.index(after: eq)...]
            guard let q1 = afterEq.firstIndex(where: { $0 == "\"" || $0 == "'" }) else { break }
            let quote = afterEq[q1]
            let valueStart = afterEq.index(after: q1)
            guard let q2 = afterEq[valueStart...].firstIndex(of: quote) else { break }
            attributes[key] = String(afterEq[valueStart..<q2])
            rest = afterEq[afterEq.index(after: q2)...]
        }
        return Tag(name: name, attributes: attributes)
    }
}

/// One `nc -z` attempt as the benchmark's loop reports it.
public enum NcResult {
    /// `nc -v -z` exit status and what it printed: success -> open (`nc -u -z` also "succeeds" on silence),
    /// "refused" -> closed/refused, a timeout (or any other failure) -> blocked (layer unknown).
    /// OpenBSD `nc -u -z` says nothing when it fails: it fails fast only on an ICMP error to its datagram
    /// (port unreachable from a REJECT or an empty port: refused), so a silent UDP failure is closed/refused.
    public static func classify(status: Int32, output: String, udp: Bool = false) -> ToolAnswer {
        if status == 0 { return .open }
        let o = output.lowercased()
        if o.contains("refused") { return .closed }
        if o.contains("timed out") || o.contains("operation now in progress") { return .blockedUnknown }
        if o.contains("unreachable") || o.contains("no route") { return .blockedUnknown }
        if udp && o.trimmingCharacters(in: .whitespaces).isEmpty { return .closed }
        return .blockedUnknown
    }

    /// The shell loop one node runs: every target and kind in turn, one line per attempt:
    /// `R <address> <proto> <port> <status> <nc's message>`. Addresses and ports are checked by the caller.
    public static func script(targets: [(address: String, kind: KindID)], wait: Int = 1) -> String {
        var s = ""
        for t in targets {
            guard let port = t.kind.port, t.kind.proto != .esp else { continue }
            let u = t.kind.proto == .udp ? "-u " : ""
            // `$o` unquoted: nc's message on the same line, its words joined by single spaces.
            s += "o=$(nc -v -z \(u)-w \(wait) \(t.address) \(port) 2>&1); rc=$?; echo \"R \(t.address) \(t.kind.proto.rawValue) \(port) $rc\" $o\n"
        }
        return s
    }

    /// Parses the loop's output into answers keyed like nmap's.
    public static func parse(_ output: String) -> [NmapReport.Key: ToolAnswer] {
        var out: [NmapReport.Key: ToolAnswer] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("R ") {
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
            guard f.count >= 5, let port = Int(f[3]), let status = Int32(f[4]) else { continue }
            let message = f.count > 5 ? String(f[5]) : ""
            out[NmapReport.Key(address: String(f[1]), proto: String(f[2]), port: port)] = classify(
                status: status, output: message, udp: f[2] == "udp")
        }
        return out
    }
}
