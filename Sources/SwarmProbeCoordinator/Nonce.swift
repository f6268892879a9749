import SwarmProbeCore

/// A probe nonce: 16 random bytes, which the agents write as 32 hex digits.
struct Nonce: Hashable, Sendable {
    var hi: UInt64
    var lo: UInt64

    /// nil unless `text` is exactly 32 hex digits.
    init?(hex text: String) {
        var hi: UInt64 = 0, lo: UInt64 = 0, n = 0
        for c in text.utf8 {
            let v: UInt64
            switch c {
            case 0x30...0x39: v = UInt64(c - 0x30)
            case 0x61...0x66: v = UInt64(c - 0x61 + 10)
            case 0x41...0x46: v = UInt64(c - 0x41 + 10)
            default: return nil
            }
            if n < 16 { hi = hi << 4 | v } else if n < 32 { lo = lo << 4 | v } else { return nil }
            n += 1
        }
        guard n == 32 else { return nil }
        self.hi = hi
        self.lo = lo
    }

    init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    /// Lower-case hex, as the agents wrote it.
    var hex: String {
        String(unsafeUninitializedCapacity: 32) { buf in
            for i in 0..<16 {
                let a = UInt8((hi >> (60 - 4 * UInt64(i))) & 0xf), b = UInt8((lo >> (60 - 4 * UInt64(i))) & 0xf)
                buf[i] = a < 10 ? 0x30 + a : 0x57 + a
                buf[16 + i] = b < 10 ? 0x30 + b : 0x57 + b
            }
            return 32
        }
    }
}
