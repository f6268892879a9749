import SwarmProbeCore

/// The 64-bit key a nonce is found by in one target's receive log and capture records: the first
/// 8 of its 16 random bytes (a false match among one target's few thousand probes has odds of about
/// 1e-15), or a hash of any text that is not a 16-byte hex nonce.
enum LookupKey {
    static func nonce(_ text: String) -> UInt64 {
        if let n = Nonce(hex: text) { return n.hi }
        return fnv(Array(text.utf8))
    }

    /// A TCP segment of a check: the sender's address and source port, and the kind.
    static func tcp(_ peer: IPAddress, _ port: Int, _ kind: KindID) -> UInt64 {
        var h = FNV()
        switch peer {
        case let .v4(a, b, c, d):
            h.add(4); h.add(a); h.add(b); h.add(c); h.add(d)
        case let .v6(groups):
            h.add(6)
            for g in groups { h.add(UInt8(g >> 8)); h.add(UInt8(g & 0xff)) }
        }
        h.add(UInt8(truncatingIfNeeded: port >> 16)); h.add(UInt8(truncatingIfNeeded: port >> 8)); h.add(UInt8(truncatingIfNeeded: port))
        h.add(kind.proto == .tcp ? 1 : kind.proto == .udp ? 2 : 3)
        let kp = kind.port ?? 0
        h.add(UInt8(truncatingIfNeeded: kp >> 8)); h.add(UInt8(truncatingIfNeeded: kp))
        return h.value
    }

    static func fnv(_ bytes: [UInt8]) -> UInt64 {
        var h = FNV()
        for b in bytes { h.add(b) }
        return h.value
    }

    struct FNV {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        mutating func add(_ b: UInt8) {
            value = (value ^ UInt64(b)) &* 0x100_0000_01b3
        }
    }
}
