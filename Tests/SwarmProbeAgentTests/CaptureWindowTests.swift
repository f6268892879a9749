import Testing
@testable import SwarmProbeAgent

@Suite("Which capture a run's log carries")
struct CaptureWindowTests {
    let start: Int64 = 1_790_000_000_000

    @Test("5 s before the run's start when no log was served before it, or one long ago")
    func margin() {
        #expect(ControlService.captureSince(runStart: start, servedBefore: nil, now: start + 900) == start - 5_000)
        #expect(ControlService.captureSince(runStart: start, servedBefore: start - 60_000, now: start + 900) == start - 5_000)
    }

    @Test("not before the log served just before the run: the checks before it are not sent again")
    func afterTheLastLog() {
        #expect(ControlService.captureSince(runStart: start, servedBefore: start - 1_200, now: start + 900) == start - 1_200)
        #expect(ControlService.captureSince(runStart: start, servedBefore: start, now: start + 900) == start)
    }

    @Test("a served time after the run's start (the clock stepped back) is ignored; an unknown run gets the minute")
    func edges() {
        #expect(ControlService.captureSince(runStart: start, servedBefore: start + 30_000, now: start + 900) == start - 5_000)
        #expect(ControlService.captureSince(runStart: nil, servedBefore: start - 1_000, now: start) == start - 65_000)
    }
}
