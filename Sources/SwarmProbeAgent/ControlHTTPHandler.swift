import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SwarmProbeCore

/// HTTP/1.1 plumbing for the control endpoint: bounded bodies, a deadline per request,
/// a cap on open connections, and the answer signed with the request's nonce.
final class ControlHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// A connection must send a request head this soon after it opens (or after its last answer).
    static let headDeadline = TimeAmount.seconds(2)
    /// ... and the rest of the request this soon after the head.
    static let requestDeadline = TimeAmount.seconds(10)

    private let service: ControlService
    private let tracker: ControlConnections
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var reserved = 0
    /// Set when the request is refused before its end: 413 over 4 MiB, 401 at the head, 503 over the budget.
    private var refusal: ControlReply?
    private var timer: Scheduled<Void>?
    private var busy = false

    init(service: ControlService, tracker: ControlConnections) {
        self.service = service
        self.tracker = tracker
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armTimer(context, Self.headDeadline)
    }

    private func armTimer(_ context: ChannelHandlerContext, _ deadline: TimeAmount) {
        timer?.cancel()
        let channel = context.channel
        // A client that does not send its request in time (idle, a slow writer) is cut off.
        timer = context.eventLoop.scheduleTask(in: deadline) { channel.close(promise: nil) }
    }

    private static func reply(_ status: HTTPResponseStatus, _ message: String) -> ControlReply {
        ControlReply(status: status, body: WireCodec.encode(ErrorResponse(error: message)))
    }

    private func dropBody() {
        body = []
        if reserved > 0 { service.release(reserved) }
        reserved = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            guard !busy else { return }
            head = h
            dropBody()
            refusal = nil
            tracker.sawHead(context.channel)
            armTimer(context, Self.requestDeadline)
            if let len = h.headers.first(name: "content-length").flatMap(Int.init), len > ControlAuth.maximumBodyBytes {
                refuse(context, Self.reply(.payloadTooLarge, "request body over 4 MiB"))
            } else if let failure = service.precheck(authorization: h.headers.first(name: "authorization")) {
                // Nothing of a request that cannot authenticate is read further: answer now and close.
                refuse(
                    context,
                    ControlReply(
                        status: failure == .busy ? .serviceUnavailable : .unauthorized, body: WireCodec.encode(ErrorResponse.refusal(failure))))
            }
        case .body(var chunk):
            guard refusal == nil else { return }
            if body.count + chunk.readableBytes > ControlAuth.maximumBodyBytes {
                return refuse(context, Self.reply(.payloadTooLarge, "request body over 4 MiB"))
            }
            guard service.reserve(chunk.readableBytes) else {
                return refuse(context, Self.reply(.serviceUnavailable, "too many request bodies in flight; try again"))
            }
            if body.isEmpty, let expected = head?.headers.first(name: "content-length").flatMap(Int.init) {
                // One allocation of the announced size (already bounded above), not a doubling array.
                body.reserveCapacity(expected)
            }
            reserved += chunk.readableBytes
            body += chunk.readBytes(length: chunk.readableBytes) ?? []
        case .end:
            guard let head, !busy, refusal == nil else { return }
            self.head = nil
            timer?.cancel()  // the plan itself may run for the whole probe timeout
            busy = true
            let service = self.service
            let bodyBytes = body
            dropBody()
            let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
            let auth = head.headers.first(name: "authorization")
            let keepAlive = head.isKeepAlive
            let promise = context.eventLoop.makePromise(of: ControlReply.self)
            promise.completeWithTask { await service.handle(method: head.method, path: path, authorization: auth, body: bodyBytes) }
            promise.futureResult.assumeIsolated().whenSuccess { [self] reply in
                busy = false
                respond(context, reply, keepAlive: keepAlive)
                armTimer(context, Self.headDeadline)
            }
        }
    }

    /// Answers a request refused before its end, once, and closes the connection.
    private func refuse(_ context: ChannelHandlerContext, _ reply: ControlReply) {
        guard refusal == nil else { return }
        refusal = reply
        dropBody()
        respond(context, reply, keepAlive: false)
    }

    private func respond(_ context: ChannelHandlerContext, _ reply: ControlReply, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(reply.body.count))
        if let nonce = reply.requestNonce {
            headers.add(
                name: ControlAuth.responseHeader,
                value: ControlAuth.responseMAC(
                    key: service.token.controlKey, requestNonce: nonce,
                    status: Int(reply.status.code), body: reply.body))
        }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        dropBody()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Bytes that are not HTTP: one 400 with a one-line error, then close. Never crash, never keep it. (A request
        // cut short by our own close also ends in a parser error: nothing to answer there.)
        if error is HTTPParserError, !busy, context.channel.isActive {
            busy = true
            respond(context, Self.reply(.badRequest, "malformed HTTP request"), keepAlive: false)
        } else {
            context.close(promise: nil)
        }

    }
}
