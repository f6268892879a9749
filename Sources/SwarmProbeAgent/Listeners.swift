import NIOCore
import NIOPosix
import SwarmProbeCore

/// The probe listeners of the swarm ports.
public enum ProbeListener {
    /// A UDP or TCP probe listener for `kind` on `address`, answering through `responder`.
    public static func open(_ kind: TrafficKind, address: IPAddress, responder: Responder, group: any EventLoopGroup,
                             maxConnections: Int) async throws -> any Channel {
        let id = kind.kindID
        switch kind.proto {
        case .udp:
            return try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramProbeHandler(responder: responder, kind: id, framed: kind.dataPath))
                    }
                }
                .bind(to: address.socketAddress(port: kind.port!)).get()
        case .tcp:
            let limiter = ConnectionLimiter(limit: maxConnections)
            // SO_REUSEADDR on a TCP listener only lets us bind over TIME_WAIT leftovers; Linux still
            // refuses it while anyone else listens there, so it never takes a port from dockerd.
            // (UDP listeners never set it: there it would share the port.)
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(limiter) }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(StreamProbeHandler(responder: responder, kind: id))
                    }
                }
                .bind(to: address.socketAddress(port: kind.port!)).get()
        case .esp:
            preconditionFailure("ESP has no port listener; see ESPSocket")
        }
    }
}

/// Answers probes arriving on a UDP listener (and on the ESP raw socket).
final class DatagramProbeHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let responder: Responder
    private let kind: KindID
    private let framed: Bool
    private let inbox: ProbeInbox?

    init(responder: Responder, kind: KindID, framed: Bool = false, inbox: ProbeInbox? = nil) {
        self.responder = responder
        self.kind = kind
        self.framed = framed
        self.inbox = inbox
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        if kind.proto == .esp {
            // A raw IPv4 socket hands us the IP header too; skip it.
            guard let first = envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt8.self), first >> 4 == 4 else { return }
            let headerLength = Int(first & 0x0f) * 4
            guard envelope.data.readableBytes > headerLength else { return }
            envelope.data.moveReaderIndex(forwardBy: headerLength)
            // Our own echoes and probes come back here too: echoes go to the prober.
            if let inbox, inbox.deliver(envelope.data.readableBytesView, from: envelope.remoteAddress) { return }
        }
        let now = nowMs()
        guard case let .answer(echo, destination, nonce) = responder.handle(envelope.data.readableBytesView, source: envelope.remoteAddress, kind: kind, framed: framed, now: now) else {
            return
        }
        let buffer = context.channel.allocator.buffer(bytes: echo)
        let responder = self.responder
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: destination, data: buffer))).whenSuccess {
            responder.answered(nonce: nonce)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors for echoes we sent land here (ECONNREFUSED); they are not ours to act on.
    }
}

/// Answers one probe per TCP connection: read one authenticated probe, write its echo, close.
/// A connection that does not deliver a probe within `deadline` is closed; so is one that sends
/// more than the largest probe.
final class StreamProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let deadline = TimeAmount.seconds(5)

    private let responder: Responder
    private let kind: KindID
    private var buffer: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var done = false

    init(responder: Responder, kind: KindID) {
        self.responder = responder
        self.kind = kind
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: Self.deadline) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        guard let b = buffer else { return }
        if b.readableBytes > ProbePacket.maximumSize {
            return finish(context)
        }
        guard b.readableBytes >= ProbePacket.headerSize,
              let pad = b.getInteger(at: b.readerIndex + 84, as: UInt16.self) else { return }
        let expected = ProbePacket.minimumSize + Int(pad)
        guard b.readableBytes >= expected else {
            if expected > ProbePacket.maximumSize { finish(context) }
            return
        }
        done = true
        let view = b.readableBytesView.prefix(expected)
        switch responder.handle(view, source: context.remoteAddress, kind: kind, now: nowMs()) {
        case let .answer(echo, _, nonce):
            // On TCP the echo goes back on the same connection: the handshake already proved the peer's address.
            // The prober closes first once it has the echo, with a reset (no TIME_WAIT on either side; the
            // reset lands in errorCaught); the deadline timer closes the connection if it does not.
            let responder = self.responder
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: echo))).whenSuccess {
                responder.answered(nonce: nonce)
            }
        case .drop:
            finish(context)
        }
    }

    private func finish(_ context: ChannelHandlerContext) {
        done = true
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Caps how many connections a TCP listener keeps open at once; past it, new ones are closed at once.
final class ConnectionLimiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    let limit: Int
    private let open = NIOLockedValueBoxInt()

    init(limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        if open.increment() > limit {
            open.decrement()
            child.close(promise: nil)
            return
        }
        let counter = open
        child.closeFuture.whenComplete { _ in counter.decrement() }
        context.fireChannelRead(data)
    }
}

import NIOConcurrencyHelpers

final class NIOLockedValueBoxInt: Sendable {
    private let box = NIOLockedValueBox(0)
    @discardableResult func increment() -> Int { box.withLockedValue { $0 += 1; return $0 } }
    func decrement() { box.withLockedValue { $0 -= 1 } }
    var value: Int { box.withLockedValue { $0 } }
}
