import Testing

@testable import SwarmProbeAgent

@Suite("Which capture a run's log carries")
struct CaptureWindowTests {
    let start: Int64 = 1_790_000_000_000

    @Test("5 s before the run's start when no log was served before it, or one long ago")
    func margin() {
        #expect(ControlService.captureSince(runStart: start, servedBefore: nil, firstProbe: nil, now: start + 900) == start - 5_000)
        #expect(ControlService.captureSince(runStart: start, servedBefore: start - 60_000, firstProbe: nil, now: start + 900) == start - 5_000)
    }

    @Test("not before the log served just before the run: the checks before it are not sent again")
    func afterTheLastLog() {
        #expect(ControlService.captureSince(runStart: start, servedBefore: start - 1_200, firstProbe: nil, now: start + 900) == start - 1_200)
        #expect(ControlService.captureSince(runStart: start, servedBefore: start, firstProbe: nil, now: start + 900) == start)
    }

    @Test("a log served after this run's first probe arrived (another coordinator's) does not cut the run's capture")
    func servedDuringTheRun() {
        // Probes of this run arrived 400 ms before this agent's own plan; a log was served 200 ms before the plan.
        #expect(
            ControlService.captureSince(runStart: start, servedBefore: start - 200, firstProbe: start - 400, now: start + 900)
                == start - 5_000)
        // Served before the first probe of the run: the bound holds.
        #expect(
            ControlService.captureSince(runStart: start, servedBefore: start - 700, firstProbe: start - 400, now: start + 900)
                == start - 700)
    }

    @Test("a served time after the run's start (the clock stepped back) is ignored; an unknown run gets the minute")
    func edges() {
        #expect(ControlService.captureSince(runStart: start, servedBefore: start + 30_000, firstProbe: nil, now: start + 900) == start - 5_000)
        #expect(ControlService.captureSince(runStart: nil, servedBefore: start - 1_000, firstProbe: nil, now: start) == start - 65_000)
    }
}
