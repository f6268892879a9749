/// A control message, written and read by hand: one codec for the wire, one key style (snake_case).
/// Foundation's JSON coders never touch the wire: a coordinator reads a log of hundreds of capture records
/// per agent per check, and one reader per message keeps the errors alike (they name the field).
public protocol WireMessage: Sendable {
    func write(to w: inout JSONLine)
    init(reading r: WireReader) throws(WireError)
}

public enum WireCodec {
    public static func encode(_ message: some WireMessage) -> [UInt8] {
        var w = JSONLine(capacity: 256)
        message.write(to: &w)
        return w.bytes
    }

    /// The message in `bytes`, or a one-line error naming `source` and the field.
    public static func decode<T: WireMessage>(_: T.Type, from bytes: [UInt8], source: String) throws(InputError) -> T {
        let r = WireReader(bytes)
        do {
            let value = try T(reading: r)
            try r.end()
            return value
        } catch {
            throw InputError(source: source, error.description)
        }
    }
}

/// Reads an object whose members `member` takes (returning false for a key it does not know, which is
/// skipped), then checks with `done` that what it needs arrived.
extension WireReader {
    func fields(_ member: (String) throws(WireError) -> Bool) throws(WireError) {
        try object { key throws(WireError) in
            if try !member(key) { try skipValue() }
        }
    }

    /// `value`, or the error that `key` is missing.
    func required<T>(_ value: T?, _ key: String) throws(WireError) -> T {
        guard let value else { throw missing(key) }
        return value
    }
}
