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

/// What one run has seen of its own pace, and what that implies for every probe still waiting. On a
/// healthy run none of it changes anything; on an overloaded one (a node answering a thousand peers, a
/// starved CPU, a lab of 32 agents on 2 cores) it keeps the probes from feeding the overload and from
/// calling slow paths blocked:
/// - round trips of the answers, as TCP keeps them (RFC 6298: SRTT, RTTVAR, RTO = SRTT + 4 x RTTVAR);
/// - how late this agent's own timers fire (its event loops' lag: when it is busy, so are its peers,
///   which carry the same fan-out);
/// - a retry leaves only when one RTO has passed since the previous try of that probe (before any answer:
///   a quarter of its timeout; never more than most of the spacing of its planned tries), and only while the run's retries stay within 64 or half of
///   its first tries, whichever is more (random loss of 10 % each way needs about a fifth; an overload
///   would need five times), and none before the run's first wave of first tries is out (the plan's first
///   `concurrency` probes): on a starved CPU a retry would only hold back a first try still waiting for
///   it, and on a lossy but idle node the first wave is out within milliseconds;
/// - a probe counts as silence only after max(timeout, its last try + RTO, timeout + lag, the run's
///   latest answer + SRTT), at most `ProbeTiming.ceilingMs`: a segment unacknowledged for one RTO is
///   lost, as TCP has it; and while the run's answers are still coming in (the tail of a burst), one of
///   them may be this probe's, whose round trip the RTO of the answers already in underestimates (the
///   fast ones come back first). In a run larger than the probes in flight at once (a node probing a
///   thousand peers) that keeps silent probes waiting while later ones are answered: `bench fanout`
///   measures it;
/// - at that moment the kernel has the last word: a TCP try's state (TCP_INFO, SO_ERROR), a datagram
///   waiting in a UDP probe's socket (SO_MEMINFO; a loop woken late reads its sockets in batches and may
///   run the timer first).
/// Round trips come from datagram answers only (a TCP probe's time includes TCP's own retransmission
/// timers). Measured (BENCHMARKS.md): a 32-node lab on 2 cores went from 18 % to 100 % right at the
/// 500 ms floor, and 10 % loss each way still gets every verdict right; at a 200 ms timeout the same lab
/// went from 99.7-99.9 % to 100 % right with the last two rules.
final class RunPacing: Sendable {
    private struct State {
        var srtt = 0.0, rttvar = 0.0, samples = 0
        var firstTries = 0, retries = 0
        /// First tries sent, plus probes that ended before they could send one.
        var launched = 0
        var lag = TimeAmount.zero
        /// When the latest decisive answer of the run (an echo, a handshake, a refusal) came in.
        var lastArrival: NIODeadline?
        /// When the run's last first try left (how long its fan-out took).
        var lastFirstTry: NIODeadline?
        /// Answers that came after their probe's timeout (the rules above kept them), and the slowest.
        var lateAnswers = 0, slowestMs = 0

        /// SRTT + 4 x RTTVAR; nil before any answer.
        var rto: TimeAmount? { samples == 0 ? nil : .microseconds(Int64(srtt + 4 * rttvar)) }
    }
    private let state = NIOLockedValueBox(State())
    /// When the run began, for the summary's times.
    private let begun = NIODeadline.now()
    /// The paced probes that start at once (the plan's first `concurrency` probes, ESP aside): no retry
    /// leaves before all of their first tries are out.
    private let firstWave: Int

    init(firstWave: Int = 0) {
        self.firstWave = firstWave
    }

    func add(micros: Int) {
        let r = Double(max(0, micros))
        state.withLockedValue { s in
            if s.samples == 0 {
                s.srtt = r
                s.rttvar = r / 2
            } else {
                s.rttvar = 0.75 * s.rttvar + 0.25 * abs(s.srtt - r)
                s.srtt = 0.875 * s.srtt + 0.125 * r
            }
            s.samples += 1
        }
    }

    /// A timer meant for `due` fired now.
    func fired(due: NIODeadline) {
        let late = NIODeadline.now() - due
        state.withLockedValue { $0.lag = max($0.lag, late) }
    }

    /// A decisive answer (an echo, a refusal) came in now. Never for an end decided at the deadline
    /// (`ProbeEnd.answerArrived`).
    func arrived() {
        let now = NIODeadline.now()
        state.withLockedValue { $0.lastArrival = max($0.lastArrival ?? now, now) }
    }

    /// A probe with `timeout` was answered `took` after it began.
    func answered(took: TimeAmount, timeout: TimeAmount) {
        guard took > timeout else { return }
        state.withLockedValue { s in
            s.lateAnswers += 1
            s.slowestMs = max(s.slowestMs, Int(took.nanoseconds / 1_000_000))
        }
    }

    func firstTry() {
        let now = NIODeadline.now()
        state.withLockedValue { $0.firstTries += 1; $0.launched += 1; $0.lastFirstTry = now }
    }

    /// A paced probe ended without sending anything (no socket, no route): it counts as launched.
    func noFirstTry() {
        state.withLockedValue { $0.launched += 1 }
    }

    /// May a retry leave now, `sinceLast` after the previous try of a probe whose timeout is `timeout` and
    /// which plans `tries` tries? Counts it if so.
    ///
    /// The gap is one RTO, but never more than most of the spacing of the probe's planned tries
    /// (`ProbeTiming.offsetNanos`): a try refused at its slot waits for the next one, so an RTO just over the
    /// spacing (27 ms against 21 ms at the 200 ms floor, when a 4-node lab's first answers came back from a
    /// busy CPU) halved a probe's tries, and 4 tries over a link losing 10 % each way got 1 path in about
    /// 800 wrong (`LossTests` failed 5 runs in 153). The run's retry budget still bounds what an overload
    /// can add.
    func takeRetry(sinceLast: TimeAmount, timeout: TimeAmount, tries: Int = 0) -> Bool {
        state.withLockedValue { s in
            var gap = s.rto ?? .nanoseconds(timeout.nanoseconds / 4)
            if tries > 1 {
                let spacing = ProbeTiming.offsetNanos(attempt: 1, of: tries, timeoutNanos: timeout.nanoseconds)
                gap = min(gap, .nanoseconds(spacing * 4 / 5))
            }
            guard s.launched >= firstWave, sinceLast >= gap, s.retries < max(64, s.firstTries / 2) else { return false }
            s.retries += 1
            return true
        }
    }

    /// When a probe begun at `start` with `timeout`, whose last try left at `lastTry`, counts as silence,
    /// as things stand now: one RTO after its last try (as TCP declares a segment lost), or the timeout
    /// plus this agent's timer lag, whichever is later, never before the timeout nor after the ceiling.
    func deadline(start: NIODeadline, lastTry: NIODeadline, timeout: TimeAmount) -> NIODeadline {
        let ceiling = TimeAmount.milliseconds(Int64(ProbeTiming.ceilingMs))
        // Any answer of the run counts, also to a try sent after this probe's last one: under load the
        // answers do not come back in the order their tries left (a later try to a less loaded target
        // overtakes an earlier one to a busier target; counting only earlier tries got 5 healthy paths of
        // 24 checks wrong at 200 ms on the 32-node lab, against none in 30 counting all).
        let (rto, lag, quiet) = state.withLockedValue { s in
            (s.rto ?? .zero, s.lag, s.lastArrival.map { $0 + .microseconds(Int64(s.srtt)) - start } ?? .zero)
        }
        let wait = max(timeout, min(ceiling, max((lastTry - start) + rto, timeout + lag, quiet)))
        return start + wait
    }

    /// What the run saw of its pace, for the agent's log: "srtt 0.4 ms, rto 1.2 ms, timer lag 3 ms, 12 retries
    /// for 124 probes, first tries out by 9 ms, last answer at 11 ms, no answer after its timeout".
    var summary: String {
        state.withLockedValue { s in
            func ms(_ micros: Double) -> String { String(format: "%.1f ms", micros / 1000) }
            let rtt = s.rto.map { "srtt \(ms(s.srtt)), rto \(ms(Double($0.nanoseconds) / 1000))" } ?? "no datagram answers"
            func at(_ d: NIODeadline?) -> String { d.map { "\(($0 - begun).nanoseconds / 1_000_000) ms" } ?? "-" }
            let late = s.lateAnswers == 0 ? "no answer after its timeout"
                : "\(s.lateAnswers) answers after their timeout (the slowest in \(s.slowestMs) ms)"
            return "\(rtt), timer lag \(s.lag.nanoseconds / 1_000_000) ms, \(s.retries) retries for \(s.firstTries) probes, "
                + "first tries out by \(at(s.lastFirstTry)), last answer at \(at(s.lastArrival)), \(late)"
        }
    }

    /// The latest a probe with `timeout` can count as silence.
    static func latest(start: NIODeadline, timeout: TimeAmount) -> NIODeadline {
        start + max(timeout, .milliseconds(Int64(ProbeTiming.ceilingMs)))
    }
}

/// A probe of a run that ended in silence, kept so the agent can tell from its interface tap whether the
/// answer came after all (`MissedAnswers`).
struct SilentProbe: Sendable, Equatable {
    var target: IPAddress
    var kind: KindID
    /// The nonces of its tries (UDP, ESP).
    var nonces: [[UInt8]]
    /// The local ports of its tries (TCP).
    var sourcePorts: [Int]
    /// When the probe began (wall clock, ms): no answer to it can come earlier.
    var startedAtMs: Int64
    /// When the prober counted it silent (wall clock, ms).
    var silentAtMs: Int64
}

/// Sends the probes of a plan and reports what came back.
final class Prober: Sendable {
    let group: any EventLoopGroup
    let address: IPAddress
    private let auth: ProbeAuthenticator
    let esp: ESPSocket?
    /// Kinds whose probes travel in VXLAN frames (the data path).
    let framedKinds: Set<KindID>
    /// Probes in flight at once per run; more wait their turn. High enough that a plan for a thousand
    /// peers (4,000 probes, a quarter of them waiting out a timeout) still runs in about one timeout:
    /// answered probes free their slot within a round trip. Each holds a socket (TCP: one per try), so
    /// the agent raises its open-file limit to match (`Agent.raiseOpenFileLimit`).
    let concurrency: Int

    init(group: any EventLoopGroup, address: IPAddress, token: ClusterToken, esp: ESPSocket?, framedKinds: Set<KindID>,
         concurrency: Int = 1024) {
        self.group = group
        self.address = address
        self.auth = token.probeAuthenticator
        self.esp = esp
        self.framedKinds = framedKinds
        self.concurrency = concurrency
    }

    /// Sends every probe of the plan; returns what each ended with, the probes that ended in silence, and
    /// how the run was paced.
    func run(_ request: RunRequest) async -> (reports: [ProbeReport], silent: [SilentProbe], pace: String) {
        let runID = Hex.decode(request.runID) ?? [UInt8](repeating: 0, count: 16)
        let pacing = RunPacing(firstWave: request.probes.prefix(concurrency).count { $0.kind.proto != .esp })
        let (reports, silent) = await withTaskGroup(of: (ProbeReport, SilentProbe?).self) { group in
            var results: [ProbeReport] = []
            var silent: [SilentProbe] = []
            results.reserveCapacity(request.probes.count)
            var pending = request.probes[...]
            func startNext() {
                guard let order = pending.popFirst() else { return }
                group.addTask {
                    let timeout = TimeAmount.milliseconds(Int64(order.timeoutMs ?? request.timeoutMs))
                    let (evidence, silent) = await self.probe(order, runID: runID, timeout: timeout, attempts: request.attempts, pacing: pacing)
                    return (ProbeReport(target: order.target, kind: order.kind, evidence: evidence), silent)
                }
            }
            for _ in 0..<min(concurrency, pending.count) { startNext() }
            for await (r, s) in group {
                results.append(r)
                if let s { silent.append(s) }
                startNext()
            }
            return (results, silent)
        }
        return (reports, silent, pacing.summary)
    }

    func probe(_ order: ProbeOrder, runID: [UInt8], timeout: TimeAmount, attempts: Int, pacing: RunPacing) async
        -> (SenderEvidence, SilentProbe?)
    {
        // An observed port belongs to dockerd or the kernel: no answer will come, only the target's capture
        // can tell, and the owner may log every stray datagram: two tries, so one loss does not decide.
        let count = order.observed ? min(max(1, attempts), ProbeTiming.observedAttempts) : max(1, attempts)
        let pool = randomBytes(16 * count)  // one system call for every try's nonce
        let nonces = (0..<count).map { Array(pool[($0 * 16)..<($0 * 16 + 16)]) }
        let end: ProbeEnd
        let began = NIODeadline.now()  // before its socket: errs on the side of late
        let beganMs = Int64(nowMs())
        switch order.kind.proto {
        case .tcp:
            end = await probeTCP(order, nonces: nonces, runID: runID, timeout: timeout, pacing: pacing)
        case .udp:
            end = await probeDatagram(order, nonces: nonces, runID: runID, timeout: timeout, framed: framedKinds.contains(order.kind),
                                      pacing: pacing)
        case .esp:
            if let esp {
                end = await esp.probe(order, nonces: nonces, runID: runID, timeout: timeout, auth: auth, from: address)
            } else {
                end = ProbeEnd(outcome: .sendFailed, detail: "ESP probes need a raw socket (run the agent as root or with CAP_NET_RAW)", attemptsSent: 0)
            }
        }
        if end.attemptsSent == 0 && order.kind.proto != .esp { pacing.noFirstTry() }
        // The run's answers are still coming in: stamped now, when this probe's task has it (under load
        // later than the packet came, which errs on the side of waiting).
        if end.answerArrived {
            pacing.arrived()
            pacing.answered(took: .now() - began, timeout: timeout)
        }
        // Round trips from datagrams only: a TCP probe's time includes TCP's own retransmission timers
        // (a lost segment costs 200 ms or more), which says nothing about the path's round trip.
        if end.outcome == .answered, order.kind.proto != .tcp, let rtt = end.rttMicros { pacing.add(micros: rtt) }
        let used = end.sentNonces ?? Array(nonces.prefix(max(1, end.attemptsSent)))
        let evidence = SenderEvidence(outcome: end.outcome, attempts: end.attemptsSent, rttMicros: end.rttMicros,
                                      detail: end.detail, nonces: used.map { Hex.encode($0) },
                                      sourcePorts: end.sourcePorts)
        guard end.outcome == .timeout, end.attemptsSent > 0 else { return (evidence, nil) }
        return (evidence, SilentProbe(target: order.target, kind: order.kind, nonces: used, sourcePorts: end.sourcePorts,
                                      startedAtMs: beganMs, silentAtMs: end.endedAtMs ?? Int64(nowMs())))
    }

    private func packet(_ order: ProbeOrder, nonce: [UInt8], runID: [UInt8], replyPort: Int) -> [UInt8] {
        ProbePacket(type: .probe, proto: order.kind.proto, targetPort: UInt16(order.kind.port ?? 0),
                    replyPort: UInt16(replyPort), timeMs: nowMs(), nonce: nonce, runID: runID,
                    sender: address, target: order.target).encode(auth: auth)
    }

    // MARK: TCP

    /// Source ports for TCP probes are chosen here, before connecting, so the target's capture can match
    /// the SYN of a probe that never connects. Linux's default ephemeral range.
    static let sourcePorts = 32768...60999

    /// One TCP probe, run on one event loop by `TCPProbeSeries`.
    private func probeTCP(_ order: ProbeOrder, nonces: [[UInt8]], runID: [UInt8], timeout: TimeAmount,
                          pacing: RunPacing) async -> ProbeEnd {
        let remote: SocketAddress
        do {
            remote = try order.target.socketAddress(port: order.kind.port ?? 0)
        } catch {
            return ProbeEnd(outcome: .sendFailed, detail: "bad address: \(error)", attemptsSent: 0)
        }
        let loop = group.next()
        let promise = loop.makePromise(of: ProbeEnd.self)
        let box = NIOLoopBoundBox.makeEmptyBox(valueType: TCPProbeSeries.self, eventLoop: loop)
        let packet: @Sendable ([UInt8], Int) -> [UInt8] = { [self] nonce, port in
            self.packet(order, nonce: nonce, runID: runID, replyPort: port)
        }
        let local = address, auth = self.auth
        return await withTaskCancellationHandler {
            loop.execute {
                let series = TCPProbeSeries(loop: loop, box: box, local: local, remote: remote, observed: order.observed,
                                            auth: auth, nonces: nonces, timeout: timeout, pacing: pacing,
                                            packet: packet, promise: promise)
                box.value = series
                series.start()
            }
            return (try? await promise.futureResult.get()) ?? ProbeEnd(outcome: .timeout, attemptsSent: 0)
        } onCancel: {
            loop.execute { box.value?.finish(nil) }
        }
    }

    static let noFreePort = "no free source port"

    static func classify(connectError error: any Error, attemptsSent: Int) -> ProbeEnd {
        if let e = error as? ChannelError, case .connectTimeout = e {
            return ProbeEnd(outcome: .timeout, attemptsSent: attemptsSent)
        }
        var errno: CInt?
        if let io = error as? IOError { errno = io.errnoCode }
        if let c = error as? NIOConnectionError, let first = c.connectionErrors.first {
            errno = (first.error as? IOError)?.errnoCode
        }
        guard let code = errno else {
            return ProbeEnd(outcome: .sendFailed, detail: "\(error)", attemptsSent: attemptsSent)
        }
        return classify(errno: code, attemptsSent: attemptsSent)
    }

    static func classify(errno code: CInt, attemptsSent: Int) -> ProbeEnd {
        let text = String(cString: strerror(code))
        switch code {
        case ECONNREFUSED, ECONNRESET:
            return ProbeEnd(outcome: .refused, detail: text, attemptsSent: attemptsSent)
        case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN:
            return ProbeEnd(outcome: .unreachable, detail: text, attemptsSent: attemptsSent)
        case ETIMEDOUT:
            return ProbeEnd(outcome: .timeout, attemptsSent: attemptsSent)
        default:
            // EPERM: our own output firewall; EADDRNOTAVAIL: the address is not on this host.
            return ProbeEnd(outcome: .sendFailed, detail: text, attemptsSent: attemptsSent)
        }
    }

    // MARK: UDP

    private func probeDatagram(_ order: ProbeOrder, nonces: [[UInt8]], runID: [UInt8], timeout: TimeAmount, framed: Bool,
                               pacing: RunPacing) async -> ProbeEnd {
        let loop = group.next()
        let promise = loop.makePromise(of: ProbeEnd.self)
        let remote: SocketAddress
        let local: SocketAddress
        do {
            remote = try order.target.socketAddress(port: order.kind.port ?? 0)
            local = try address.socketAddress(port: 0)
        } catch {
            return ProbeEnd(outcome: .sendFailed, detail: "bad address: \(error)", attemptsSent: 0)
        }
        let auth = self.auth
        let makePacket: @Sendable (_ nonce: [UInt8], _ replyPort: Int) -> [UInt8] = { [self] nonce, port in
            let p = self.packet(order, nonce: nonce, runID: runID, replyPort: port)
            return framed ? VXLANFrame.wrap(p) : p
        }
        let bootstrap = DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPProbeClient(auth: auth, remote: remote, nonces: nonces, timeout: timeout, framed: framed, pacing: pacing,
                                       makePacket: makePacket, promise: promise))
                }
            }
        do {
            let channel = try await bootstrap.bind(to: local).get()
            let end = try await promise.futureResult.get()
            try? await channel.close()
            return end
        } catch {
            promise.succeed(ProbeEnd(outcome: .timeout, attemptsSent: 0))
            return ProbeEnd(outcome: .sendFailed, detail: "\(error)", attemptsSent: 0)
        }
    }
}


/// One UDP probe series on its own connected socket: tries spread over the first three quarters of the
/// timeout (`ProbeTiming`), each only while nothing has answered,
/// the first authenticated echo wins; ICMP errors arrive as socket errors. Its clock is its loop's (`EventLoop.now`:
/// the monotonic clock on a real loop, the virtual one on a test's embedded loop).
final class UDPProbeClient: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let auth: ProbeAuthenticator
    private let remote: SocketAddress
    private let nonces: [[UInt8]]
    private let timeout: TimeAmount
    private let framed: Bool
    private let makePacket: @Sendable ([UInt8], Int) -> [UInt8]
    private let promise: EventLoopPromise<ProbeEnd>
    private let pacing: RunPacing
    private var started = NIODeadline.now()
    private var sentAt: [NIODeadline] = []
    private var sentNonces: [[UInt8]] = []
    /// The one timer of this probe: its next try, then its expiry.
    private var timer: Scheduled<Void>?
    private var nextTry = 0
    private var expiry = NIODeadline.now()
    private var settled = false
    private var badAnswer: String?
    private var lastError: String?

    init(auth: ProbeAuthenticator, remote: SocketAddress, nonces: [[UInt8]], timeout: TimeAmount, framed: Bool, pacing: RunPacing,
         makePacket: @escaping @Sendable ([UInt8], Int) -> [UInt8], promise: EventLoopPromise<ProbeEnd>) {
        self.pacing = pacing
        self.auth = auth
        self.remote = remote
        self.nonces = nonces
        self.timeout = timeout
        self.framed = framed
        self.makePacket = makePacket
        self.promise = promise
    }

    private func settle(_ end: ProbeEnd, _ context: ChannelHandlerContext) {
        guard !settled else { return }
        settled = true
        timer?.cancel()
        var end = end.arrivedWithPacket  // of these ends, the echo and a port-unreachable came with a packet
        end.sentNonces = sentNonces
        end.endedAtMs = Int64(nowMs())
        promise.succeed(end)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        // Connect so ICMP port-unreachable comes back to us as ECONNREFUSED.
        context.channel.connect(to: remote).hop(to: context.eventLoop).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure(let error):
                settle(ProbeEnd(outcome: .sendFailed, detail: "connect: \(error)", attemptsSent: 0), context)
            case .success:
                started = context.eventLoop.now
                expiry = started + timeout
                nextTry = 1
                send(attempt: 0, context)
                arm(context)
            }
        }
    }

    /// Schedules the next try, or the expiry once every try is due.
    private func arm(_ context: ChannelHandlerContext) {
        guard !settled else { return }
        let isTry = nextTry < nonces.count
        let due = isTry
            ? started + .nanoseconds(ProbeTiming.offsetNanos(attempt: nextTry, of: nonces.count, timeoutNanos: timeout.nanoseconds))
            : expiry
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [self] in
            guard !settled else { return }
            pacing.fired(due: due)
            if isTry {
                nextTry += 1
                send(attempt: nextTry - 1, context)
            } else if !expire(context) {
                return
            }
            arm(context)
        }
    }

    /// The timeout is up: silence (returns false), unless this run's answers come back so slowly that it
    /// should wait on (moves the expiry, returns true).
    private func expire(_ context: ChannelHandlerContext) -> Bool {
        let deadline = pacing.deadline(start: started, lastTry: sentAt.last ?? started, timeout: timeout)
        let now = context.eventLoop.now
        if deadline - now > .milliseconds(1) {
            expiry = deadline
            return true
        }
        // A datagram the kernel holds for this socket and this loop has not read yet (a loop woken late reads
        // its sockets in batches, and may run this timer first): read it before calling the path silent.
        if Self.queuedBytes(context.channel) > 0, now < RunPacing.latest(start: started, timeout: timeout) {
            expiry = now + .milliseconds(1)
            return true
        }
        if let badAnswer {
            settle(ProbeEnd(outcome: .badAnswer, detail: badAnswer, attemptsSent: sentAt.count), context)
        } else {
            settle(ProbeEnd(outcome: .timeout, detail: lastError, attemptsSent: sentAt.count), context)
        }
        return false
    }

    /// Bytes waiting in the socket's receive queue (SO_MEMINFO's SK_MEMINFO_RMEM_ALLOC, the first of its
    /// counters; Linux copies as many as asked for). This is the channel's loop, so the future is complete.
    static func queuedBytes(_ channel: any Channel) -> UInt32 {
        guard let provider = channel as? any SocketOptionProvider else { return 0 }
        var bytes: UInt32 = 0
        provider.unsafeGetSocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: 55))  // SO_MEMINFO
            .assumeIsolated().whenSuccess { (v: UInt32) in bytes = v }
        return bytes
    }

    private func send(attempt i: Int, _ context: ChannelHandlerContext) {
        guard !settled else { return }
        // A retry waits one RTO of this run after the previous try (at most most of the tries' spacing),
        // within the run's retry budget (overload must not feed itself).
        if let last = sentAt.last {
            guard pacing.takeRetry(sinceLast: context.eventLoop.now - last, timeout: timeout, tries: nonces.count) else { return }
        } else {
            pacing.firstTry()
        }
        let bytes = makePacket(nonces[i], context.channel.localAddress?.port ?? 0)
        sentAt.append(context.eventLoop.now)
        sentNonces.append(nonces[i])
        let envelope = AddressedEnvelope(remoteAddress: remote, data: context.channel.allocator.buffer(bytes: bytes))
        context.writeAndFlush(wrapOutboundOut(envelope)).assumeIsolated().whenFailure { [self] error in
            handle(error: error, context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = envelope.data.readableBytesView
        guard let inner = framed ? VXLANFrame.unwrap(bytes) : bytes[...] else {
            badAnswer = "an answer that is not a VXLAN frame of ours"
            return
        }
        switch ProbePacket.decode(inner, auth: auth) {
        case let .success(p) where p.type == .echo:
            guard let i = sentNonces.firstIndex(of: p.nonce) else {
                badAnswer = "an echo for another probe"
                return
            }
            let rtt = Int((context.eventLoop.now - sentAt[i]).nanoseconds / 1000)
            settle(ProbeEnd(outcome: .answered, rttMicros: rtt, attemptsSent: sentAt.count), context)
        case .success:
            badAnswer = "a probe instead of an echo"
        case let .failure(why):
            badAnswer = why.rawValue
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handle(error: error, context)
    }

    private func handle(error: any Error, _ context: ChannelHandlerContext) {
        guard let io = error as? IOError else {
            lastError = "\(error)"
            return
        }
        let end = Prober.classify(errno: io.errnoCode, attemptsSent: max(1, sentAt.count))
        switch end.outcome {
        case .refused, .unreachable:
            settle(end, context)
        default:
            lastError = end.detail
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(ProbeEnd(outcome: lastError == nil ? .timeout : .sendFailed, detail: lastError ?? "socket closed", attemptsSent: sentAt.count), context)
        context.fireChannelInactive()
    }
}
