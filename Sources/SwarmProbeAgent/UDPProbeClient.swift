import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

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

    init(
        auth: ProbeAuthenticator, remote: SocketAddress, nonces: [[UInt8]], timeout: TimeAmount, framed: Bool, pacing: RunPacing,
        makePacket: @escaping @Sendable ([UInt8], Int) -> [UInt8], promise: EventLoopPromise<ProbeEnd>
    ) {
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
        let due =
            isTry
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
        // A send the kernel refused (EPERM: this host's output firewall) closes the socket before the write's
        // failure reaches `handle(error:)`: settle once it has, so the error is the probe's.
        context.eventLoop.assumeIsolated().execute { [self] in
            settle(
                ProbeEnd(outcome: lastError == nil ? .timeout : .sendFailed, detail: lastError ?? "socket closed", attemptsSent: sentAt.count),
                context)
        }
        context.fireChannelInactive()
    }
}
