/// Reads the host facts out of what the kernel and nft print. Pure: the agent hands in the text, so every
/// parser is tested on saved outputs. Whatever cannot be read is nil, never an error.
public enum HostFactsParser {
    /// `ethtool -k IF` (`feature: on|off [fixed]` per line, after a `Features for IF:` header): each feature's state.
    public static func ethtoolFeatures(_ text: String) -> [String: Bool] {
        var out: [String: Bool] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = String(parts[0].drop { $0 == " " || $0 == "\t" })
            let value = parts[1].split(separator: " ").first.map(String.init)
            guard !name.isEmpty, !name.contains(" "), let value, value == "on" || value == "off" else { continue }
            out[name] = value == "on"
        }
        return out
    }

    /// `/proc/sys/net/ipv4/ip_forward`: `1` or `0`.
    public static func ipForward(_ text: String) -> Bool? {
        switch text.trimmingWhitespace {
        case "1": return true
        case "0": return false
        default: return nil
        }
    }

    /// `/proc/net/route`: the main table's IPv4 routes, destination and mask in hex in the kernel's byte
    /// order (little-endian on every host this runs on). Routes with no device (`*`: unreachable,
    /// blackhole) are left out; nil when the text is not that table (an empty one is: a namespace with no
    /// address prints nothing at all).
    public static func routes(_ text: String) -> [HostRoute]? {
        var routes: [HostRoute] = []
        for (i, line) in text.split(separator: "\n").enumerated() {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if i == 0 && f.first == "Iface" { continue }
            guard f.count >= 8, let destination = UInt32(f[1], radix: 16), let mask = UInt32(f[7], radix: 16),
                let length = prefixLength(mask: mask)
            else { return nil }
            let device = String(f[0])
            guard device != "*" else { continue }
            let b = destination.littleEndian
            let address = IPAddress.v4(UInt8(b & 0xff), UInt8(b >> 8 & 0xff), UInt8(b >> 16 & 0xff), UInt8(b >> 24))
            guard let cidr = CIDR("\(address)/\(length)") else { return nil }
            routes.append(HostRoute(destination: cidr, device: device))
        }
        return routes
    }

    /// A netmask as /proc/net/route writes it (first octet in the low byte) as a prefix length; nil when
    /// its ones are not contiguous.
    static func prefixLength(mask: UInt32) -> Int? {
        let m = mask.littleEndian.byteSwapped  // the first octet in the high byte
        let n = m.nonzeroBitCount
        return m == (n == 0 ? 0 : UInt32.max << UInt32(32 - n)) ? n : nil
    }

    /// What the routing mesh depends on in `nft list ruleset`.
    public struct Ruleset: Sendable, Equatable {
        public var forwardPolicy: String?
        public var forwardChains: [ForwardChain]
        public var ingressPorts: [PublishedPort]?
    }

    /// The forward hook's base chains (IPv4: families `ip` and `inet`) and the ports the nat table's
    /// `DOCKER-INGRESS` chain redirects, from `nft list ruleset` as iptables-nft, ufw, firewalld and native
    /// rulesets print it.
    public static func ruleset(_ text: String) -> Ruleset {
        let tables = NftText.parse(text)
        var chains: [ForwardChain] = []
        var ingress: [PublishedPort]?
        for t in tables {
            if t.family == "ip" && t.name == "nat", let c = t.chains.first(where: { $0.name == ForwardChain.dockerIngress }) {
                var ports = ingress ?? []
                for rule in c.rules where rule.words.contains("dnat") {
                    if let p = dport(rule.words), !ports.contains(p) { ports.append(p) }
                }
                ingress = ports
            }
            guard t.family == "ip" || t.family == "inet" else { continue }
            for c in t.chains where c.hook == "forward" {
                var jumps: [String] = []
                for r in c.rules { if let j = r.jump, !jumps.contains(j) { jumps.append(j) } }
                chains.append(
                    ForwardChain(
                        family: t.family, table: t.name, chain: c.name, policy: c.policy ?? "accept", jumps: jumps,
                        acceptsPublished: acceptsPublished(c, in: t), endsInDrop: c.rules.last?.dropsEverything ?? false))
            }
        }
        let policy: String? = chains.isEmpty ? nil : chains.contains { $0.policy == "drop" } ? "drop" : "accept"
        return Ruleset(forwardPolicy: policy, forwardChains: chains, ingressPorts: ingress)
    }

    /// Whether `chain` or a chain it reaches in its table lets new forwarded connections to a published port through.
    static func acceptsPublished(_ chain: NftText.Chain, in table: NftText.Table) -> Bool {
        var seen: Set<String> = [], pending = [chain.name]
        while let name = pending.popLast() {
            guard !seen.contains(name) else { continue }
            seen.insert(name)
            if name == ForwardChain.dockerIngress { return true }
            guard let c = table.chains.first(where: { $0.name == name }) else { continue }
            for r in c.rules {
                if r.acceptsPublished { return true }
                if let j = r.jump { pending.append(j) }
            }
        }
        return false
    }

    /// `tcp dport 8080` (or udp, sctp) among a rule's words.
    static func dport(_ words: [String]) -> PublishedPort? {
        for i in words.indices.dropLast(2) where words[i + 1] == "dport" {
            let proto: TransportProtocol
            switch words[i] {
            case "tcp": proto = .tcp
            case "udp": proto = .udp
            default: continue
            }
            guard let port = Int(words[i + 2]), (1...65535).contains(port) else { continue }
            return KindID(proto: proto, port: port)
        }
        return nil
    }
}

/// `nft list ruleset` as blocks and statements: tables, their chains, each chain's hook, policy and rules.
/// Sets, maps, flowtables and named objects are skipped; a statement whose braces span lines is joined.
enum NftText {
    struct Table {
        var family: String
        var name: String
        var chains: [Chain] = []
    }

    struct Chain {
        var name: String
        var hook: String?
        var policy: String?
        var rules: [Rule] = []
    }

    struct Rule {
        /// The rule split at blanks, counters taken out (`counter packets 3 bytes 180`).
        var words: [String]

        init(_ text: String) {
            var w = text.split(separator: " ").map(String.init)
            var i = 0
            while i < w.count {
                if w[i] == "counter" {
                    let n = i + 4 < w.count && w[i + 1] == "packets" && w[i + 3] == "bytes" ? 5 : 1
                    w.removeSubrange(i..<i + n)
                } else {
                    i += 1
                }
            }
            words = w
        }

        /// `jump X` or `goto X`.
        var jump: String? {
            guard let i = words.firstIndex(where: { $0 == "jump" || $0 == "goto" }), i + 1 < words.count else { return nil }
            return words[i + 1].trimming("\"")
        }

        /// Matches nothing and drops or rejects (`drop`, `reject with icmpx admin-prohibited`).
        var dropsEverything: Bool {
            guard let first = words.first else { return false }
            if first == "drop" { return words.count == 1 }
            if first == "reject" { return words.count == 1 || words[1] == "with" }
            return false
        }

        /// Accepts new forwarded connections to a published port: `ct status dnat accept`, an accept of
        /// what leaves by docker_gwbridge (not only established traffic), or an accept of everything.
        var acceptsPublished: Bool {
            guard words.last == "accept" else { return false }
            if words == ["accept"] { return true }
            let text = words.joined(separator: " ")
            if text.contains("ct status dnat") || text.contains("ct status & dnat") { return true }
            let established = words.contains("ct") && words.contains("state")
            return text.contains("oifname \"docker_gwbridge\"") && !established
        }
    }

    /// Blocks nest by braces: `table F N {` at the top, `chain N {` (and sets, maps, ...) inside a table.
    static func parse(_ text: String) -> [Table] {
        enum Block {
            case table
            case chain
            case other
        }
        var tables: [Table] = []
        var stack: [Block] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.trimmingWhitespace }
        var i = 0
        while i < lines.count {
            var line = lines[i]
            i += 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            var balance = braces(line)
            if line == "}" {
                _ = stack.popLast()
                continue
            }
            if line.hasSuffix("{") && balance == 1 && (stack.isEmpty || stack.last == .table) {
                let words = line.dropLast().split(separator: " ").map(String.init)
                if stack.isEmpty {
                    stack.append(.table)
                    if words.count >= 3 && words[0] == "table" {
                        tables.append(Table(family: words[1], name: words[2]))
                    } else if words.count == 2 && words[0] == "table" {
                        tables.append(Table(family: "ip", name: words[1]))  // nft's default family
                    } else {
                        tables.append(Table(family: "", name: ""))
                    }
                } else if words.count >= 2 && words[0] == "chain" && !tables.isEmpty {
                    stack.append(.chain)
                    tables[tables.count - 1].chains.append(Chain(name: words[1].trimming("\"")))
                } else {
                    stack.append(.other)
                }
                continue
            }
            // A statement; one whose braces open over several lines ends where they close.
            while balance > 0 && i < lines.count {
                line += " " + lines[i]
                balance += braces(lines[i])
                i += 1
            }
            guard stack.last == .chain, !tables.isEmpty, !tables[tables.count - 1].chains.isEmpty else { continue }
            let t = tables.count - 1, c = tables[t].chains.count - 1
            if line.hasPrefix("type ") && line.contains(" hook ") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == ";" }).map(String.init)
                if let h = words.firstIndex(of: "hook"), h + 1 < words.count { tables[t].chains[c].hook = words[h + 1] }
                if let p = words.firstIndex(of: "policy"), p + 1 < words.count { tables[t].chains[c].policy = words[p + 1] }
            } else if line.hasPrefix("policy ") {
                tables[t].chains[c].policy = line.dropFirst(7).trimming(";")
            } else if !line.hasPrefix("comment ") {
                tables[t].chains[c].rules.append(Rule(line))
            }
        }
        return tables
    }

    /// Opening minus closing braces outside quoted strings.
    static func braces(_ line: String) -> Int {
        var n = 0, quoted = false
        for c in line.utf8 {
            switch c {
            case UInt8(ascii: "\""): quoted.toggle()
            case UInt8(ascii: "{") where !quoted: n += 1
            case UInt8(ascii: "}") where !quoted: n -= 1
            default: break
            }
        }
        return n
    }
}

extension StringProtocol {
    /// Without leading and trailing blanks, tabs and line ends (Core does without Foundation's trimming).
    var trimmingWhitespace: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[first...last])
    }

    func trimming(_ c: Character) -> String {
        guard let first = firstIndex(where: { $0 != c }), let last = lastIndex(where: { $0 != c }) else { return "" }
        return String(self[first...last])
    }
}
