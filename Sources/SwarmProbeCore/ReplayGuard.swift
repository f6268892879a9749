import Crypto

/// Remembers nonces for the replay window so a captured valid probe or request
/// is answered at most once, and refuses anything outside the window.
/// Memory is bounded: when full it refuses (fails closed) rather than forget.
public struct ReplayGuard: Sendable {
    public enum Verdict: String, Sendable { case fresh, replayed, stale, future, full }

    public let windowMs: UInt64
    public let capacity: Int
    private var seen: [Nonce: UInt64] = [:]  // nonce -> expiry
    private var lastPrune: UInt64 = 0

    struct Nonce: Hashable, Sendable {
        var a: UInt64, b: UInt64
        init(_ bytes: [UInt8]) {
            var x: UInt64 = 0, y: UInt64 = 0
            for i in 0..<8 { x = x << 8 | UInt64(bytes[i]) }
            for i in 8..<16 { y = y << 8 | UInt64(bytes[i]) }
            a = x; b = y
        }
    }

    public init(windowMs: UInt64 = 60_000, capacity: Int = 262_144) {
        self.windowMs = windowMs
        self.capacity = capacity
    }

    public var count: Int { seen.count }

    /// What `check` would say, without remembering anything.
    public func peek(nonce: [UInt8], timeMs: UInt64, now: UInt64) -> Verdict {
        guard nonce.count == 16 else { return .stale }
        if now > timeMs && now - timeMs > windowMs { return .stale }
        if timeMs > now && timeMs - now > windowMs { return .future }
        if let expiry = seen[Nonce(nonce)], expiry >= now { return .replayed }
        return .fresh
    }

    /// Accepts a (16-byte nonce, sender time) once; `now` is the receiver's clock.
    public mutating func check(nonce: [UInt8], timeMs: UInt64, now: UInt64) -> Verdict {
        guard nonce.count == 16 else { return .stale }
        // Compare by subtraction: a signed but absurd timestamp must not overflow.
        if now > timeMs && now - timeMs > windowMs { return .stale }
        if timeMs > now && timeMs - now > windowMs { return .future }
        if now &- lastPrune >= 1000 || seen.count >= capacity {
            // An entry is needed while its timestamp can still pass the window test, up to and including `expiry`.
            seen = seen.filter { $0.value >= now }
            lastPrune = now
        }
        let key = Nonce(nonce)
        if seen[key] != nil { return .replayed }
        guard seen.count < capacity else { return .full }
        // Keep it until the sender's timestamp leaves the window either way.
        let (expiry, overflow) = max(timeMs, now).addingReportingOverflow(windowMs)
        seen[key] = overflow ? .max : expiry
        return .fresh
    }
}
