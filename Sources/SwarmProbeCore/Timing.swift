/// How long a probe waits for its answer, and when its retries leave.
///
/// A silent drop can only be told from a slow path by waiting, so the wait is the one cost a check
/// cannot avoid. `auto` sizes it from the round trip the coordinator measured to each end of a path
/// (its hello to both agents: an over-estimate of the path between them, by the triangle inequality
/// and the agents' own processing), like TCP's retransmission timer (RFC 6298: SRTT + 4 x RTTVAR,
/// where a first sample has RTTVAR = SRTT/2, so about 3 x RTT): `rttFactor` x the estimate, held
/// between `floorMs` and `ceilingMs`.
///
/// - The floor covers what a round trip estimate does not: an agent's event loop stalled behind a
///   burst (a 32-node check lands ~250 probes on each agent within milliseconds), a busy node's
///   scheduler, the first packet's ARP resolution. 500 ms is two orders of magnitude above a LAN or
///   same-region round trip and still half of what people wait with `nc -w 1`.
/// - The ceiling keeps one slow control round trip (a coordinator on a laptop behind a VPN) from
///   turning every blocked path into a long wait: 5 s is above any terrestrial round trip x 4.
/// - Retries: `attempts` tries per probe (UDP/ESP datagrams, fresh TCP connections), evenly over the
///   first three quarters of the timeout, so the last one still has a quarter of it (at least one
///   estimated round trip) to come back. A try is only sent while nothing has answered: a healthy path
///   costs one packet. With 8 attempts, a path losing 10 % each way (19 % per round trip) still gets
///   an answer with probability 1 - 0.19^8 = 0.999998 (6 gave 1 wrong verdict in 2,160 such checks in
///   `bench loss`, more than its 0.005 % predicts; 8 gave none in 960).
public enum ProbeTiming {
    public static let floorMs = 500
    public static let ceilingMs = 5000
    public static let rttFactor = 4
    public static let defaultAttempts = 8
    /// Tries on a port that another program holds (dockerd logs one warning per stray datagram):
    /// two, so a single loss does not decide, and no more.
    public static let observedAttempts = 2

    /// The timeout for a path whose round trip is estimated at `rttMicros`.
    public static func timeoutMs(rttMicros: Int) -> Int {
        let ms = (rttFactor * max(0, rttMicros) + 999) / 1000
        return min(ceilingMs, max(floorMs, ms))
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
