import Foundation
import NIOCore
import NIOPosix
import SwarmProbeCore

/// The path MTU ladder to one target (`PathMTU.ladder`): every size at once from one socket with Don't Fragment
/// set and the kernel's cached path MTU ignored (`IP_PMTUDISC_PROBE`), each rung tried again halfway through the
/// timeout unless answered (on a port only watched, where nothing answers, every rung goes twice). Echoes come back short, so a rung measures the way there only. The socket is not
/// connected: a router's "fragmentation needed" then never becomes a socket error (which a later send would take
/// from NIO's read), but the kernel still learns the MTU it names for that destination, and `RouteMTU` reads
/// it back once the ladder ends. Ends when every rung is answered or the timeout is up: at most one timeout
/// after the small probe.
final class MTULadderClient: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    struct Rung {
        var size: Int
        var nonce: [UInt8]
        var outcome: MTURungOutcome = .silent
    }

    private let auth: ProbeAuthenticator
    private let target: IPAddress
    private let remote: SocketAddress
    private let timeout: TimeAmount
    /// The sender's interface MTU: a route MTU below it was learned from a router.
    private let interfaceMTU: Int
    private let promise: EventLoopPromise<MTULadder>
    /// The framed probe of one rung: nonce, size, and the port its echo comes back to (this socket's).
    private let makePacket: @Sendable ([UInt8], Int, Int) -> [UInt8]
    private var packets: [[UInt8]] = []
    private var rungs: [Rung]
    private var timers: [Scheduled<Void>] = []
    private var settled = false

    init(
        auth: ProbeAuthenticator, target: IPAddress, remote: SocketAddress, rungs: [Rung], timeout: TimeAmount,
        interfaceMTU: Int, makePacket: @escaping @Sendable ([UInt8], Int, Int) -> [UInt8], promise: EventLoopPromise<MTULadder>
    ) {
        self.auth = auth
        self.target = target
        self.remote = remote
        self.rungs = rungs
        self.timeout = timeout
        self.interfaceMTU = interfaceMTU
        self.makePacket = makePacket
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        let port = context.channel.localAddress?.port ?? 0
        packets = rungs.map { makePacket($0.nonce, $0.size, port) }
        sendPending(context)
        // Every rung twice unless answered, so that one lost datagram does not lower the path MTU.
        let loop = context.eventLoop.assumeIsolated()
        timers.append(loop.scheduleTask(in: .nanoseconds(timeout.nanoseconds / 2)) { [self] in sendPending(context) })
        timers.append(loop.scheduleTask(in: timeout) { [self] in settle(context) })
    }

    /// Sends every rung not yet answered.
    private func sendPending(_ context: ChannelHandlerContext) {
        guard !settled else { return }
        for (i, r) in rungs.enumerated() where r.outcome == .silent {
            let envelope = AddressedEnvelope(remoteAddress: remote, data: context.channel.allocator.buffer(bytes: packets[i]))
            context.writeAndFlush(wrapOutboundOut(envelope)).assumeIsolated().whenFailure { [self] _ in
                if rungs[i].outcome == .silent { rungs[i].outcome = .sendFailed }
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

    private func settleIfDone(_ context: ChannelHandlerContext) {
        if !rungs.contains(where: { $0.outcome == .silent }) { settle(context) }
    }

    /// The rungs as they ended; those above an MTU a router named (and the kernel learned) met that router.
    private func settle(_ context: ChannelHandlerContext) {
        guard !settled else { return }
        settled = true
        for t in timers { t.cancel() }
        var reported: Int?
        if let route = RouteMTU.toward(target), route < interfaceMTU,
            let smallestLost = rungs.filter({ $0.outcome != .answered }).map(\.size).min(), route < smallestLost
        {
            reported = route
            for i in rungs.indices where rungs[i].outcome == .silent && rungs[i].size > route { rungs[i].outcome = .fragNeeded }
        }
        promise.succeed(
            MTULadder(rungs: rungs.map { MTURung(size: $0.size, nonce: Hex.encode($0.nonce), outcome: $0.outcome) }, reportedMTU: reported))
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(context)
        context.fireChannelInactive()
    }
}
