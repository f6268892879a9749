import SwarmProbeCore

/// Open checks whose answer the sender's interface saw only after the probe was given up: how many, and
/// the latest (ms past the give-up). Every report counts them here.
public struct LateAnswers: Sendable, Equatable {
    public private(set) var count = 0, slowestMs = 0

    /// Counts `c` if it is one; true if so.
    @discardableResult
    mutating func add(_ c: CheckResult) -> Bool {
        guard c.verdict == .open, let after = c.sender?.missedAnswerMs else { return false }
        count += 1
        slowestMs = max(slowestMs, after)
        return true
    }

    /// In every report's words; `targets`: where they went, when the report names them.
    func sentence(to targets: String?, timeoutMs: Int) -> String {
        "\(plural(count, "open check")) answered only after the probe was given up (up to \(slowestMs) ms late\(targets.map { "; to \($0)" } ?? "")): "
            + "the paths work, but those nodes or the network are slow (overloaded?), and swarm's gossip (memberlist) gives up on a probe after 500 ms. "
            + "A longer --timeout (now \(timeoutMs) ms) makes the probes wait for them."
    }
}
