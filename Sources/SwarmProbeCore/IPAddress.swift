/// An IPv4 or IPv6 address, parsed without the C library so Core stays pure.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible, Codable {
    case v4(UInt8, UInt8, UInt8, UInt8)
    case v6([UInt16])  // exactly 8 groups

    public init?(_ text: String) {
        if let v4 = IPAddress.parseV4(Substring(text)) {
            self = v4
        } else if let v6 = IPAddress.parseV6(text) {
            self = v6
        } else {
            return nil
        }
    }

    public var isIPv4: Bool { if case .v4 = self { return true } else { return false } }

    /// 16 bytes; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). Used on the wire.
    public var bytes16: [UInt8] {
        switch self {
        case let .v4(a, b, c, d):
            return [UInt8](repeating: 0, count: 10) + [0xff, 0xff, a, b, c, d]
        case let .v6(groups):
            return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
        }
    }

    public init?(bytes16 b: [UInt8]) {
        guard b.count == 16 else { return nil }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
            self = .v4(b[12], b[13], b[14], b[15])
        } else {
            self = .v6((0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) })
        }
    }

    public var description: String {
        switch self {
        case let .v4(a, b, c, d):
            return "\(a).\(b).\(c).\(d)"
        case let .v6(g):
            // RFC 5952: compress the longest run (>= 2) of zero groups.
            var bestStart = -1, bestLen = 0, curStart = -1, curLen = 0
            for (i, v) in g.enumerated() {
                if v == 0 {
                    if curStart < 0 { curStart = i; curLen = 0 }
                    curLen += 1
                    if curLen > bestLen { bestStart = curStart; bestLen = curLen }
                } else {
                    curStart = -1
                }
            }
            let hex = g.map { String($0, radix: 16) }
            if bestLen < 2 { return hex.joined(separator: ":") }
            let head = hex[0..<bestStart].joined(separator: ":")
            let tail = hex[(bestStart + bestLen)...].joined(separator: ":")
            return head + "::" + tail
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let a = IPAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an IP address: \(s)")
        }
        self = a
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    private static func parseV4(_ s: Substring) -> IPAddress? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                let v = Int(p), v <= 255
            else { return nil }
            if p.count > 1 && p.first == "0" { return nil }  // no octal-looking octets
            out.append(UInt8(v))
        }
        return .v4(out[0], out[1], out[2], out[3])
    }

    private static func parseV6(_ text: String) -> IPAddress? {
        guard text.contains(":"), !text.contains("%") else { return nil }
        var groups: [UInt16] = []
        var tailGroups: [UInt16] = []
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ s: String, allowV4Tail: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var result: [UInt16] = []
            let items = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if allowV4Tail && i == items.count - 1 && item.contains(".") {
                    guard case let .v4(a, b, c, d)? = parseV4(item) else { return nil }
                    result.append(UInt16(a) << 8 | UInt16(b))
                    result.append(UInt16(c) << 8 | UInt16(d))
                    continue
                }
                guard (1...4).contains(item.count), item.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                    let v = UInt16(item, radix: 16)
                else { return nil }
                result.append(v)
            }
            return result
        }
        if halves.count == 2 {
            guard let h = parseGroups(halves[0], allowV4Tail: false),
                let t = parseGroups(halves[1], allowV4Tail: true),
                h.count + t.count <= 7
            else { return nil }
            groups = h
            tailGroups = t
            return normalized(groups + [UInt16](repeating: 0, count: 8 - h.count - t.count) + tailGroups)
        }
        guard let all = parseGroups(text, allowV4Tail: true), all.count == 8 else { return nil }
        return normalized(all)
    }

    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address: one value, however it is written.
    private static func normalized(_ g: [UInt16]) -> IPAddress {
        if g[0..<5].allSatisfy({ $0 == 0 }) && g[5] == 0xffff {
            return .v4(UInt8(g[6] >> 8), UInt8(g[6] & 0xff), UInt8(g[7] >> 8), UInt8(g[7] & 0xff))
        }
        return .v6(g)
    }
}
