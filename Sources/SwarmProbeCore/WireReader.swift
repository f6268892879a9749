/// Why a control message was refused, naming the field: ``field `probes[3].kind`: "7946/xdp" is not a traffic kind``.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `probes[3].kind`; empty for the message as a whole.
    public var field: String
    public var problem: String
    /// The field is absent (the problem then reads "is missing").
    public var missing: Bool

    public init(field: String, problem: String, missing: Bool = false) {
        self.field = field
        self.problem = problem
        self.missing = missing
    }

    public var description: String {
        if field.isEmpty { return problem }
        return missing ? "field `\(field)` is missing" : "field `\(field)`: \(problem)"
    }
}

/// A strict JSON reader over bytes (RFC 8259) for the control wire: objects, arrays, strings with every
/// escape, integers, booleans and null; no floats. It knows where it is (`probes[3].kind`), so every
/// refusal names the field. Unknown keys are skipped, a key given twice is refused.
public final class WireReader {
    private let b: [UInt8]
    private var i = 0
    private var path: [Segment] = []

    private enum Segment {
        case key(String)
        case index(Int)
    }

    public init(_ bytes: [UInt8]) { b = bytes }

    // MARK: Errors

    /// Where the reader is, as a field path.
    public var field: String {
        var out = ""
        for s in path {
            switch s {
            case let .key(k): out += out.isEmpty ? k : "." + k
            case let .index(n): out += "[\(n)]"
            }
        }
        return out
    }

    /// The value just read (or about to be) is wrong: `problem` says how.
    public func invalid(_ problem: String) -> WireError { WireError(field: field, problem: problem) }

    /// `key` of the object being read is absent.
    public func missing(_ key: String) -> WireError {
        let here = field
        return WireError(field: here.isEmpty ? key : here + "." + key, problem: "is missing", missing: true)
    }

    private func malformed(_ what: String) -> WireError { invalid("not valid JSON: \(what) at byte \(i)") }

    // MARK: Structure

    private func ws() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private func peek() throws(WireError) -> UInt8 {
        ws()
        guard i < b.count else { throw malformed("unexpected end") }
        return b[i]
    }

    private func take(_ c: UInt8, _ what: String) throws(WireError) {
        guard try peek() == c else { throw malformed("expected \(what)") }
        i += 1
    }

    /// Nothing but whitespace left.
    public func end() throws(WireError) {
        ws()
        guard i == b.count else { throw malformed("unexpected bytes after the message") }
    }

    /// An object, each member handed to `member` with its key (read the value, or `skipValue()`).
    public func object(_ member: (String) throws(WireError) -> Void) throws(WireError) {
        guard try peek() == UInt8(ascii: "{") else { throw invalid("expected an object") }
        var seen: [String] = []
        try container(UInt8(ascii: "{"), UInt8(ascii: "}")) { () throws(WireError) in
            let key = try string()
            path.append(.key(key))
            guard !seen.contains(key) else { throw invalid("appears twice") }
            seen.append(key)
            try take(UInt8(ascii: ":"), "':'")
            try member(key)
            path.removeLast()
        }
    }

    /// An array, `element` called once per element.
    public func array(_ element: () throws(WireError) -> Void) throws(WireError) {
        guard try peek() == UInt8(ascii: "[") else { throw invalid("expected an array") }
        var n = 0
        try container(UInt8(ascii: "["), UInt8(ascii: "]")) { () throws(WireError) in
            path.append(.index(n))
            try element()
            path.removeLast()
            n += 1
        }
    }

    /// `open`, items separated by commas (none is fine, a trailing comma is not), `close`; 64 deep at most.
    private func container(_ open: UInt8, _ close: UInt8, _ item: () throws(WireError) -> Void) throws(WireError) {
        try take(open, "'\(Character(Unicode.Scalar(open)))'")
        guard path.count < 64 else { throw malformed("nested too deep") }
        if try peek() == close {
            i += 1
            return
        }
        while true {
            try item()
            let c = try peek()
            i += 1
            if c == close { return }
            guard c == UInt8(ascii: ",") else { throw malformed("expected ',' or '\(Character(Unicode.Scalar(close)))'") }
        }
    }

    // MARK: Values

    /// Reads `null` if that is what comes next.
    public func isNull() throws(WireError) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    public func bool() throws(WireError) -> Bool {
        switch try peek() {
        case UInt8(ascii: "t"):
            try literal("true")
            return true
        case UInt8(ascii: "f"):
            try literal("false")
            return false
        default:
            throw invalid("expected true or false")
        }
    }

    private func literal(_ word: StaticString) throws(WireError) {
        ws()
        let n = word.utf8CodeUnitCount
        let same = i + n <= b.count && word.withUTF8Buffer { w in (0..<n).allSatisfy { b[i + $0] == w[$0] } }
        guard same else { throw malformed("expected \(word)") }
        i += n
    }

    /// An integer that fits in 64 bits: no leading zeros, fraction or exponent.
    public func int() throws(WireError) -> Int64 {
        let c = try peek()
        guard c == UInt8(ascii: "-") || (0x30...0x39).contains(c) else { throw invalid("expected an integer") }
        let negative = c == UInt8(ascii: "-")
        if negative { i += 1 }
        let start = i
        var value: Int64 = 0
        while i < b.count, (0x30...0x39).contains(b[i]) {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(b[i] - 0x30))
            guard !o1, !o2 else { throw invalid("integer out of range") }
            value = s
            i += 1
        }
        guard i > start, !(b[start] == 0x30 && i - start > 1) else { throw malformed("bad number") }
        if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            throw invalid("expected an integer")
        }
        return negative ? -value : value
    }

    /// An integer within `range`.
    public func int(in range: ClosedRange<Int>) throws(WireError) -> Int {
        let v = try int()
        guard v >= Int64(range.lowerBound), v <= Int64(range.upperBound) else { throw invalid("\(v) is outside \(range)") }
        return Int(v)
    }

    public func string() throws(WireError) -> String {
        guard try peek() == UInt8(ascii: "\"") else { throw invalid("expected a string") }
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { i += 1 }
        guard i < b.count else { throw malformed("unterminated string") }
        if b[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            return try validated(b[start..<i])
        }
        var out = Array(b[start..<i])
        while true {
            guard i < b.count else { throw malformed("unterminated string") }
            let c = b[i]
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return try validated(out[...])
            case UInt8(ascii: "\\"):
                guard i < b.count else { throw malformed("unterminated string") }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                            throw malformed("lone surrogate")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw malformed("lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw malformed("bad escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw malformed("bad escape")
                }
            default:
                guard c >= 0x20 else { throw malformed("control character in a string") }
                out.append(c)
            }
        }
    }

    private func hex4() throws(WireError) -> UInt32 {
        guard i + 4 <= b.count else { throw malformed("bad escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            i += 1
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw malformed("bad escape")
            }
            v = v << 4 | d
        }
        return v
    }

    private func validated(_ bytes: ArraySlice<UInt8>) throws(WireError) -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw invalid("not UTF-8") }
        return s
    }

    /// Skips one value of any kind (an unknown key's).
    public func skipValue() throws(WireError) {
        switch try peek() {
        case UInt8(ascii: "{"): try object { _ throws(WireError) in try skipValue() }
        case UInt8(ascii: "["): try array { () throws(WireError) in try skipValue() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try int()
        }
    }

    // MARK: Typed values

    /// `null` or a string.
    public func optionalString() throws(WireError) -> String? { try isNull() ? nil : try string() }

    /// `null` or an integer.
    public func optionalInt() throws(WireError) -> Int? { try isNull() ? nil : Int(try int()) }

    public func address() throws(WireError) -> IPAddress {
        let text = try string()
        guard let a = IPAddress(text) else { throw invalid("not an IP address: \(InputError.escaped(text))") }
        return a
    }

    public func kind() throws(WireError) -> KindID {
        let text = try string()
        guard let k = KindID(text) else { throw invalid("not a traffic kind: \(InputError.escaped(text))") }
        return k
    }

    /// A string naming one case of `E`.
    public func enumCase<E: RawRepresentable>(_: E.Type) throws(WireError) -> E where E.RawValue == String {
        let text = try string()
        guard let v = E(rawValue: text) else { throw invalid("unknown value \"\(InputError.escaped(text))\"") }
        return v
    }

    /// An array of `element`s.
    public func list<T>(_ element: () throws(WireError) -> T) throws(WireError) -> [T] {
        var out: [T] = []
        try array { () throws(WireError) in out.append(try element()) }
        return out
    }
}
