/// JSON built as bytes: the control wire's messages and the results' check lines. Strings are escaped as
/// Foundation's JSONEncoder escapes them, so a results file reads the same whichever wrote a part.
public struct JSONLine {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 768) { bytes.reserveCapacity(capacity) }

    /// Room for `more` bytes beyond what is written (one allocation for a message of known size).
    public mutating func reserve(_ more: Int) { bytes.reserveCapacity(bytes.count + more) }

    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func int(_ n: Int) {
        if n < 0 { bytes.append(0x2d) }
        var v = n.magnitude
        if v == 0 {
            bytes.append(0x30)
            return
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[count] = UInt8(v % 10) + 0x30
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(d[i]) }
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, the rest as UTF-8.
    public mutating func string(_ s: String) {
        bytes.append(0x22)
        var s = s
        let plain = s.withUTF8 { u -> Bool in
            guard !u.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) else { return false }
            bytes.append(contentsOf: u)
            return true
        }
        if plain {
            bytes.append(0x22)
            return
        }
        for b in s.utf8 {
            switch b {
            case 0x22: bytes.append(0x5c); bytes.append(0x22)
            case 0x5c: bytes.append(0x5c); bytes.append(0x5c)
            case 0x0a: bytes.append(0x5c); bytes.append(0x6e)
            case 0x0d: bytes.append(0x5c); bytes.append(0x72)
            case 0x09: bytes.append(0x5c); bytes.append(0x74)
            case 0x08: bytes.append(0x5c); bytes.append(0x62)
            case 0x0c: bytes.append(0x5c); bytes.append(0x66)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes += [0x5c, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xf)]]
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }

    public mutating func ints(_ list: [Int]) {
        bytes.append(0x5b)
        for (i, n) in list.enumerated() {
            if i > 0 { bytes.append(0x2c) }
            int(n)
        }
        bytes.append(0x5d)
    }

    public mutating func strings(_ list: [String]) {
        bytes.append(0x5b)
        for (i, s) in list.enumerated() {
            if i > 0 { bytes.append(0x2c) }
            string(s)
        }
        bytes.append(0x5d)
    }
}
