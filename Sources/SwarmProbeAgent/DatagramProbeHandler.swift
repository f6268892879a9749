import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

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
        guard
            case let .answer(echo, destination, nonce) = responder.handle(
                envelope.data.readableBytesView, source: envelope.remoteAddress, kind: kind, framed: framed, now: now)
        else {
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
