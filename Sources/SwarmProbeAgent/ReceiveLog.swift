import NIOConcurrencyHelpers
import NIOCore
import SwarmProbeCore

/// A bounded log of the authenticated probes received, oldest dropped first, none kept past
/// `RecentLog`'s retention.
struct ReceiveLog {
    private var log: RecentLog<ReceiveLogEntry>
    private var slotByNonce: [String: Int] = [:]
    /// Runs that lost entries to the bound (bounded itself).
    private var truncatedRuns: [String] = []

    init(capacity: Int) { log = RecentLog(capacity: capacity) }

    mutating func append(_ e: ReceiveLogEntry) {
        let (slot, evicted, moved) = log.append(e)
        if moved { reindex() }
        if let old = evicted {
            slotByNonce[old.nonce] = nil
            if !truncatedRuns.contains(old.runID) {
                truncatedRuns.append(old.runID)
                if truncatedRuns.count > 64 { truncatedRuns.removeFirst() }
            }
        }
        slotByNonce[e.nonce] = slot
    }

    mutating func markAnswered(nonce: String) {
        if let slot = slotByNonce[nonce] { log[slot].answered = true }
    }

    /// A run's entries; first drops those past the retention.
    mutating func entries(runID: String, now: Int64) -> (entries: [ReceiveLogEntry], truncated: Bool) {
        if log.prune(now: now) { reindex() }
        return (log.inOrder.filter { $0.runID == runID }, truncatedRuns.contains(runID))
    }

    mutating func drop(olderThan cutoff: Int64) {
        if log.drop(olderThan: cutoff) { reindex() }
    }

    private mutating func reindex() {
        let entries = log.inOrder  // after a sweep the slots are in order from 0
        slotByNonce = Dictionary(entries.enumerated().map { ($1.nonce, $0) }, uniquingKeysWith: { _, last in last })
    }
}
