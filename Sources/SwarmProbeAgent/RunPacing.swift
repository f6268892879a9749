import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

/// What one run has seen of its own pace, and what that implies for every probe still waiting. On a
/// healthy run none of it changes anything; on an overloaded one (a node answering a thousand peers, a
/// starved CPU) it keeps the probes from feeding the overload and from calling slow paths blocked:
/// - a retry waits one RTO of the run's datagram answers (RFC 6298) since the previous try, but never most
///   of the spacing of the probe's planned tries; none leaves before the run's first wave of first tries is
///   out; the run's retries stay within a budget;
/// - a probe counts as silence only after max(timeout, its last try + RTO, timeout + the agent's timer lag,
///   the run's latest answer + SRTT), at most `ProbeTiming.ceilingMs`;
/// - at that moment the kernel has the last word (TCP_INFO, SO_ERROR, SO_MEMINFO).
/// docs/probing.md says why each rule is there.
final class RunPacing: Sendable {
    private struct State {
        var srtt = 0.0, rttvar = 0.0, samples = 0
        var firstTries = 0, retries = 0
        /// First tries sent, plus probes that ended before they could send one.
        var launched = 0
        var lag = TimeAmount.zero
        /// When the latest decisive answer of the run (an echo, a handshake, a refusal) came in.
        var lastArrival: NIODeadline?
        /// When the run's last first try left (how long its fan-out took).
        var lastFirstTry: NIODeadline?
        /// Answers that came after their probe's timeout (the rules above kept them), and the slowest.
        var lateAnswers = 0, slowestMs = 0

        /// SRTT + 4 x RTTVAR; nil before any answer.
        var rto: TimeAmount? { samples == 0 ? nil : .microseconds(Int64(srtt + 4 * rttvar)) }
    }
    private let state = NIOLockedValueBox(State())
    /// When the run began, for the summary's times.
    private let begun = NIODeadline.now()
    /// The paced probes that start at once (the plan's first `concurrency` probes, ESP aside): no retry
    /// leaves before all of their first tries are out.
    private let firstWave: Int

    init(firstWave: Int = 0) {
        self.firstWave = firstWave
    }

    func add(micros: Int) {
        let r = Double(max(0, micros))
        state.withLockedValue { s in
            if s.samples == 0 {
                s.srtt = r
                s.rttvar = r / 2
            } else {
                s.rttvar = 0.75 * s.rttvar + 0.25 * abs(s.srtt - r)
                s.srtt = 0.875 * s.srtt + 0.125 * r
            }
            s.samples += 1
        }
    }

    /// A timer meant for `due` fired now.
    func fired(due: NIODeadline) {
        let late = NIODeadline.now() - due
        state.withLockedValue { $0.lag = max($0.lag, late) }
    }

    /// A decisive answer (an echo, a refusal) came in now. Never for an end decided at the deadline
    /// (`ProbeEnd.answerArrived`).
    func arrived() {
        let now = NIODeadline.now()
        state.withLockedValue { $0.lastArrival = max($0.lastArrival ?? now, now) }
    }

    /// A probe with `timeout` was answered `took` after it began.
    func answered(took: TimeAmount, timeout: TimeAmount) {
        guard took > timeout else { return }
        state.withLockedValue { s in
            s.lateAnswers += 1
            s.slowestMs = max(s.slowestMs, Int(took.nanoseconds / 1_000_000))
        }
    }

    func firstTry() {
        let now = NIODeadline.now()
        state.withLockedValue {
            $0.firstTries += 1; $0.launched += 1; $0.lastFirstTry = now
        }
    }

    /// A paced probe ended without sending anything (no socket, no route): it counts as launched.
    func noFirstTry() {
        state.withLockedValue { $0.launched += 1 }
    }

    /// May a retry leave now, `sinceLast` after the previous try of a probe whose timeout is `timeout` and
    /// which plans `tries` tries? Counts it if so. The gap is one RTO, but never more than most of the spacing
    /// of the planned tries: a try refused at its slot waits for the next one, so an RTO just over the spacing
    /// would halve a lossy path's tries. The run's retry budget still bounds what an overload can add.
    func takeRetry(sinceLast: TimeAmount, timeout: TimeAmount, tries: Int = 0) -> Bool {
        state.withLockedValue { s in
            var gap = s.rto ?? .nanoseconds(timeout.nanoseconds / 4)
            if tries > 1 {
                let spacing = ProbeTiming.offsetNanos(attempt: 1, of: tries, timeoutNanos: timeout.nanoseconds)
                gap = min(gap, .nanoseconds(spacing * 4 / 5))
            }
            guard s.launched >= firstWave, sinceLast >= gap, s.retries < max(64, s.firstTries / 2) else { return false }
            s.retries += 1
            return true
        }
    }

    /// When a probe begun at `start` with `timeout`, whose last try left at `lastTry`, counts as silence,
    /// as things stand now: one RTO after its last try (as TCP declares a segment lost), or the timeout
    /// plus this agent's timer lag, whichever is later, never before the timeout nor after the ceiling.
    func deadline(start: NIODeadline, lastTry: NIODeadline, timeout: TimeAmount) -> NIODeadline {
        let ceiling = TimeAmount.milliseconds(Int64(ProbeTiming.ceilingMs))
        // Any answer of the run counts, also to a try sent after this probe's last one: under load the
        // answers do not come back in the order their tries left (a later try to a less loaded target
        // overtakes an earlier one to a busier target; counting only earlier tries got 5 healthy paths of
        // 24 checks wrong at 200 ms on the 32-node lab, against none in 30 counting all).
        let (rto, lag, quiet) = state.withLockedValue { s in
            (s.rto ?? .zero, s.lag, s.lastArrival.map { $0 + .microseconds(Int64(s.srtt)) - start } ?? .zero)
        }
        let wait = max(timeout, min(ceiling, max((lastTry - start) + rto, timeout + lag, quiet)))
        return start + wait
    }

    /// What the run saw of its pace, for the agent's log: "srtt 0.4 ms, rto 1.2 ms, timer lag 3 ms, 12 retries
    /// for 124 probes, first tries out by 9 ms, last answer at 11 ms, no answer after its timeout".
    var summary: String {
        state.withLockedValue { s in
            func ms(_ micros: Double) -> String { String(format: "%.1f ms", micros / 1000) }
            let rtt = s.rto.map { "srtt \(ms(s.srtt)), rto \(ms(Double($0.nanoseconds) / 1000))" } ?? "no datagram answers"
            func at(_ d: NIODeadline?) -> String { d.map { "\(($0 - begun).nanoseconds / 1_000_000) ms" } ?? "-" }
            let late =
                s.lateAnswers == 0
                ? "no answer after its timeout"
                : "\(s.lateAnswers) answers after their timeout (the slowest in \(s.slowestMs) ms)"
            return "\(rtt), timer lag \(s.lag.nanoseconds / 1_000_000) ms, \(s.retries) retries for \(s.firstTries) probes, "
                + "first tries out by \(at(s.lastFirstTry)), last answer at \(at(s.lastArrival)), \(late)"
        }
    }

    /// The latest a probe with `timeout` can count as silence.
    static func latest(start: NIODeadline, timeout: TimeAmount) -> NIODeadline {
        start + max(timeout, .milliseconds(Int64(ProbeTiming.ceilingMs)))
    }
}
