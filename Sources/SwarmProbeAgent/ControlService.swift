import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SwarmProbeCapture
import SwarmProbeCore

/// What the control endpoint answers, independent of HTTP plumbing.
struct ControlReply: Sendable {
    var status: HTTPResponseStatus
    var body: [UInt8]
    /// The authenticated request's nonce; the reply is signed only when set.
    var requestNonce: String?
}

/// The signed control API: hello, run (carry out a plan), stop (end a run early, keep what ended), log (what
/// this agent received).
final class ControlService: Sendable {
    let address: IPAddress
    /// `address:port` of the control endpoint, as a coordinator names it.
    let endpoint: String
    let profile: Profile
    let token: ClusterToken
    let listeners: @Sendable () -> [ListenerState]
    let taps: CaptureTaps?
    let responder: Responder
    let prober: Prober
    let logger: Logger
    /// Reads the host's facts for a hello (`HostFactsReader`), with the source address toward each peer it names;
    /// nil: none to report.
    let hostFacts: @Sendable ([IPAddress]) async -> HostFacts?
    private let replay = NIOLockedValueBox(ReplayGuard(windowMs: 60_000, capacity: 65_536))
    /// Bytes of request bodies buffered across all connections; past the budget new bodies are refused.
    private let buffered = NIOLockedValueBox(0)
    static let bodyBudget = 8 << 20

    /// Refuses at the head a request that cannot authenticate (see `ControlAuth.precheck`).
    func precheck(authorization: String?) -> ControlAuth.Failure? {
        let now = nowMs()
        return replay.withLockedValue { ControlAuth.precheck(header: authorization, now: now, guard: $0) }
    }

    /// Reserves room for `bytes` more of buffered body; false when over the budget.
    func reserve(_ bytes: Int) -> Bool {
        buffered.withLockedValue { total in
            guard total + bytes <= ControlService.bodyBudget else { return false }
            total += bytes
            return true
        }
    }

    func release(_ bytes: Int) {
        buffered.withLockedValue { $0 -= bytes }
    }
    /// One plan at a time; a second waits its turn rather than doubling the packet rate.
    private let running = NIOLockedValueBox(false)
    /// What this agent keeps of a recent run it carried out until the run's log is asked for.
    private struct RunRecord {
        /// When the run began here (agent clock, ms; capture records are returned from then on).
        var timeMs: Int64
        /// Packets the taps had lost by then.
        var lost: Int
        /// Whether its log has been asked for.
        var logged = false
        /// When the last log before it was served (`logServedMs` then).
        var servedBefore: Int64?
        /// Its probes that ended in silence, once it is done; replaced by what was found of their answers
        /// (`missed`) once its log is served, which a retried log request gets again.
        var silent: [SilentProbe] = []
        var missed: [MissedAnswer]?
        /// Of those silent probes, the ones its interface tap never saw leave, once its log is served; and
        /// the departures the tap's log had overwritten when the run began.
        var neverLeft: [NeverLeftProbe]?
        var departuresLost = 0
        /// Its probes as they end, for a stop request; kept for the latest run only, until its log is served.
        var progress: RunProgress?
    }
    private let runStarts = NIOLockedValueBox<[String: RunRecord]>([:])
    /// When this agent last served a run's log.
    private let logServedMs = NIOLockedValueBox<Int64?>(nil)
    /// The sweep due once the logs' kept span has passed with no log served (`sweepWhenIdle`).
    private let idleSweep = NIOLockedValueBox<Task<Void, Never>?>(nil)

    init(
        address: IPAddress, controlPort: Int, profile: Profile, token: ClusterToken, listeners: @escaping @Sendable () -> [ListenerState],
        taps: CaptureTaps?, responder: Responder, prober: Prober, logger: Logger,
        hostFacts: @escaping @Sendable ([IPAddress]) async -> HostFacts? = { _ in nil }
    ) {
        self.hostFacts = hostFacts
        self.address = address
        self.endpoint = address.isIPv4 ? "\(address):\(controlPort)" : "[\(address)]:\(controlPort)"
        self.profile = profile
        self.token = token
        self.listeners = listeners
        self.taps = taps
        self.responder = responder
        self.prober = prober
        self.logger = logger
    }

    func handle(method: HTTPMethod, path: String, authorization: String?, body: [UInt8]) async -> ControlReply {
        let verdict = replay.withLockedValue { guardState in
            ControlAuth.verify(
                header: authorization, key: token.controlKey, method: method.rawValue, path: path,
                body: body, now: nowMs(), guard: &guardState)
        }
        let nonce: String
        switch verdict {
        case .failure(let failure):
            logger.notice("control: refused \(method.rawValue) \(path): \(failure)")
            let status: HTTPResponseStatus = failure == .busy ? .serviceUnavailable : .unauthorized
            return ControlReply(status: status, body: WireCodec.encode(ErrorResponse.refusal(failure)))
        case .success(let n):
            nonce = n
        }
        guard method == .POST else {
            return ControlReply(status: .methodNotAllowed, body: errorBody("use POST"), requestNonce: nonce)
        }
        do {
            switch path {
            case ControlPath.hello:
                let request = try WireCodec.decode(HelloRequest.self, from: body, source: "hello")
                guard request.protocolVersion == ControlProtocol.version else {
                    let why = ControlProtocol.mismatch(
                        agent: ControlProtocol.version, agentVersion: SwarmProbeVersion.current,
                        coordinator: request.protocolVersion, coordinatorVersion: request.toolVersion,
                        endpoint: endpoint)
                    logger.warning("control: \(why)")
                    return ControlReply(status: .conflict, body: errorBody(why), requestNonce: nonce)
                }
                let reading = ContinuousClock.now
                let host = await hostFacts(request.peers)
                let micros = (ContinuousClock.now - reading).components
                let hello = HelloResponse(
                    agentVersion: SwarmProbeVersion.current, address: address, timeMs: Int64(nowMs()),
                    profile: profile.name, listeners: listeners(),
                    taps: taps?.states ?? [
                        TapState(tap: .interface, active: false, detail: "capture is off (--no-capture)"),
                        TapState(tap: .nflog, active: false, detail: "capture is off (--no-capture)"),
                    ], host: host,
                    hostFactsMicros: host == nil ? nil : Int(micros.seconds) * 1_000_000 + Int(micros.attoseconds / 1_000_000_000_000))
                return ok(hello, nonce)
            case ControlPath.run:
                let request = try WireCodec.decode(RunRequest.self, from: body, source: "run request")
                try request.validate(selfAddress: address, kinds: Set(profile.enabledKinds.map(\.kindID)))
                guard
                    running.withLockedValue({ busy in
                        defer { busy = true }; return !busy
                    })
                else {
                    return ControlReply(status: .conflict, body: errorBody("a plan is already running on this agent"), requestNonce: nonce)
                }
                defer { running.withLockedValue { $0 = false } }
                let started = Int64(nowMs())
                let progress = RunProgress()
                let lostBefore = taps?.lost() ?? 0
                let servedBefore = logServedMs.withLockedValue { $0 }
                runStarts.withLockedValue { starts in
                    if starts.count > 64 { starts = starts.filter { started - $0.value.timeMs < 600_000 } }
                    // Past the arrivals' minute nothing can match a silent probe any more.
                    for (id, r) in starts where !r.silent.isEmpty && started - r.timeMs > 60_000 { starts[id]?.silent = [] }
                    for id in starts.keys { starts[id]?.progress = nil }
                    starts[request.runID] = RunRecord(
                        timeMs: started, lost: lostBefore, servedBefore: servedBefore,
                        departuresLost: taps?.departuresOverwritten ?? 0, progress: progress)
                }
                logger.info("control: run \(request.runID.prefix(8)): \(request.probes.count) probes, timeout \(request.timeoutMs) ms")
                // On its own task, so that a stop request can cancel the probes in flight.
                let probing = Task { [prober] in await prober.run(request, progress: progress) }
                progress.whenStopped { probing.cancel() }
                let (ran, ranSilent, pace) = await probing.value
                // Stopped: what ended before the stop is the run's result (the stop request set its silent probes).
                let stopped = progress.isStopped
                let results = stopped ? progress.recorded.reports : ran
                let silent = stopped ? [] : ranSilent
                if !silent.isEmpty { runStarts.withLockedValue { $0[request.runID]?.silent = silent } }
                logger.info(
                    "control: run \(request.runID.prefix(8)): \(request.probes.count) probes done in \(Int64(nowMs()) - started) ms (\(pace))")
                return ok(RunResponse(runID: request.runID, results: SendRefusal.marked(results)), nonce)
            case ControlPath.stop:
                let request = try WireCodec.decode(StopRequest.self, from: body, source: "stop request")
                guard let progress = runStarts.withLockedValue({ $0[request.runID]?.progress }) else {
                    return ControlReply(status: .notFound, body: errorBody("no such run on this agent"), requestNonce: nonce)
                }
                let (reports, silent) = progress.stop()
                // The run's silent probes are those that ended before the stop: the log's missed answers match them.
                runStarts.withLockedValue { starts in
                    if starts[request.runID]?.missed == nil { starts[request.runID]?.silent = silent }
                }
                logger.info("control: run \(request.runID.prefix(8)): stopped by the coordinator; \(reports.count) probes had ended")
                return ok(RunResponse(runID: request.runID, results: SendRefusal.marked(reports)), nonce)
            case ControlPath.log:
                let request = try WireCodec.decode(LogRequest.self, from: body, source: "log request")
                let (entries, truncated) = responder.log(runID: request.runID)
                let start = runStarts.withLockedValue { $0[request.runID] }
                let since = Self.captureSince(
                    runStart: start?.timeMs, servedBefore: start?.servedBefore,
                    firstProbe: entries.lazy.map(\.timeMs).min(), now: Int64(nowMs()))
                // Loss first: reading the counters also has each tap hand over the packets it holds, so the
                // records below include everything captured until now (under load a tap can run behind).
                let lost = (taps?.lost() ?? 0) - (start?.lost ?? 0)
                let capture = taps?.records(since: since) ?? []
                if lost > 0 {
                    logger.warning(
                        "capture: \(lost) packets lost during run \(request.runID.prefix(8)); silent drops to this node stay where: unknown")
                }
                // Answers to this agent's own silent probes that came after all.
                var missed: [MissedAnswer] = start?.missed ?? []
                if let start, start.missed == nil, !start.silent.isEmpty, let taps {
                    missed = MissedAnswers.match(silent: start.silent, arrivals: taps.arrivals(since: start.timeMs))
                    if !missed.isEmpty {
                        let late = missed.filter { missedAnswerWasLate(afterMs: $0.afterMs) }.count
                        logger.notice(
                            "capture: run \(request.runID.prefix(8)): \(missed.count) answers to \(start.silent.count) silent probes arrived after all (\(late) late, \(missed.count - late) never reached their socket)"
                        )
                    }
                }
                // Its own silent probes that never left: its own firewall kept them in.
                var neverLeft: [NeverLeftProbe] = start?.neverLeft ?? []
                if let start, start.neverLeft == nil, !start.silent.isEmpty, let taps, lost == 0,
                    taps.departuresOverwritten == start.departuresLost, taps.interfaceWatched(since: start.timeMs)
                {
                    neverLeft = Departures.neverLeft(
                        silent: start.silent, departures: taps.departures(since: start.timeMs - 1_000), watched: taps.watchedKinds,
                        local: Set(NetworkInterfaces.addresses().map(\.address) + [address]),
                        unresolved: Departures.unresolvedNeighbours())
                    if !neverLeft.isEmpty {
                        logger.notice(
                            "capture: run \(request.runID.prefix(8)): \(neverLeft.count) of \(start.silent.count) silent probes never left this node (its own firewall's output rules)"
                        )
                    }
                }
                let response = LogResponse(
                    runID: request.runID, entries: entries, truncated: truncated, capture: capture,
                    captureLost: lost, missedAnswers: missed, neverLeft: neverLeft)
                let reply = ok(response, nonce)
                // Only a run this agent carried out marks the end of what later runs need (not the log of a
                // run refused here, or one this agent never heard of).
                if start != nil {
                    let served = Int64(nowMs())
                    logServedMs.withLockedValue { $0 = max($0 ?? served, served) }
                    runStarts.withLockedValue { starts in
                        starts[request.runID]?.missed = missed
                        starts[request.runID]?.neverLeft = neverLeft
                        starts[request.runID]?.silent = []
                        starts[request.runID]?.progress = nil
                    }
                }
                forgetLogs(servedRun: request.runID)
                sweepWhenIdle()
                return reply
            default:
                return ControlReply(status: .notFound, body: errorBody("no such endpoint: \(path)"), requestNonce: nonce)
            }
        } catch {
            logger.notice("control: refused \(path): \(error)")
            return ControlReply(status: .badRequest, body: errorBody(error.description), requestNonce: nonce)
        }
    }

    private func ok(_ value: some WireMessage, _ nonce: String) -> ControlReply {
        ControlReply(status: .ok, body: WireCodec.encode(value), requestNonce: nonce)
    }

    /// Where a run's capture records start (agent clock, ms): 5 s before the run began here (other agents'
    /// probes may arrive first), but not before this agent served the previous run's log (a coordinator
    /// starts its next check only once it has every log of the last), so checks a second apart do not resend
    /// each other's packets. That bound is dropped when it cannot hold (a clock stepped back, another
    /// coordinator's log served mid-run). A run this agent knows nothing of gets all the logs keep: a minute.
    static func captureSince(runStart: Int64?, servedBefore: Int64?, firstProbe: Int64?, now: Int64) -> Int64 {
        guard let runStart else { return now - 65_000 }
        let latest = min(runStart, firstProbe ?? runStart)
        let served = servedBefore.flatMap { $0 <= latest ? $0 : nil } ?? .min
        return max(runStart - 5_000, served)
    }

    /// Receive-log entries and capture records an agent always keeps (below a minute), ms.
    static let keptMs: Int64 = 15_000

    /// A run's log has been served: what no run still to be asked about can need goes now, not after the
    /// logs' minute. Kept: 5 s before the start of every run whose log is still to come and of the run just
    /// served (a retried request), and in any case the last `keptMs` (runs this agent knows nothing of are
    /// asked about within seconds). Runs never asked about for a minute are given up. Without this, checks
    /// run back to back held a minute of records each, and the agent grew with them.
    private func forgetLogs(servedRun runID: String) {
        let now = Int64(nowMs())
        let keepFrom: Int64? = runStarts.withLockedValue { starts in
            guard let served = starts[runID] else { return nil }
            starts[runID]?.logged = true
            return Self.keepFrom(starts: starts, also: served.timeMs, now: now)
        }
        guard let keepFrom else { return }
        forget(olderThan: keepFrom)
    }

    /// What the logs keep from: 5 s before every run still to be asked about (and `also`), and at least the
    /// last `keptMs`.
    private static func keepFrom(starts: [String: RunRecord], also: Int64? = nil, now: Int64) -> Int64 {
        let pending = starts.values.filter { !$0.logged && now - $0.timeMs < 60_000 }.map(\.timeMs)
        let earliest = [pending.min(), also].compactMap { $0 }.min()
        return min((earliest ?? now) - 5_000, now - Self.keptMs)
    }

    /// Drops what the logs no longer need, then hands the freed memory back to the system when no run is
    /// under way (glibc keeps what a check freed in its arenas otherwise). The trim runs on its own task,
    /// off the log request's path.
    private func forget(olderThan cutoff: Int64) {
        taps?.forget(olderThan: cutoff)
        responder.forget(olderThan: cutoff)
        Task { [weak self] in
            guard let self, !self.running.withLockedValue({ $0 }) else { return }
            Heap.trim()
        }
    }

    /// Once the kept span has passed with no new log served, the logs keep only what a run still to be asked
    /// about needs, so an agent left alone after a check does not hold its records until the next one. (A
    /// coordinator asks for each log once, as soon as every run is done: a request 16 s late gets nothing.)
    private func sweepWhenIdle() {
        let sweep = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Self.keptMs + 1_000))
            guard !Task.isCancelled, let self else { return }
            let now = Int64(nowMs())
            let keepFrom = self.runStarts.withLockedValue { Self.keepFrom(starts: $0, now: now) }
            self.forget(olderThan: keepFrom)
        }
        idleSweep.withLockedValue { pending in
            pending?.cancel()
            pending = sweep
        }
    }

    private func errorBody(_ message: String) -> [UInt8] {
        WireCodec.encode(ErrorResponse(error: message))
    }
}
