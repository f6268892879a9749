import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

/// What one attempt-series ended with, before it becomes `SenderEvidence`.
struct ProbeEnd: Sendable {
    var outcome: ProbeOutcome
    var rttMicros: Int?
    var detail: String?
    var attemptsSent: Int
    /// The local ports the tries left from, first first (TCP: chosen before connecting).
    var sourcePorts: [Int] = []
    /// The nonces of the tries actually sent, when some planned tries were skipped (UDP).
    var sentNonces: [[UInt8]]?
    /// The end came with a packet from the target (an echo, a refusal), not at the deadline: the run's
    /// answers are still coming in (`RunPacing.arrived`). Set by each probe where its ends arrive
    /// (`arrivedWithPacket`); a TCP refusal read from the kernel at the deadline is not one.
    var answerArrived = false
    /// When the probe ended (wall clock, ms), stamped on its loop as it settles: for a silent probe, the
    /// moment its answer would have been too late (`SilentProbe`).
    var endedAtMs: Int64?

    /// An end only a packet from the target brings: its echo, or a reset / port-unreachable. Not
    /// host-unreachable, which may be this host giving up on ARP after seconds.
    var arrivedWithPacket: ProbeEnd {
        var end = self
        end.answerArrived = outcome == .answered || outcome == .refused
        return end
    }
}
