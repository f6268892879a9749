/// How long a probe waits for its answer, and when its retries leave (docs/probing.md has the reasoning).
///
/// `auto` waits `rttFactor` x the round trip the coordinator measured to both ends of a path (an
/// over-estimate of the path between them), as TCP sizes its retransmission timer, held between a floor
/// and `ceilingMs`. The floor grows with the burst a sender sends (`burstMsPerPeer` per peer), and is
/// shortest (`captureFloorMs`) for a sender whose interface tap still sees an answer that comes late.
/// `attempts` tries leave over the first three quarters of the timeout, each only while nothing answered.
public enum ProbeTiming {
    /// The floor for a sender without a capture tap, and the most the burst allowance adds up to.
    public static let floorMs = 500
    /// The least a sender with an interface tap waits.
    public static let captureFloorMs = 200
    public static let burstMsPerPeer = 16
    public static let ceilingMs = 5000
    public static let rttFactor = 4
    public static let defaultAttempts = 8
    /// Tries on a port that another program holds (dockerd logs one warning per stray datagram):
    /// two, so a single loss does not decide, and no more.
    public static let observedAttempts = 2

    /// The floor of a sender that probes `peers` nodes at once; `capture`: its interface tap works.
    public static func floorMs(peers: Int, capture: Bool) -> Int {
        guard capture else { return floorMs }
        return min(floorMs, max(captureFloorMs, burstMsPerPeer * max(0, peers)))
    }

    /// The timeout for a path whose round trip is estimated at `rttMicros`, with `floor`.
    public static func timeoutMs(rttMicros: Int, floor: Int = floorMs) -> Int {
        let ms = (rttFactor * max(0, rttMicros) + 999) / 1000
        return min(ceilingMs, max(floor, ms))
    }

    /// When try `i` (0-based) of `count` leaves, in nanoseconds after the first.
    public static func offsetNanos(attempt i: Int, of count: Int, timeoutNanos: Int64) -> Int64 {
        guard count > 1, i > 0 else { return 0 }
        return timeoutNanos * 3 / 4 * Int64(min(i, count - 1)) / Int64(count - 1)
    }
}

/// What `check --timeout` asked for.
public enum TimeoutPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Per path, from the measured round trip (`ProbeTiming`).
    case auto
    /// The same for every path.
    case fixed(ms: Int)

    public var description: String {
        switch self {
        case .auto: return "auto"
        case let .fixed(ms): return "\(ms) ms"
        }
    }
}
