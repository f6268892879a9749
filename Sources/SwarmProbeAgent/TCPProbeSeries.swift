import Foundation
import NIOCore
import NIOPosix
import SwarmProbeCore

/// One TCP probe: all its tries, their timers and its end, on one event loop.
///
/// A try is a connection from a random source port (chosen here, before connecting, so the target's
/// capture can match the SYN of a try that never connects) with its own nonce. The next try leaves at each
/// retry time while none has completed its handshake, because the kernel's own SYN retransmission (1 s)
/// is later than most timeouts; once connected, TCP's own retransmission carries the probe and its echo.
/// The first decisive end (answered, connected, refused, unreachable) wins and the other tries are closed;
/// every try's source port is reported.
///
/// The tries' sockets and the probe's one timer share the loop, so a loop that falls behind (a starved CPU)
/// still handles the connections that completed before it can call the probe silent; and at the deadline
/// the kernel's own view of each connection still in progress (TCP_INFO, SO_ERROR) has the last word: a
/// handshake the kernel completed proves the path even when the loop never had time to notice it.
final class TCPProbeSeries {
    private struct Try {
        var port: Int
        var channel: (any Channel)?
        var end: ProbeEnd?
    }
    private enum Due {
        case retry(NIODeadline)
        case expiry(NIODeadline)
    }

    private let loop: any EventLoop
    private let box: NIOLoopBoundBox<TCPProbeSeries?>
    private let local: IPAddress
    private let remote: SocketAddress
    private let observed: Bool
    private let auth: ProbeAuthenticator
    private let nonces: [[UInt8]]
    private let timeout: TimeAmount
    private let pacing: RunPacing
    private let packet: @Sendable (_ nonce: [UInt8], _ replyPort: Int) -> [UInt8]
    private let promise: EventLoopPromise<ProbeEnd>
    private let began = NIODeadline.now()
    /// Tries may live until the latest possible deadline; the expiry decides when to stop.
    private let latest: NIODeadline
    private var tries: [Try] = []
    private var lastLaunch: NIODeadline
    private var nextRetry = 1
    private var expiry: NIODeadline
    private var timer: Scheduled<Void>?
    private var handshakeDone = false
    private var finished = false
    /// The probe ended with the agent's answer: its other tries end with a reset too (`close`).
    private var resetLeftovers = false

    init(
        loop: any EventLoop, box: NIOLoopBoundBox<TCPProbeSeries?>, local: IPAddress, remote: SocketAddress, observed: Bool,
        auth: ProbeAuthenticator, nonces: [[UInt8]], timeout: TimeAmount, pacing: RunPacing,
        packet: @escaping @Sendable ([UInt8], Int) -> [UInt8], promise: EventLoopPromise<ProbeEnd>
    ) {
        self.loop = loop
        self.box = box
        self.local = local
        self.remote = remote
        self.observed = observed
        self.auth = auth
        self.nonces = nonces
        self.timeout = timeout
        self.pacing = pacing
        self.packet = packet
        self.promise = promise
        self.latest = RunPacing.latest(start: began, timeout: timeout)
        self.lastLaunch = began
        self.expiry = began + timeout
    }

    func start() {
        pacing.firstTry()
        launch()
        arm()
    }

    /// Ends the probe: `winner`, or silence. Closes every try still open.
    func finish(_ winner: ProbeEnd?) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        var end = winner ?? ProbeEnd(outcome: .timeout, attemptsSent: 0)
        // No try could even leave (every source port taken, our own firewall): say why, not "silence".
        if winner == nil, let last = tries.last?.end, tries.allSatisfy({ $0.end?.outcome == .sendFailed }) { end = last }
        end.attemptsSent = tries.count
        end.sourcePorts = tries.map(\.port)
        end.endedAtMs = Int64(nowMs())
        // Then close the tries still open (closing one fails its connect at once, which lands in `ended`); with
        // a reset, like the answered try, once the agent behind the port has answered one.
        resetLeftovers = !observed && end.outcome == .answered
        for t in tries where t.end == nil {
            if let channel = t.channel { Self.close(channel, reset: resetLeftovers) }
        }
        // The box and the series hold each other: let go, so the series and its channels can be freed (a try
        // still starting finds the box empty and stops).
        box.value = nil
        promise.succeed(end)
    }

    // MARK: timers

    private func arm() {
        // A try can end the probe inside `launch()` (a bootstrap on its own loop binds and connects inline).
        guard !finished else { return }
        let due: Due
        if nextRetry < nonces.count {
            let at = began + .nanoseconds(ProbeTiming.offsetNanos(attempt: nextRetry, of: nonces.count, timeoutNanos: timeout.nanoseconds))
            due = at < expiry ? .retry(at) : .expiry(expiry)
        } else {
            due = .expiry(expiry)
        }
        let deadline: NIODeadline
        switch due {
        case let .retry(at), let .expiry(at): deadline = at
        }
        timer = loop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in fire(due) }
    }

    private func fire(_ due: Due) {
        guard !finished else { return }
        switch due {
        case let .retry(at):
            pacing.fired(due: at)
            nextRetry += 1
            // No new connection once one has its handshake, even if only the kernel knows yet (a busy loop
            // that has not read the SYN-ACK must not feed itself more connections).
            if !handshakeDone && tries.count < nonces.count && !kernelCompletedHandshake()
                && pacing.takeRetry(sinceLast: .now() - lastLaunch, timeout: timeout, tries: nonces.count)
            {
                launch()
            }
            arm()
        case let .expiry(at):
            pacing.fired(due: at)
            let deadline = pacing.deadline(start: began, lastTry: lastLaunch, timeout: timeout)
            if deadline - NIODeadline.now() > .milliseconds(1) {
                expiry = deadline  // this run's answers are slow: wait as long as they take
                arm()
            } else if handshakeDone {
                // Connected, but the echo did not come back in time: the handshake proves the path.
                finish(ProbeEnd(outcome: .connected, detail: "handshake completed; no authenticated answer in time", attemptsSent: 0))
            } else {
                finish(kernelView())
            }
        }
    }

    /// The kernel's state of a try's connection (TCP_INFO), read at once: this is the channel's own loop,
    /// so the future is already complete.
    private func kernelState(_ t: Try) -> UInt8? {
        guard t.end == nil, let provider = t.channel as? any SocketOptionProvider else { return nil }
        var state: UInt8?
        provider.getTCPInfo().assumeIsolated().whenSuccess { state = $0.tcpi_state }
        return state
    }

    /// Has the kernel completed the handshake of a try this loop has not heard of yet?
    private func kernelCompletedHandshake() -> Bool {
        tries.contains { t in
            guard let state = kernelState(t) else { return false }
            return state != 2 && state != 7  // neither TCP_SYN_SENT nor TCP_CLOSE
        }
    }

    /// What the kernel knows of the tries still connecting, when this loop has not heard of it yet.
    private func kernelView() -> ProbeEnd? {
        for t in tries where t.end == nil {
            guard let provider = t.channel as? any SocketOptionProvider else { continue }
            switch kernelState(t) {
            case 2?, nil:  // TCP_SYN_SENT: no answer yet
                continue
            case 7?:  // TCP_CLOSE: the connection failed or was reset; SO_ERROR says how
                // (Reading it clears it; the probe ends here and `finish` closes the socket right after.)
                var code: CInt = 0
                provider.unsafeGetSocketOption(level: .socket, name: .so_error).assumeIsolated().whenSuccess { (v: CInt) in code = v }
                switch code {
                case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN:
                    return Prober.classify(errno: code, attemptsSent: 1)
                case ECONNRESET, EPIPE:
                    // Linux reports a reset as refused only while the SYN is unanswered: this one came after
                    // the handshake.
                    return ProbeEnd(
                        outcome: .connected, detail: "handshake completed (seen by the kernel), then the peer reset the connection",
                        attemptsSent: 0)
                default:
                    continue
                }
            default:  // established, or closing after it: the handshake completed
                return ProbeEnd(
                    outcome: .connected, detail: "handshake completed (seen by the kernel); no authenticated answer in time",
                    attemptsSent: 0)
            }
        }
        return nil
    }

    // MARK: tries

    private func launch() {
        tries.append(Try(port: 0))
        lastLaunch = .now()
        connect(try: tries.count - 1, portsLeft: 8)
    }

    private func connect(try i: Int, portsLeft: Int) {
        let port = Int.random(in: Prober.sourcePorts)
        tries[i].port = port
        guard let localAddress = try? local.socketAddress(port: port) else {
            return ended(i, ProbeEnd(outcome: .sendFailed, detail: "bad local address", attemptsSent: 1))
        }
        let tryPromise = loop.makePromise(of: ProbeEnd.self)
        let box = self.box, auth = self.auth, nonce = nonces[i], started = NIODeadline.now(), latest = self.latest
        let observed = self.observed
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(max(latest - started, .milliseconds(1)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Runs on this probe's loop (the bootstrap's group is that loop).
                    guard let series = box.value, !series.finished else { throw CancellationError() }
                    series.tries[i].channel = channel
                    try channel.pipeline.syncOperations.addHandler(
                        TCPProbeClient(
                            auth: auth, nonce: nonce, started: started, deadline: latest,
                            handshakeOnly: observed, promise: tryPromise))
                }
            }
        bootstrap.bind(to: localAddress).connect(to: remote).assumeIsolated().whenComplete { [self] result in
            switch result {
            case let .success(channel):
                guard !finished else {
                    Self.close(channel, reset: resetLeftovers)
                    tryPromise.succeed(ProbeEnd(outcome: .timeout, detail: "superseded by another try", attemptsSent: 1))
                    return
                }
                handshakeDone = true
                if !observed {
                    // Connected: send the probe; the handler waits for the echo and settles the try.
                    channel.writeAndFlush(channel.allocator.buffer(bytes: packet(nonce, port)), promise: nil)
                }
                tryPromise.futureResult.assumeIsolated().whenSuccess { [self] end in
                    Self.close(channel, reset: end.outcome == .answered || resetLeftovers)
                    ended(i, end)
                }
            case let .failure(error):
                tryPromise.succeed(ProbeEnd(outcome: .timeout, attemptsSent: 1))  // no-op if already settled
                let end = Prober.classify(connectError: error, attemptsSent: 1)
                if end.outcome == .sendFailed, end.detail == String(cString: strerror(EADDRINUSE)) {
                    // Another socket has this port: try another one.
                    if portsLeft > 1 && !finished { return connect(try: i, portsLeft: portsLeft - 1) }
                    return ended(i, ProbeEnd(outcome: .sendFailed, detail: Prober.noFreePort, attemptsSent: 1))
                }
                ended(i, end)
            }
        }
    }

    /// Closes a try's connection. One our own agent answered ends with a reset, and so do the other tries of
    /// that probe: the agent expects it, and it saves the FIN exchange
    /// (three of a probe's nine packets) and the minute of TIME_WAIT that would otherwise hold the source
    /// port (~3,700 per agent at one 32-node check a second). Anything else (a port another program holds,
    /// a connection no authenticated answer came on) gets a graceful close (FIN): the program behind the
    /// port sees a plain end of stream.
    private static func close(_ channel: any Channel, reset: Bool) {
        if reset, let provider = channel as? any SocketOptionProvider {
            // This is the channel's loop: the option is set before the close below runs.
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    private func ended(_ i: Int, _ end: ProbeEnd) {
        // A try ends here on its echo or its connect's reset (a "connected" decided when the echo's wait ran
        // out is not an arrival); the kernel's view at the deadline does not come through here.
        let end = end.arrivedWithPacket
        tries[i].end = end
        guard !finished else { return }
        switch end.outcome {
        case .timeout:
            break
        case .sendFailed where end.detail == Prober.noFreePort:
            break
        default:
            finish(end)
        }
    }
}
