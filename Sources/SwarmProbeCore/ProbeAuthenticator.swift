import Crypto

/// HMAC-SHA256 under the probe key with its key schedule (the inner and outer pads, hashed) computed once:
/// every probe, echo and captured packet is signed or checked with a copy of it, rather than building it
/// (and a `SymmetricKey`) per packet.
/// `@unchecked Sendable`: `base` is a `let` of value type that is only ever copied, never mutated; a copy
/// that is updated gets its own hash state (copy on write).
public struct ProbeAuthenticator: @unchecked Sendable {
    private let base: HMAC<SHA256>

    public init(_ key: SymmetricKey) {
        base = HMAC<SHA256>(key: key)
    }

    public init(keyBytes: [UInt8]) {
        self.init(SymmetricKey(data: keyBytes))
    }

    /// The 32-byte code of `data`.
    public func mac(_ data: [UInt8]) -> [UInt8] {
        var h = base
        h.update(data: data)
        return Array(h.finalize())
    }

    /// Whether `code` is the code of `data`, compared in constant time.
    public func isValid(_ code: ArraySlice<UInt8>, for data: ArraySlice<UInt8>) -> Bool {
        var h = base
        h.update(data: data)
        return h.finalize() == code
    }
}
