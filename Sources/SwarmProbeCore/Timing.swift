/// How long a probe waits for its answer, and when its retries leave.
///
/// A silent drop can only be told from a slow path by waiting, so the wait is the one cost a check
/// cannot avoid. `auto` sizes it from the round trip the coordinator measured to each end of a path
/// (its hello to both agents: an over-estimate of the path between them, by the triangle inequality
/// and the agents' own processing), like TCP's retransmission timer (RFC 6298: SRTT + 4 x RTTVAR,
/// where a first sample has RTTVAR = SRTT/2, so about 3 x RTT): `rttFactor` x the estimate, held
/// between a floor (`floorMs(peers:capture:)`) and `ceilingMs`.
///
/// - The floor covers what a round trip estimate does not: an agent's event loop stalled behind a
///   burst (a 32-node check lands ~250 probes on each agent within milliseconds), a busy node's
///   scheduler, the first packet's ARP resolution. So it grows with the burst: `burstMsPerPeer` per
///   peer (each peer sends the agent 4 probes and takes 4 from it at once), at least `captureFloorMs`,
///   at most `floorMs`. On the project's 2-core lab, where 32 agents share the cores (far worse than 32
///   nodes with a CPU each), answers of a 32-node check came back up to ~800 ms after their probe, of
///   a 16-node one within ~250 ms. 500 ms is two orders of magnitude above a LAN or same-region round
///   trip and still half of what people wait with `nc -w 1`.
/// - The shorter floors are only for a sender whose interface tap works: it still sees an answer that
///   comes after the probe was given up, and the check calls that path open (slow), not blocked
///   (`SenderEvidence.missedAnswerMs`). A sender without one waits `floorMs`, whatever the size: there a
///   late answer would look like a drop on the return path.
/// - The ceiling keeps one slow control round trip (a coordinator on a laptop behind a VPN) from
///   turning every blocked path into a long wait: 5 s is above any terrestrial round trip x 4.
/// - Retries: `attempts` tries per probe (UDP/ESP datagrams, fresh TCP connections), evenly over the
///   first three quarters of the timeout, so the last one still has a quarter of it (at least one
///   estimated round trip) to come back. A try is only sent while nothing has answered: a healthy path
///   costs one packet. With 8 attempts, a path losing 10 % each way (19 % per round trip) still gets
///   an answer with probability 1 - 0.19^8 = 0.999998 (6 gave 1 wrong verdict in 2,160 such checks in
///   `bench loss`, more than its 0.005 % predicts; 8 gave none in 960).
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
