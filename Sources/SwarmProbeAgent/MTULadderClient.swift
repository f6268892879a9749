import Foundation
import NIOCore
import NIOPosix
import SwarmProbeCore

/// The path MTU ladder to one target (`PathMTU.ladder`): every size at once on one connected socket with Don't
/// Fragment set and the kernel's cached path MTU ignored (`IP_PMTUDISC_PROBE`), each rung tried again halfway
/// through the timeout unless answered. Echoes come back short, so a rung measures the way there only.
/// A "fragmentation needed" arrives as EMSGSIZE; the socket's `IP_MTU` then holds the MTU the router named.
/// Ends when every rung is settled or the timeout is up: at most one timeout after the small probe.
final class MTULadderClient: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    struct Rung {
        var size: Int
        var nonce: [UInt8]
        var outcome: MTURungOutcome = .silent
    }

    private let auth: ProbeAuthenticator
    private let remote: SocketAddress
    private let timeout: TimeAmount
    /// Send each rung once and wait only for a "fragmentation needed" (the target's taps confirm arrival).
    private let observed: Bool
    private let promise: EventLoopPromise<MTULadder>
    /// The framed probe of one rung: nonce, size, and the port its echo comes back to (this socket's).
    private let makePacket: @Sendable ([UInt8], Int, Int) -> [UInt8]
    private var packets: [[UInt8]] = []
    private var rungs: [Rung]
    private var reportedMTU: Int?
    private var timers: [Scheduled<Void>] = []
    private var settled = false

    init(
        auth: ProbeAuthenticator, remote: SocketAddress, rungs: [Rung], timeout: TimeAmount, observed: Bool,
        makePacket: @escaping @Sendable ([UInt8], Int, Int) -> [UInt8], promise: EventLoopPromise<MTULadder>
    ) {
        self.makePacket = makePacket
        self.auth = auth
        self.remote = remote
        self.rungs = rungs
        self.timeout = timeout
        self.observed = observed
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.channel.connect(to: remote).hop(to: context.eventLoop).assumeIsolated().whenComplete { [self] result in
            guard case .success = result else {
                for i in rungs.indices { rungs[i].outcome = .sendFailed }
                return settle(context)
            }
            let port = context.channel.localAddress?.port ?? 0
            packets = rungs.map { makePacket($0.nonce, $0.size, port) }
            sendPending(context)
            let loop = context.eventLoop.assumeIsolated()
            if !observed {
                timers.append(loop.scheduleTask(in: .nanoseconds(timeout.nanoseconds / 2)) { [self] in sendPending(context) })
            }
            timers.append(loop.scheduleTask(in: timeout) { [self] in settle(context) })
        }
    }

    /// Sends every rung not yet answered and not refused by the router's word.
    private func sendPending(_ context: ChannelHandlerContext) {
        guard !settled else { return }
        for (i, r) in rungs.enumerated() where r.outcome == .silent {
            let envelope = AddressedEnvelope(remoteAddress: remote, data: context.channel.allocator.buffer(bytes: packets[i]))
            context.writeAndFlush(wrapOutboundOut(envelope)).assumeIsolated().whenFailure { [self] error in
                // A "fragmentation needed" for an earlier rung is the socket's pending error, which the next send
                // takes (NIO reports it as too large a write): no rung exceeds the interface, so it is the router's word.
                if MTULadderClient.isTooBig(error) {
                    noteFragNeeded(context)
                } else if rungs[i].outcome == .silent {
                    rungs[i].outcome = .sendFailed
                }
                settleIfDone(context)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).data.readableBytesView
        guard let inner = VXLANFrame.unwrap(bytes), case let .success(p) = ProbePacket.decode(inner, auth: auth), p.type == .echo,
            let i = rungs.firstIndex(where: { $0.nonce == p.nonce })
        else { return }
        rungs[i].outcome = .answered
        settleIfDone(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if MTULadderClient.isTooBig(error) {
            noteFragNeeded(context)
        } else if (error as? IOError)?.errnoCode == ECONNREFUSED {
            // Nothing listens there any more: the rungs can tell nothing.
            return settle(context)
        }
        settleIfDone(context)
    }

    static func isTooBig(_ error: any Error) -> Bool {
        if let e = error as? ChannelError, case .writeMessageTooLarge = e { return true }
        return (error as? IOError)?.errnoCode == EMSGSIZE
    }

    /// A router said the packet was too big: the kernel has the MTU it named on this socket's route; every
    /// unanswered rung above it met the same router.
    private func noteFragNeeded(_ context: ChannelHandlerContext) {
        var mtu: CInt = 0
        if let provider = context.channel as? any SocketOptionProvider {
            provider.unsafeGetSocketOption(level: .ip, name: NIOBSDSocket.Option(rawValue: 14))  // IP_MTU
                .assumeIsolated().whenSuccess { (v: CInt) in mtu = v }
        }
        let named = Int(mtu)
        if named >= PathMTU.floor / 2 { reportedMTU = min(reportedMTU ?? Int.max, named) }
        for i in rungs.indices where rungs[i].outcome == .silent && rungs[i].size > (reportedMTU ?? 0) {
            rungs[i].outcome = .fragNeeded
        }
    }

    private func settleIfDone(_ context: ChannelHandlerContext) {
        if !rungs.contains(where: { $0.outcome == .silent }) { settle(context) }
    }

    private func settle(_ context: ChannelHandlerContext) {
        guard !settled else { return }
        settled = true
        for t in timers { t.cancel() }
        promise.succeed(
            MTULadder(rungs: rungs.map { MTURung(size: $0.size, nonce: Hex.encode($0.nonce), outcome: $0.outcome) }, reportedMTU: reportedMTU))
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(context)
        context.fireChannelInactive()
    }
}
