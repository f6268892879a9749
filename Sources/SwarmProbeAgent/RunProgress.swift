import NIOConcurrencyHelpers
import SwarmProbeCore

/// A run's probes as they end, so that a stop request (`ControlPath.stop`) can hand back what had ended by
/// then: a check interrupted mid-run keeps the paths that already answered. Once stopped, nothing more is
/// recorded (a probe ended by the stop was cut short, not silent) and no new probe starts.
final class RunProgress: Sendable {
    private struct State {
        var reports: [ProbeReport] = []
        var silent: [SilentProbe] = []
        var stopped = false
        var onStop: (@Sendable () -> Void)?
    }
    private let state = NIOLockedValueBox(State())

    init() {}

    /// Records a probe that ended; ignored once the run is stopped.
    func ended(_ report: ProbeReport, silent: SilentProbe?) {
        state.withLockedValue { s in
            guard !s.stopped else { return }
            s.reports.append(report)
            if let silent { s.silent.append(silent) }
        }
    }

    var isStopped: Bool { state.withLockedValue { $0.stopped } }

    /// What had ended so far (all of it once the run is done), and the silent probes among them.
    var recorded: (reports: [ProbeReport], silent: [SilentProbe]) {
        state.withLockedValue { ($0.reports, $0.silent) }
    }

    /// What ends the probes in flight when the run is stopped (run at once if it already is).
    func whenStopped(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { s -> Bool in
            if s.stopped { return true }
            s.onStop = body
            return false
        }
        if now { body() }
    }

    /// Stops the run: records nothing more, starts nothing more, ends what is in flight. Returns what had ended.
    func stop() -> (reports: [ProbeReport], silent: [SilentProbe]) {
        let (reports, silent, onStop) = state.withLockedValue { s -> ([ProbeReport], [SilentProbe], (@Sendable () -> Void)?) in
            let onStop = s.stopped ? nil : s.onStop
            s.stopped = true
            s.onStop = nil
            return (s.reports, s.silent, onStop)
        }
        onStop?()
        return (reports, silent)
    }
}
