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
}

/// What one run has seen of its own pace, and what that implies for every probe still waiting. On a
/// healthy run none of it changes anything; on an overloaded one (a node answering a thousand peers, a
/// starved CPU, a lab of 32 agents on 2 cores) it keeps the probes from feeding the overload and from
/// calling slow paths blocked:
/// - round trips of the answers, as TCP keeps them (RFC 6298: SRTT, RTTVAR, RTO = SRTT + 4 x RTTVAR);
/// - how late this agent's own timers fire (its event loops' lag: when it is busy, so are its peers,
///   which carry the same fan-out);
/// - a retry leaves only when at least one RTO has passed since the previous try of that probe (before
///   any answer: a quarter of its timeout), and only while the run's retries stay within 64 or half of
///   its first tries, whichever is more (random loss of 10 % each way needs about a fifth; an overload
///   would need five times);
/// - a probe waits max(timeout, 2 x RTO, timeout + lag) before it counts as silence, at most
///   `ProbeTiming.ceilingMs`.
/// Round trips come from datagram answers only (a TCP probe's time includes TCP's own retransmission
/// timers). Measured (BENCHMARKS.md): a 32-node lab on 2 cores went from 18 % to 100 % right at the
/// 500 ms floor, and 10 % loss each way still gets every verdict right.
final class RunPacing: Sendable {
    private struct State {
        var srtt = 0.0, rttvar = 0.0, samples = 0
        var firstTries = 0, retries = 0
        var lag = TimeAmount.zero

        /// SRTT + 4 x RTTVAR; nil before any answer.
        var rto: TimeAmount? { samples == 0 ? nil : .microseconds(Int64(srtt + 4 * rttvar)) }
    }
    private let state = NIOLockedValueBox(State())

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

    func firstTry() {
        state.withLockedValue { $0.firstTries += 1 }
    }

    /// May a retry leave now, `sinceLast` after the previous try of a probe whose timeout is `timeout`?
    /// Counts it if so.
    func takeRetry(sinceLast: TimeAmount, timeout: TimeAmount) -> Bool {
        state.withLockedValue { s in
            let gap = s.rto ?? .nanoseconds(timeout.nanoseconds / 4)
            guard sinceLast >= gap, s.retries < max(64, s.firstTries / 2) else { return false }
            s.retries += 1
            return true
        }
    }

    /// When a probe begun at `start` with `timeout` counts as silence, as things stand now.
    func deadline(start: NIODeadline, timeout: TimeAmount) -> NIODeadline {
        let ceiling = TimeAmount.milliseconds(Int64(ProbeTiming.ceilingMs))
        let (rto, lag) = state.withLockedValue { s in (s.rto ?? .zero, s.lag) }
        let wait = max(timeout, min(ceiling, max(rto * 2, timeout + lag)))
        return start + wait
    }

    /// The latest a probe with `timeout` can count as silence.
    static func latest(start: NIODeadline, timeout: TimeAmount) -> NIODeadline {
        start + max(timeout, .milliseconds(Int64(ProbeTiming.ceilingMs)))
    }
}

/// Sends the probes of a plan and reports what came back.
final class Prober: Sendable {
    let group: any EventLoopGroup
    let address: IPAddress
    private let keyBytes: [UInt8]
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
        self.keyBytes = token.probeKey.withUnsafeBytes { Array($0) }
        self.esp = esp
        self.framedKinds = framedKinds
        self.concurrency = concurrency
    }

    func run(_ request: RunRequest) async -> [ProbeReport] {
        let runID = Hex.decode(request.runID) ?? [UInt8](repeating: 0, count: 16)
        let pacing = RunPacing()
        return await withTaskGroup(of: ProbeReport.self) { group in
            var results: [ProbeReport] = []
            results.reserveCapacity(request.probes.count)
            var pending = request.probes[...]
            func startNext() {
                guard let order = pending.popFirst() else { return }
                group.addTask {
                    let timeout = TimeAmount.milliseconds(Int64(order.timeoutMs ?? request.timeoutMs))
                    let evidence = await self.probe(order, runID: runID, timeout: timeout, attempts: request.attempts, pacing: pacing)
                    return ProbeReport(target: order.target, kind: order.kind, evidence: evidence)
                }
            }
            for _ in 0..<min(concurrency, pending.count) { startNext() }
            for await r in group {
                results.append(r)
                startNext()
            }
            return results
        }
    }

    func probe(_ order: ProbeOrder, runID: [UInt8], timeout: TimeAmount, attempts: Int, pacing: RunPacing) async -> SenderEvidence {
        // An observed port belongs to dockerd or the kernel: no answer will come, only the target's capture
        // can tell, and the owner may log every stray datagram: two tries, so one loss does not decide.
        let count = order.observed ? min(max(1, attempts), ProbeTiming.observedAttempts) : max(1, attempts)
        let nonces = (0..<count).map { _ in randomBytes(16) }
        let end: ProbeEnd
        switch order.kind.proto {
        case .tcp:
            end = await probeTCP(order, nonces: nonces, runID: runID, timeout: timeout, pacing: pacing)
        case .udp:
            end = await probeDatagram(order, nonces: nonces, runID: runID, timeout: timeout, framed: framedKinds.contains(order.kind),
                                      pacing: pacing)
        case .esp:
            if let esp {
                end = await esp.probe(order, nonces: nonces, runID: runID, timeout: timeout, key: keyBytes, from: address)
            } else {
                end = ProbeEnd(outcome: .sendFailed, detail: "ESP probes need a raw socket (run the agent as root or with CAP_NET_RAW)", attemptsSent: 0)
            }
        }
        // Round trips from datagrams only: a TCP probe's time includes TCP's own retransmission timers
        // (a lost segment costs 200 ms or more), which says nothing about the path's round trip.
        if end.outcome == .answered, order.kind.proto != .tcp, let rtt = end.rttMicros { pacing.add(micros: rtt) }
        let used = end.sentNonces ?? Array(nonces.prefix(max(1, end.attemptsSent)))
        return SenderEvidence(outcome: end.outcome, attempts: end.attemptsSent, rttMicros: end.rttMicros,
                              detail: end.detail, nonces: used.map { Hex.encode($0) },
                              sourcePorts: end.sourcePorts)
    }

    private func packet(_ order: ProbeOrder, nonce: [UInt8], runID: [UInt8], replyPort: Int) -> [UInt8] {
        ProbePacket(type: .probe, proto: order.kind.proto, targetPort: UInt16(order.kind.port ?? 0),
                    replyPort: UInt16(replyPort), timeMs: nowMs(), nonce: nonce, runID: runID,
                    sender: address, target: order.target).encode(key: SymmetricKeyType(data: keyBytes))
    }

    // MARK: TCP

    /// Source ports for TCP probes are chosen here, before connecting, so the target's capture can match
    /// the SYN of a probe that never connects. Linux's default ephemeral range.
    static let sourcePorts = 32768...60999

    /// One TCP probe: up to one connection per nonce, a new one (from a new source port, with its own
    /// nonce) at each retry time while none has completed its handshake, because the kernel's own SYN
    /// retransmission (1 s) is later than most timeouts; once connected, TCP's own retransmission
    /// carries the probe and its echo. The first decisive end (answered, connected, refused,
    /// unreachable) wins and the other tries are closed; every try's source port is reported so the
    /// target's capture can match its SYN.
    private func probeTCP(_ order: ProbeOrder, nonces: [[UInt8]], runID: [UInt8], timeout: TimeAmount,
                          pacing: RunPacing) async -> ProbeEnd {
        let attempts = nonces.count
        let remote: SocketAddress
        do {
            remote = try order.target.socketAddress(port: order.kind.port ?? 0)
        } catch {
            return ProbeEnd(outcome: .sendFailed, detail: "bad address: \(error)", attemptsSent: 0)
        }
        let start = NIODeadline.now()
        // Tries may live until the latest possible deadline; the `.expired` events decide when to stop.
        let latest = RunPacing.latest(start: start, timeout: timeout)
        enum Event: Sendable {
            case ended(Int, ProbeEnd)
            case retryDue
            case expired
        }
        let handshakeDone = NIOLockedValueBox(false)
        return await withTaskGroup(of: Event.self) { group in
            var launched = 0
            var lastLaunch = start
            var ends: [Int: ProbeEnd] = [:]
            var winner: ProbeEnd?
            var givenUp = false
            func at(_ when: NIODeadline, _ event: Event) {
                group.addTask {
                    let wait = when - NIODeadline.now()
                    if wait > .zero { try? await Task.sleep(nanoseconds: UInt64(wait.nanoseconds)) }
                    if !Task.isCancelled { pacing.fired(due: when) }
                    return event
                }
            }
            func launch() {
                let i = launched
                launched += 1
                lastLaunch = .now()
                group.addTask { [self] in
                    .ended(i, await self.tcpTry(order, to: remote, nonce: nonces[i], runID: runID, deadline: latest,
                                                connected: { handshakeDone.withLockedValue { $0 = true } }))
                }
            }
            pacing.firstTry()
            launch()
            for i in 1..<max(1, attempts) {
                at(start + .nanoseconds(ProbeTiming.offsetNanos(attempt: i, of: attempts, timeoutNanos: timeout.nanoseconds)), .retryDue)
            }
            at(start + timeout, .expired)
            while let event = await group.next() {
                switch event {
                case .retryDue:
                    if winner == nil && !givenUp && launched < attempts && !handshakeDone.withLockedValue({ $0 })
                        && pacing.takeRetry(sinceLast: .now() - lastLaunch, timeout: timeout) {
                        launch()
                    }
                case .expired:
                    guard winner == nil && !givenUp else { continue }
                    let deadline = pacing.deadline(start: start, timeout: timeout)
                    if deadline - NIODeadline.now() > .milliseconds(1) {
                        at(deadline, .expired)  // this run's answers are slow: wait as long as they take
                    } else if handshakeDone.withLockedValue({ $0 }) {
                        // Connected, but the echo did not come back in time: the handshake proves the path.
                        winner = ProbeEnd(outcome: .connected, detail: "handshake completed; no authenticated answer in time",
                                          attemptsSent: launched)
                        group.cancelAll()
                    } else {
                        givenUp = true
                        group.cancelAll()
                    }
                case let .ended(i, end):
                    ends[i] = end
                    guard winner == nil && !givenUp else { continue }
                    switch end.outcome {
                    case .timeout:
                        break
                    case .sendFailed where end.detail == Prober.noFreePort:
                        break
                    default:
                        winner = end
                        group.cancelAll()
                    }
                }
            }
            let ports = (0..<launched).compactMap { ends[$0]?.sourcePorts.first }
            // Given up: every try was still waiting (cancelling them closed their sockets; that is no error).
            var end = winner ?? (givenUp ? nil : ends.sorted { $0.key < $1.key }.last { $0.value.outcome != .timeout }?.value)
                ?? ProbeEnd(outcome: .timeout, attemptsSent: launched)
            if winner == nil && end.outcome == .timeout { end.detail = nil }
            end.attemptsSent = launched
            end.sourcePorts = ports
            return end
        }
    }

    static let noFreePort = "no free source port"

    /// One TCP connection attempt from a random source port, ending by `deadline`.
    private func tcpTry(_ order: ProbeOrder, to remote: SocketAddress, nonce: [UInt8], runID: [UInt8], deadline: NIODeadline,
                        connected: @escaping @Sendable () -> Void) async -> ProbeEnd {
        var end = ProbeEnd(outcome: .sendFailed, detail: Prober.noFreePort, attemptsSent: 0)
        for _ in 0..<8 {
            let port = Int.random(in: Prober.sourcePorts)
            end = await tcpTry(order, from: port, to: remote, nonce: nonce, runID: runID, deadline: deadline, connected: connected)
            // Another socket has this port: try another one.
            guard end.outcome == .sendFailed, end.detail == String(cString: strerror(EADDRINUSE)) else { break }
        }
        return end
    }

    private func tcpTry(_ order: ProbeOrder, from sourcePort: Int, to remote: SocketAddress, nonce: [UInt8], runID: [UInt8],
                        deadline: NIODeadline, connected: @escaping @Sendable () -> Void) async -> ProbeEnd {
        let loop = group.next()
        let promise = loop.makePromise(of: ProbeEnd.self)
        let key = keyBytes
        let started = NIODeadline.now()
        let handshakeOnly = order.observed
        guard let local = try? address.socketAddress(port: sourcePort) else {
            return ProbeEnd(outcome: .sendFailed, detail: "bad local address", attemptsSent: 0)
        }
        // Another try won: close this one's socket, connecting or not.
        let state = NIOLockedValueBox<(channel: (any Channel)?, cancelled: Bool)>((nil, false))
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(max(deadline - started, .milliseconds(1)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let cancelled = state.withLockedValue { s -> Bool in
                        s.channel = channel
                        return s.cancelled
                    }
                    if cancelled { throw CancellationError() }
                    try channel.pipeline.syncOperations.addHandler(
                        TCPProbeClient(key: key, nonce: nonce, started: started, deadline: deadline,
                                       handshakeOnly: handshakeOnly, promise: promise))
                }
            }
        var end: ProbeEnd = await withTaskCancellationHandler {
            do {
                let channel = try await bootstrap.bind(to: local).connect(to: remote).get()
                connected()
                if !handshakeOnly {
                    // Connected: send the probe; the handler waits for the echo and settles the promise.
                    let bytes = packet(order, nonce: nonce, runID: runID, replyPort: sourcePort)
                    channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
                }
                let end = try await promise.futureResult.get()
                // A graceful close (FIN): the program behind the port sees a plain end of stream.
                try? await channel.close()
                return end
            } catch {
                promise.succeed(ProbeEnd(outcome: .timeout, attemptsSent: 1))  // no-op if already settled
                return Prober.classify(connectError: error, attemptsSent: 1)
            }
        } onCancel: {
            let channel = state.withLockedValue { s -> (any Channel)? in
                s.cancelled = true
                return s.channel
            }
            channel?.close(promise: nil)
            promise.succeed(ProbeEnd(outcome: .timeout, detail: "superseded by another try", attemptsSent: 1))
        }
        end.sourcePorts = [sourcePort]
        return end
    }

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
        let key = keyBytes
        let makePacket: @Sendable (_ nonce: [UInt8], _ replyPort: Int) -> [UInt8] = { [self] nonce, port in
            let p = self.packet(order, nonce: nonce, runID: runID, replyPort: port)
            return framed ? VXLANFrame.wrap(p) : p
        }
        let bootstrap = DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPProbeClient(key: key, remote: remote, nonces: nonces, timeout: timeout, framed: framed, pacing: pacing,
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


/// One TCP probe: the connection is up; write the probe, wait for the echo.
final class TCPProbeClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let key: [UInt8]
    private let nonce: [UInt8]
    private let started: NIODeadline
    private let deadline: NIODeadline
    private let promise: EventLoopPromise<ProbeEnd>
    private var buffer: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var settled = false
    private var handshakeMicros: Int?
    private let handshakeOnly: Bool

    init(key: [UInt8], nonce: [UInt8], started: NIODeadline, deadline: NIODeadline, handshakeOnly: Bool,
         promise: EventLoopPromise<ProbeEnd>) {
        self.key = key
        self.nonce = nonce
        self.started = started
        self.deadline = deadline
        self.handshakeOnly = handshakeOnly
        self.promise = promise
    }

    private func settle(_ end: ProbeEnd) {
        guard !settled else { return }
        settled = true
        timer?.cancel()
        promise.succeed(end)
    }

    func channelActive(context: ChannelHandlerContext) {
        handshakeMicros = Int((NIODeadline.now() - started).nanoseconds / 1000)
        if handshakeOnly {
            // Someone else's port (dockerd): the handshake is the evidence; send nothing, close with FIN.
            settle(ProbeEnd(outcome: .connected, rttMicros: handshakeMicros,
                            detail: "handshake completed; no bytes sent (the port belongs to another program)", attemptsSent: 1))
            context.fireChannelActive()
            return
        }
        // Wait for the echo no longer than the rest of the timeout, but at least a little.
        let wait = max(deadline - NIODeadline.now(), .milliseconds(200))
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: wait) { [self] in
            settle(ProbeEnd(outcome: .connected, rttMicros: handshakeMicros,
                            detail: "handshake completed; no authenticated answer", attemptsSent: 1))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        guard let b = buffer, b.readableBytes >= ProbePacket.headerSize,
              let pad = b.getInteger(at: b.readerIndex + 84, as: UInt16.self) else { return }
        let expected = ProbePacket.minimumSize + Int(pad)
        if expected > ProbePacket.maximumSize || b.readableBytes > ProbePacket.maximumSize {
            return settle(ProbeEnd(outcome: .badAnswer, detail: "oversized answer", attemptsSent: 1))
        }
        guard b.readableBytes >= expected else { return }
        let rtt = Int((NIODeadline.now() - started).nanoseconds / 1000)
        switch ProbePacket.decode(b.readableBytesView.prefix(expected), key: SymmetricKeyType(data: key)) {
        case let .success(p) where p.type == .echo && p.nonce == nonce:
            settle(ProbeEnd(outcome: .answered, rttMicros: rtt, attemptsSent: 1))
        case .success:
            settle(ProbeEnd(outcome: .badAnswer, detail: "answer for another probe", attemptsSent: 1))
        case let .failure(why):
            settle(ProbeEnd(outcome: .badAnswer, detail: why.rawValue, attemptsSent: 1))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closed before an answer: the handshake is all we have.
        settle(ProbeEnd(outcome: .connected, rttMicros: handshakeMicros,
                        detail: "handshake completed; the peer closed without an authenticated answer", attemptsSent: 1))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let io = error as? IOError, io.errnoCode == ECONNRESET, !settled {
            settle(ProbeEnd(outcome: .connected, rttMicros: handshakeMicros,
                            detail: "handshake completed, then the peer reset the connection", attemptsSent: 1))
        }
        context.close(promise: nil)
    }
}

/// One UDP probe series on its own connected socket: tries spread over the first three quarters of the
/// timeout (`ProbeTiming`), each only while nothing has answered,
/// the first authenticated echo wins; ICMP errors arrive as socket errors.
final class UDPProbeClient: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let key: [UInt8]
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
    private var timers: [Scheduled<Void>] = []
    private var settled = false
    private var badAnswer: String?
    private var lastError: String?

    init(key: [UInt8], remote: SocketAddress, nonces: [[UInt8]], timeout: TimeAmount, framed: Bool, pacing: RunPacing,
         makePacket: @escaping @Sendable ([UInt8], Int) -> [UInt8], promise: EventLoopPromise<ProbeEnd>) {
        self.pacing = pacing
        self.key = key
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
        timers.forEach { $0.cancel() }
        var end = end
        end.sentNonces = sentNonces
        promise.succeed(end)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        let loop = context.eventLoop.assumeIsolated()
        // Connect so ICMP port-unreachable comes back to us as ECONNREFUSED.
        context.channel.connect(to: remote).hop(to: context.eventLoop).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure(let error):
                settle(ProbeEnd(outcome: .sendFailed, detail: "connect: \(error)", attemptsSent: 0), context)
            case .success:
                started = .now()
                let start = started
                for i in 0..<nonces.count {
                    let due = ProbeTiming.offsetNanos(attempt: i, of: nonces.count, timeoutNanos: timeout.nanoseconds)
                    timers.append(loop.scheduleTask(in: .nanoseconds(due)) { [self] in
                        if i > 0 { pacing.fired(due: start + .nanoseconds(due)) }
                        send(attempt: i, context)
                    })
                }
                timers.append(loop.scheduleTask(in: timeout) { [self] in
                    pacing.fired(due: start + timeout)
                    expire(context)
                })
            }
        }
    }

    /// The timeout is up: silence, unless this run's answers come back so slowly that it should wait on.
    private func expire(_ context: ChannelHandlerContext) {
        guard !settled else { return }
        let deadline = pacing.deadline(start: started, timeout: timeout)
        let left = deadline - NIODeadline.now()
        if left > .milliseconds(1) {
            timers.append(context.eventLoop.assumeIsolated().scheduleTask(in: left) { [self] in expire(context) })
            return
        }
        if let badAnswer {
            settle(ProbeEnd(outcome: .badAnswer, detail: badAnswer, attemptsSent: sentAt.count), context)
        } else {
            settle(ProbeEnd(outcome: .timeout, detail: lastError, attemptsSent: sentAt.count), context)
        }
    }

    private func send(attempt i: Int, _ context: ChannelHandlerContext) {
        guard !settled else { return }
        // A retry waits at least one RTO of this run after the previous try, within the run's retry budget
        // (overload must not feed itself).
        if let last = sentAt.last {
            guard pacing.takeRetry(sinceLast: .now() - last, timeout: timeout) else { return }
        } else {
            pacing.firstTry()
        }
        let bytes = makePacket(nonces[i], context.channel.localAddress?.port ?? 0)
        sentAt.append(.now())
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
        switch ProbePacket.decode(inner, key: SymmetricKeyType(data: key)) {
        case let .success(p) where p.type == .echo:
            guard let i = sentNonces.firstIndex(of: p.nonce) else {
                badAnswer = "an echo for another probe"
                return
            }
            let rtt = Int((NIODeadline.now() - sentAt[i]).nanoseconds / 1000)
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
