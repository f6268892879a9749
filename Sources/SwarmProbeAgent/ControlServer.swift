import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SwarmProbeCore

/// What the control endpoint answers, independent of HTTP plumbing.
struct ControlReply: Sendable {
    var status: HTTPResponseStatus
    var body: [UInt8]
    /// The authenticated request's nonce; the reply is signed only when set.
    var requestNonce: String?
}

/// The signed control API: hello, run (carry out a plan), log (what this agent received).
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
    }
    private let runStarts = NIOLockedValueBox<[String: RunRecord]>([:])
    /// When this agent last served a run's log.
    private let logServedMs = NIOLockedValueBox<Int64?>(nil)
    /// The sweep due once the logs' kept span has passed with no log served (`sweepWhenIdle`).
    private let idleSweep = NIOLockedValueBox<Task<Void, Never>?>(nil)

    init(address: IPAddress, controlPort: Int, profile: Profile, token: ClusterToken, listeners: @escaping @Sendable () -> [ListenerState],
         taps: CaptureTaps?, responder: Responder, prober: Prober, logger: Logger) {
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
            ControlAuth.verify(header: authorization, key: token.controlKey, method: method.rawValue, path: path,
                               body: body, now: nowMs(), guard: &guardState)
        }
        let nonce: String
        switch verdict {
        case .failure(let failure):
            logger.notice("control: refused \(method.rawValue) \(path): \(failure)")
            let status: HTTPResponseStatus = failure == .busy ? .serviceUnavailable : .unauthorized
            return ControlReply(status: status, body: errorBody(failure.description))
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
                    let why = ControlProtocol.mismatch(agent: ControlProtocol.version, agentVersion: SwarmProbeVersion.current,
                                                       coordinator: request.protocolVersion, coordinatorVersion: request.toolVersion,
                                                       endpoint: endpoint)
                    logger.warning("control: \(why)")
                    return ControlReply(status: .conflict, body: errorBody(why), requestNonce: nonce)
                }
                let hello = HelloResponse(agentVersion: SwarmProbeVersion.current, address: address, timeMs: Int64(nowMs()),
                                          profile: profile.name, listeners: listeners(), taps: taps?.states ?? [
                                              TapState(tap: .interface, active: false, detail: "capture is off (--no-capture)"),
                                              TapState(tap: .nflog, active: false, detail: "capture is off (--no-capture)"),
                                          ])
                return ok(hello, nonce)
            case ControlPath.run:
                let request = try WireCodec.decode(RunRequest.self, from: body, source: "run request")
                try request.validate(selfAddress: address, kinds: Set(profile.enabledKinds.map(\.kindID)))
                guard running.withLockedValue({ busy in defer { busy = true }; return !busy }) else {
                    return ControlReply(status: .conflict, body: errorBody("a plan is already running on this agent"), requestNonce: nonce)
                }
                defer { running.withLockedValue { $0 = false } }
                let started = Int64(nowMs())
                let lostBefore = taps?.lost() ?? 0
                let servedBefore = logServedMs.withLockedValue { $0 }
                runStarts.withLockedValue { starts in
                    if starts.count > 64 { starts = starts.filter { started - $0.value.timeMs < 600_000 } }
                    // Past the arrivals' minute nothing can match a silent probe any more.
                    for (id, r) in starts where !r.silent.isEmpty && started - r.timeMs > 60_000 { starts[id]?.silent = [] }
                    starts[request.runID] = RunRecord(timeMs: started, lost: lostBefore, servedBefore: servedBefore)
                }
                logger.info("control: run \(request.runID.prefix(8)): \(request.probes.count) probes, timeout \(request.timeoutMs) ms")
                let (results, silent, pace) = await prober.run(request)
                if !silent.isEmpty { runStarts.withLockedValue { $0[request.runID]?.silent = silent } }
                logger.info("control: run \(request.runID.prefix(8)): \(request.probes.count) probes done in \(Int64(nowMs()) - started) ms (\(pace))")
                return ok(RunResponse(runID: request.runID, results: results), nonce)
            case ControlPath.log:
                let request = try WireCodec.decode(LogRequest.self, from: body, source: "log request")
                let (entries, truncated) = responder.log(runID: request.runID)
                let start = runStarts.withLockedValue { $0[request.runID] }
                let since = Self.captureSince(runStart: start?.timeMs, servedBefore: start?.servedBefore,
                                              firstProbe: entries.lazy.map(\.timeMs).min(), now: Int64(nowMs()))
                // Loss first: reading the counters also has each tap hand over the packets it holds, so the
                // records below include everything captured until now (under load a tap can run behind).
                let lost = (taps?.lost() ?? 0) - (start?.lost ?? 0)
                let capture = taps?.records(since: since) ?? []
                if lost > 0 { logger.warning("capture: \(lost) packets lost during run \(request.runID.prefix(8)); silent drops to this node stay where: unknown") }
                // Answers to this agent's own silent probes that came after all.
                var missed: [MissedAnswer] = start?.missed ?? []
                if let start, start.missed == nil, !start.silent.isEmpty, let taps {
                    missed = MissedAnswers.match(silent: start.silent, arrivals: taps.arrivals(since: start.timeMs))
                    if !missed.isEmpty {
                        let late = missed.filter { missedAnswerWasLate(afterMs: $0.afterMs) }.count
                        logger.notice("capture: run \(request.runID.prefix(8)): \(missed.count) answers to \(start.silent.count) silent probes arrived after all (\(late) late, \(missed.count - late) never reached their socket)")
                    }
                }
                let response = LogResponse(runID: request.runID, entries: entries, truncated: truncated, capture: capture,
                                           captureLost: lost, missedAnswers: missed)
                let reply = ok(response, nonce)
                // Only a run this agent carried out marks the end of what later runs need (not the log of a
                // run refused here, or one this agent never heard of).
                if start != nil {
                    let served = Int64(nowMs())
                    logServedMs.withLockedValue { $0 = max($0 ?? served, served) }
                    runStarts.withLockedValue { starts in
                        starts[request.runID]?.missed = missed
                        starts[request.runID]?.silent = []
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

    /// Where a run's capture records start (agent clock, ms). Probes of a run can arrive here a little before
    /// this agent starts its own part of it (5 s: a coordinator sends a thousand plans within a second or
    /// two), but not before this agent served the log of the run before: a coordinator starts its next check
    /// only once it has every log of the last. Checks a second apart (a monitoring loop, `bench mesh`)
    /// otherwise sent, and the coordinator parsed, the capture of up to five earlier checks (417, 894, 1,374
    /// records from one node in three 32-node checks in a row). That bound is dropped when it cannot hold:
    /// after the run's start (a clock stepped back) or after the first probe of the run this agent received
    /// (another coordinator's log was served while this run was already under way). A run this agent knows
    /// nothing of (refused here because another was running) gets everything the logs keep: a minute.
    static func captureSince(runStart: Int64?, servedBefore: Int64?, firstProbe: Int64?, now: Int64) -> Int64 {
        guard let runStart else { return now - 65_000 }
        let latest = min(runStart, firstProbe ?? runStart)
        let served = servedBefore.flatMap { $0 <= latest ? $0 : nil } ?? .min
        return max(runStart - 5_000, served)
    }

    /// Receive-log entries and capture records an agent always keeps (below a minute), ms.
    static let keptMs: Int64 = 15_000

    /// A run's log has been served: what no run still to be asked about can need goes now, not after the
    /// logs' minute. Kept: 5 s before the start of every run begun here whose log is still to come (probes
    /// of other agents may arrive first) and of the run just served (a retried request), and in any case
    /// the last `keptMs`: runs this agent knows nothing of (one refused here because another was running,
    /// a run request that came late) are probed and asked about within seconds, and a clock step back
    /// stays inside it. Runs never asked about for a minute are given up. Checks run back to back (a
    /// monitoring loop, `bench mesh --runs 60`) kept a minute of records, 300 KB per 32-node check per
    /// agent: 28 -> 50 MiB over 60 checks.
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
    /// under way (glibc keeps what a check freed in its arenas otherwise: an agent that had served 60
    /// checks stayed at 37-40 MiB, 8-11 MiB above a fresh one, for as long as it ran). The trim runs on its
    /// own task, off the log request's path: the reply goes out while it walks the arenas.
    private func forget(olderThan cutoff: Int64) {
        taps?.forget(olderThan: cutoff)
        responder.forget(olderThan: cutoff)
        Task { [weak self] in
            guard let self, !self.running.withLockedValue({ $0 }) else { return }
            Heap.trim()
        }
    }

    /// The last run's entries stay for `keptMs` after its log is served, and nothing drops them until the
    /// next log is asked for: an agent left alone after a check would hold them, and the memory under them,
    /// until the next check. So once the kept span has passed with no new log served, the logs keep only
    /// what a run still to be asked about needs: a request for the served run's log more than 16 s after it
    /// was served gets no entries (a coordinator asks for each log once, as soon as every run is done).
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

/// HTTP/1.1 plumbing for the control endpoint: bounded bodies, a deadline per request,
/// a cap on open connections, and the answer signed with the request's nonce.
final class ControlHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// A connection must send a request head this soon after it opens (or after its last answer).
    static let headDeadline = TimeAmount.seconds(2)
    /// ... and the rest of the request this soon after the head.
    static let requestDeadline = TimeAmount.seconds(10)

    private let service: ControlService
    private let tracker: ControlConnections
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var reserved = 0
    /// Set when the request is refused before its end: 413 over 4 MiB, 401 at the head, 503 over the budget.
    private var refusal: ControlReply?
    private var timer: Scheduled<Void>?
    private var busy = false

    init(service: ControlService, tracker: ControlConnections) {
        self.service = service
        self.tracker = tracker
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armTimer(context, Self.headDeadline)
    }

    private func armTimer(_ context: ChannelHandlerContext, _ deadline: TimeAmount) {
        timer?.cancel()
        let channel = context.channel
        // A client that does not send its request in time (idle, a slow writer) is cut off.
        timer = context.eventLoop.scheduleTask(in: deadline) { channel.close(promise: nil) }
    }

    private static func reply(_ status: HTTPResponseStatus, _ message: String) -> ControlReply {
        ControlReply(status: status, body: WireCodec.encode(ErrorResponse(error: message)))
    }

    private func dropBody() {
        body = []
        if reserved > 0 { service.release(reserved) }
        reserved = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            guard !busy else { return }
            head = h
            dropBody()
            refusal = nil
            tracker.sawHead(context.channel)
            armTimer(context, Self.requestDeadline)
            if let len = h.headers.first(name: "content-length").flatMap(Int.init), len > ControlAuth.maximumBodyBytes {
                refuse(context, Self.reply(.payloadTooLarge, "request body over 4 MiB"))
            } else if let failure = service.precheck(authorization: h.headers.first(name: "authorization")) {
                // Nothing of a request that cannot authenticate is read further: answer now and close.
                refuse(context, Self.reply(failure == .busy ? .serviceUnavailable : .unauthorized, failure.description))
            }
        case .body(var chunk):
            guard refusal == nil else { return }
            if body.count + chunk.readableBytes > ControlAuth.maximumBodyBytes {
                return refuse(context, Self.reply(.payloadTooLarge, "request body over 4 MiB"))
            }
            guard service.reserve(chunk.readableBytes) else {
                return refuse(context, Self.reply(.serviceUnavailable, "too many request bodies in flight; try again"))
            }
            if body.isEmpty, let expected = head?.headers.first(name: "content-length").flatMap(Int.init) {
                // One allocation of the announced size (already bounded above), not a doubling array.
                body.reserveCapacity(expected)
            }
            reserved += chunk.readableBytes
            body += chunk.readBytes(length: chunk.readableBytes) ?? []
        case .end:
            guard let head, !busy, refusal == nil else { return }
            self.head = nil
            timer?.cancel()  // the plan itself may run for the whole probe timeout
            busy = true
            let service = self.service
            let bodyBytes = body
            dropBody()
            let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
            let auth = head.headers.first(name: "authorization")
            let keepAlive = head.isKeepAlive
            let promise = context.eventLoop.makePromise(of: ControlReply.self)
            promise.completeWithTask { await service.handle(method: head.method, path: path, authorization: auth, body: bodyBytes) }
            promise.futureResult.assumeIsolated().whenSuccess { [self] reply in
                busy = false
                respond(context, reply, keepAlive: keepAlive)
                armTimer(context, Self.headDeadline)
            }
        }
    }

    /// Answers a request refused before its end, once, and closes the connection.
    private func refuse(_ context: ChannelHandlerContext, _ reply: ControlReply) {
        guard refusal == nil else { return }
        refusal = reply
        dropBody()
        respond(context, reply, keepAlive: false)
    }

    private func respond(_ context: ChannelHandlerContext, _ reply: ControlReply, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(reply.body.count))
        if let nonce = reply.requestNonce {
            headers.add(name: ControlAuth.responseHeader,
                        value: ControlAuth.responseMAC(key: service.token.controlKey, requestNonce: nonce,
                                                       status: Int(reply.status.code), body: reply.body))
        }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        dropBody()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Bytes that are not HTTP: one 400 with a one-line error, then close. Never crash, never keep it. (A request
        // cut short by our own close also ends in a parser error: nothing to answer there.)
        if error is HTTPParserError, !busy, context.channel.isActive {
            busy = true
            respond(context, Self.reply(.badRequest, "malformed HTTP request"), keepAlive: false)
        } else {
            context.close(promise: nil)
        }

    }
}

/// The control endpoint's open connections. When all slots are taken, a new connection evicts the
/// oldest one that has not sent a request head yet (an idle or half-open peer), so idle connections
/// cannot lock the coordinator out; only when every slot is busy with a request is the newcomer refused.
final class ControlConnections: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private struct Entry {
        var channel: any Channel
        var opened: NIODeadline
        var sawHead: Bool
    }
    let limit: Int
    private let entries = NIOLockedValueBox<[ObjectIdentifier: Entry]>([:])

    init(limit: Int) { self.limit = limit }

    var count: Int { entries.withLockedValue { $0.count } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let id = ObjectIdentifier(child)
        let (admitted, evict): (Bool, (any Channel)?) = entries.withLockedValue { e in
            var victim: (any Channel)?
            if e.count >= limit {
                guard let oldest = e.filter({ !$0.value.sawHead }).min(by: { $0.value.opened < $1.value.opened }) else {
                    return (false, nil)
                }
                victim = oldest.value.channel
                e[oldest.key] = nil
            }
            e[id] = Entry(channel: child, opened: .now(), sawHead: false)
            return (true, victim)
        }
        evict?.close(promise: nil)
        guard admitted else {
            child.close(promise: nil)
            return
        }
        child.closeFuture.whenComplete { [entries] _ in entries.withLockedValue { $0[id] = nil } }
        context.fireChannelRead(data)
    }

    func sawHead(_ channel: any Channel) {
        entries.withLockedValue { $0[ObjectIdentifier(channel)]?.sawHead = true }
    }
}
