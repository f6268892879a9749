import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

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
            let pad = b.getInteger(at: b.readerIndex + 84, as: UInt16.self)
        else { return }
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
