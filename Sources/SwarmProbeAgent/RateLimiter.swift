import NIOConcurrencyHelpers
import NIOCore
import SwarmProbeCore

/// Token buckets per source address, bounded in how many sources it remembers.
struct RateLimiter {
    let perSecond: Double
    let burst: Double
    let maxSources: Int
    private var buckets: [IPAddress: (tokens: Double, at: UInt64)] = [:]

    init(perSecond: Double, burst: Double, maxSources: Int) {
        self.perSecond = perSecond
        self.burst = burst
        self.maxSources = maxSources
    }

    mutating func allow(_ source: IPAddress, now: UInt64) -> Bool {
        var b = buckets[source] ?? (burst, now)
        let elapsed = Double(now &- b.at) / 1000
        b.tokens = min(burst, b.tokens + max(0, elapsed) * perSecond)
        b.at = now
        guard b.tokens >= 1 else {
            buckets[source] = b
            return false
        }
        b.tokens -= 1
        if buckets[source] == nil && buckets.count >= maxSources {
            // Forget sources whose buckets are full again; if none, refuse the newcomer.
            buckets = buckets.filter { Double(now &- $0.value.at) / 1000 * perSecond + $0.value.tokens < burst }
            if buckets.count >= maxSources { return false }
        }
        buckets[source] = b
        return true
    }
}
