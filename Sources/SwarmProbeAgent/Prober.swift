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
    /// The local port the probe left from, when known (TCP: chosen before connecting).
    var sourcePort: Int?
}

/// Sends the probes of a plan and reports what came back.
final class Prober: Sendable {
    let group: any EventLoopGroup
    let address: IPAddress
    private let keyBytes: [UInt8]
    let esp: ESPSocket?
    /// Kinds whose probes travel in VXLAN frames (the data path).
    let framedKinds: Set<KindID>
    /// Probes in flight at once per run; more wait their turn.
    let concurrency: Int

    init(group: any EventLoopGroup, address: IPAddress, token: ClusterToken, esp: ESPSocket?, framedKinds: Set<KindID>,
         concurrency: Int = 512) {
        self.group = group
        self.address = address
        self.keyBytes = token.probeKey.withUnsafeBytes { Array($0) }
        self.esp = esp
        self.framedKinds = framedKinds
        self.concurrency = concurrency
    }

    func run(_ request: RunRequest) async -> [ProbeReport] {
        let runID = Hex.decode(request.runID) ?? [UInt8](repeating: 0, count: 16)
        let timeout = TimeAmount.milliseconds(Int64(request.timeoutMs))
        return await withTaskGroup(of: ProbeReport.self) { group in
            var results: [ProbeReport] = []
            results.reserveCapacity(request.probes.count)
            var pending = request.probes[...]
            func startNext() {
                guard let order = pending.popFirst() else { return }
                group.addTask {
                    let evidence = await self.probe(order, runID: runID, timeout: timeout, attempts: request.attempts)
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

    func probe(_ order: ProbeOrder, runID: [UInt8], timeout: TimeAmount, attempts: Int) async -> SenderEvidence {
        // An observed port belongs to dockerd or the kernel: one datagram fewer, since no answer will come
        // and only the target's capture can tell; never fewer than two, so one loss does not decide.
        let count = order.observed ? max(2, attempts - 1) : max(1, attempts)
        let nonces = (0..<count).map { _ in randomBytes(16) }
        let end: ProbeEnd
        switch order.kind.proto {
        case .tcp:
            end = await probeTCP(order, nonce: nonces[0], runID: runID, timeout: timeout)
        case .udp:
            end = await probeDatagram(order, nonces: nonces, runID: runID, timeout: timeout, framed: framedKinds.contains(order.kind))
        case .esp:
            if let esp {
                end = await esp.probe(order, nonces: nonces, runID: runID, timeout: timeout, key: keyBytes, from: address)
            } else {
                end = ProbeEnd(outcome: .sendFailed, detail: "ESP probes need a raw socket (run the agent as root or with CAP_NET_RAW)", attemptsSent: 0)
            }
        }
        let used = Array(nonces.prefix(max(1, end.attemptsSent)))
        return SenderEvidence(outcome: end.outcome, attempts: end.attemptsSent, rttMicros: end.rttMicros,
                              detail: end.detail, nonces: used.map { Hex.encode($0) }, sourcePort: end.sourcePort)
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

    private func probeTCP(_ order: ProbeOrder, nonce: [UInt8], runID: [UInt8], timeout: TimeAmount) async -> ProbeEnd {
        let remote: SocketAddress
        do {
            remote = try order.target.socketAddress(port: order.kind.port ?? 0)
        } catch {
            return ProbeEnd(outcome: .sendFailed, detail: "bad address: \(error)", attemptsSent: 0)
        }
        var end = ProbeEnd(outcome: .sendFailed, detail: "no free source port", attemptsSent: 0)
        for _ in 0..<8 {
            let port = Int.random(in: Prober.sourcePorts)
            end = await probeTCP(order, from: port, to: remote, nonce: nonce, runID: runID, timeout: timeout)
            // Another socket has this port: try another one.
            guard end.outcome == .sendFailed, end.detail == String(cString: strerror(EADDRINUSE)) else { break }
        }
        return end
    }

    private func probeTCP(_ order: ProbeOrder, from sourcePort: Int, to remote: SocketAddress, nonce: [UInt8], runID: [UInt8],
                          timeout: TimeAmount) async -> ProbeEnd {
        let loop = group.next()
        let promise = loop.makePromise(of: ProbeEnd.self)
        let key = keyBytes
        let started = NIODeadline.now()
        let handshakeOnly = order.observed
        guard let local = try? address.socketAddress(port: sourcePort) else {
            return ProbeEnd(outcome: .sendFailed, detail: "bad local address", attemptsSent: 0)
        }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TCPProbeClient(key: key, nonce: nonce, started: started, deadline: started + timeout,
                                       handshakeOnly: handshakeOnly, promise: promise))
                }
            }
        var end: ProbeEnd
        do {
            let channel = try await bootstrap.bind(to: local).connect(to: remote).get()
            if !handshakeOnly {
                // Connected: send the probe; the handler waits for the echo and settles the promise.
                let bytes = packet(order, nonce: nonce, runID: runID, replyPort: sourcePort)
                channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
            }
            end = try await promise.futureResult.get()
            // A graceful close (FIN): the program behind the port sees a plain end of stream.
            try? await channel.close()
        } catch {
            promise.succeed(ProbeEnd(outcome: .timeout, attemptsSent: 1))  // no-op if already settled
            end = Prober.classify(connectError: error, attemptsSent: 1)
        }
        end.sourcePort = sourcePort
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

    private func probeDatagram(_ order: ProbeOrder, nonces: [[UInt8]], runID: [UInt8], timeout: TimeAmount, framed: Bool) async -> ProbeEnd {
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
                        UDPProbeClient(key: key, remote: remote, nonces: nonces, timeout: timeout, framed: framed,
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

/// One UDP probe series on its own connected socket: attempts spread over the timeout,
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
    private var sentAt: [NIODeadline] = []
    private var timers: [Scheduled<Void>] = []
    private var settled = false
    private var badAnswer: String?
    private var lastError: String?

    init(key: [UInt8], remote: SocketAddress, nonces: [[UInt8]], timeout: TimeAmount, framed: Bool,
         makePacket: @escaping @Sendable ([UInt8], Int) -> [UInt8], promise: EventLoopPromise<ProbeEnd>) {
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
                let spacing = TimeAmount.nanoseconds(timeout.nanoseconds / Int64(nonces.count))
                for i in 0..<nonces.count {
                    timers.append(loop.scheduleTask(in: spacing * Int64(i)) { [self] in send(attempt: i, context) })
                }
                timers.append(loop.scheduleTask(in: timeout) { [self] in
                    if let badAnswer {
                        settle(ProbeEnd(outcome: .badAnswer, detail: badAnswer, attemptsSent: sentAt.count), context)
                    } else {
                        settle(ProbeEnd(outcome: .timeout, detail: lastError, attemptsSent: sentAt.count), context)
                    }
                })
            }
        }
    }

    private func send(attempt i: Int, _ context: ChannelHandlerContext) {
        guard !settled else { return }
        let bytes = makePacket(nonces[i], context.channel.localAddress?.port ?? 0)
        sentAt.append(.now())
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
            guard let i = nonces.firstIndex(of: p.nonce), i < sentAt.count else {
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
