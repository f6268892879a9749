import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwarmProbeCore

public struct CheckOptions: Sendable {
    /// How long a probe may go unanswered before it counts as silence: per path from the measured
    /// round trip (`auto`, see `ProbeTiming`), or fixed.
    public var timeout: TimeoutPolicy = .auto
    /// Tries per probe, spread over the timeout and stopping at the first answer, so one lost packet
    /// never flips a verdict.
    public var attempts: Int = ProbeTiming.defaultAttempts
    /// How long to wait for an agent's control endpoint to answer hello or log.
    public var controlTimeoutMs: Int = 3000
    /// The packet size the overlay needs on every data path (`PathMTU`): each data-path probe that answers is
    /// followed by the path MTU ladder and compared with it. nil: no ladder.
    public var pathMTUNeeded: Int? = PathMTU.needed(overlayMTU: PathMTU.defaultOverlayMTU, encrypted: false)
    /// The control protocol to speak: this build's, another only to test how agents of another version are met.
    var protocolVersion = ControlProtocol.version

    public init(timeout: TimeoutPolicy = .auto, attempts: Int = ProbeTiming.defaultAttempts, controlTimeoutMs: Int = 3000) {
        self.timeout = timeout
        self.attempts = attempts
        self.controlTimeoutMs = controlTimeoutMs
    }

    public init(timeoutMs: Int, attempts: Int = ProbeTiming.defaultAttempts, controlTimeoutMs: Int = 3000) {
        self.init(timeout: .fixed(ms: timeoutMs), attempts: attempts, controlTimeoutMs: controlTimeoutMs)
    }

    /// The timeout before any round trip is known (the floor for `auto`).
    public var nominalTimeoutMs: Int {
        if case let .fixed(ms) = timeout { return ms }
        return ProbeTiming.floorMs
    }

    /// The timeout for the path between two agents whose hello round trips were `a` and `b`
    /// microseconds (nil: not measured); `floor`: the sender's (`ProbeTiming.floorMs(peers:capture:)`).
    public func timeoutMs(rttMicros a: Int?, _ b: Int?, floor: Int = ProbeTiming.floorMs) -> Int {
        switch timeout {
        case let .fixed(ms):
            return ms
        case .auto:
            // The coordinator's round trips to both ends bound the path's between them (triangle inequality).
            let known = [a, b].compactMap { $0 }
            let estimate = known.count == 2 ? known[0] + known[1] : 2 * (known.first ?? 0)
            return ProbeTiming.timeoutMs(rttMicros: estimate, floor: floor)
        }
    }
}

/// Progress a coordinator reports while it works (for a terminal).
public enum CheckProgress: Sendable {
    case contacting(agents: Int)
    case contacted(up: Int, of: Int)
    case probing(paths: Int, timeoutMs: Int)
    case probed(agent: String)
    case collecting
    /// Interrupted: asking `agents` agents for what they have so far (`Coordinator.salvage`).
    case salvaging(agents: Int)
}
