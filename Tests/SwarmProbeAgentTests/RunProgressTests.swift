import SwarmProbeCore
import Testing

@testable import SwarmProbeAgent

/// What a stop request hands back: the probes that had ended, and nothing a stop cut short.
@Suite("RunProgress: a run's probes as they end")
struct RunProgressTests {
    func report(_ last: UInt8, _ outcome: ProbeOutcome) -> ProbeReport {
        ProbeReport(
            target: IPAddress("10.0.0.\(last)")!, kind: KindID(proto: .udp, port: 7946), evidence: SenderEvidence(outcome: outcome, attempts: 1))
    }

    @Test func stopReturnsWhatEndedAndRecordsNothingAfter() {
        let progress = RunProgress()
        let silent = SilentProbe(
            target: IPAddress("10.0.0.3")!, kind: KindID(proto: .udp, port: 7946), nonces: [], sourcePorts: [], startedAtMs: 0, silentAtMs: 1)
        progress.ended(report(2, .answered), silent: nil)
        progress.ended(report(3, .timeout), silent: silent)
        let cancelled = StopFlag()
        progress.whenStopped { cancelled.set() }
        #expect(!progress.isStopped && !cancelled.value)

        let (reports, silents) = progress.stop()
        #expect(reports.map(\.evidence.outcome) == [.answered, .timeout])
        #expect(silents == [silent])
        #expect(progress.isStopped && cancelled.value)
        // A probe ended by the stop itself was cut short: it is not the run's evidence.
        progress.ended(report(4, .timeout), silent: nil)
        #expect(progress.recorded.reports.count == 2)
        // Stopping again changes nothing, and a late canceller runs at once.
        #expect(progress.stop().reports.count == 2)
        let late = StopFlag()
        progress.whenStopped { late.set() }
        #expect(late.value)
    }
}

/// A flag set from a closure.
final class StopFlag: @unchecked Sendable {
    // Set and read on the test's own thread only.
    private(set) var value = false
    func set() { value = true }
}
