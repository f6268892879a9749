import Foundation
import Logging
import NIOConcurrencyHelpers
import SwarmProbeCapture
import SwarmProbeCore
import SwarmProbeProcess

/// A bounded, time-ordered log of capture records (or of arrived answers).
struct CaptureLog<Record: Timestamped & Sendable>: Sendable {
    private var log: RecentLog<Record>

    init(capacity: Int) { log = RecentLog(capacity: capacity) }

    /// Records pushed out by newer ones.
    var overwritten: Int { log.overwritten }

    mutating func append(_ r: Record) {
        log.append(r)
    }

    /// The records since `since`; first drops those past the retention.
    mutating func records(since: Int64, now: Int64) -> [Record] {
        log.prune(now: now)
        return log.inOrder.filter { $0.timeMs >= since }
    }

    mutating func drop(olderThan cutoff: Int64) {
        log.drop(olderThan: cutoff)
    }
}
