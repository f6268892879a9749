/// An IPv4 or IPv6 prefix (`10.0.1.0/24`, `::/0`), as EC2 rules and `agent --address` write it.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPAddress(String(parts[0])), let n = Int(parts[1]) else { return nil }
        guard n >= 0, n <= (a.isIPv4 ? 32 : 128) else { return nil }
        address = a
        prefixLength = n
    }

    public init(host: IPAddress) {
        address = host
        prefixLength = host.isIPv4 ? 32 : 128
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// Whether `a` is inside the prefix; IPv4 prefixes hold only IPv4 addresses and IPv6 only IPv6.
    public func contains(_ a: IPAddress) -> Bool {
        guard a.isIPv4 == address.isIPv4 else { return false }
        let offset = a.isIPv4 ? 96 : 0  // bytes16 holds IPv4 as ::ffff:a.b.c.d
        let x = a.bytes16, y = address.bytes16
        var bits = prefixLength
        var i = offset / 8
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xff : ~(0xff >> UInt8(bits))
            if x[i] & mask != y[i] & mask { return false }
            bits -= 8
            i += 1
        }
        return true
    }
}

extension CIDR: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let cidr = CIDR(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a prefix (ADDRESS/LENGTH): \(text)")
        }
        self = cidr
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// Whether the two prefixes share any address.
    public func overlaps(_ other: CIDR) -> Bool {
        let shorter = prefixLength <= other.prefixLength ? self : other
        let longer = prefixLength <= other.prefixLength ? other : self
        return shorter.contains(longer.address)
    }
}
