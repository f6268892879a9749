import Foundation
import NIOCore
import NIOPosix
import SwarmProbeCore

/// One TCP probe: the connection is up; write the probe, wait for the echo.
final class TCPProbeClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let auth: ProbeAuthenticator
    private let nonce: [UInt8]
    private let started: NIODeadline
    private let deadline: NIODeadline
    private let promise: EventLoopPromise<ProbeEnd>
    private var buffer: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var settled = false
    private var handshakeMicros: Int?
    private let handshakeOnly: Bool

    init(
        auth: ProbeAuthenticator, nonce: [UInt8], started: NIODeadline, deadline: NIODeadline, handshakeOnly: Bool,
        promise: EventLoopPromise<ProbeEnd>
    ) {
        self.auth = auth
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
            settle(
                ProbeEnd(
                    outcome: .connected, rttMicros: handshakeMicros,
                    detail: "handshake completed; no bytes sent (the port belongs to another program)", attemptsSent: 1))
            context.fireChannelActive()
            return
        }
        // Wait for the echo no longer than the rest of the timeout, but at least a little.
        let wait = max(deadline - NIODeadline.now(), .milliseconds(200))
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: wait) { [self] in
            settle(
                ProbeEnd(
                    outcome: .connected, rttMicros: handshakeMicros,
                    detail: "handshake completed; no authenticated answer", attemptsSent: 1))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        guard let b = buffer, b.readableBytes >= ProbePacket.headerSize,
            let pad = b.getInteger(at: b.readerIndex + 84, as: UInt16.self)
        else { return }
        let expected = ProbePacket.minimumSize + Int(pad)
        if expected > ProbePacket.maximumSize || b.readableBytes > ProbePacket.maximumSize {
            return settle(ProbeEnd(outcome: .badAnswer, detail: "oversized answer", attemptsSent: 1))
        }
        guard b.readableBytes >= expected else { return }
        let rtt = Int((NIODeadline.now() - started).nanoseconds / 1000)
        switch ProbePacket.decode(b.readableBytesView.prefix(expected), auth: auth) {
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
        settle(
            ProbeEnd(
                outcome: .connected, rttMicros: handshakeMicros,
                detail: "handshake completed; the peer closed without an authenticated answer", attemptsSent: 1))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let io = error as? IOError, io.errnoCode == ECONNRESET, !settled {
            settle(
                ProbeEnd(
                    outcome: .connected, rttMicros: handshakeMicros,
                    detail: "handshake completed, then the peer reset the connection", attemptsSent: 1))
        }
        context.close(promise: nil)
    }
}
