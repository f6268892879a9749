import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

/// Pending ESP probes of this agent, waiting for their echoes on the shared raw socket.
final class ProbeInbox: Sendable {
    private let auth: ProbeAuthenticator
    private let pending = NIOLockedValueBox<[[UInt8]: (promise: EventLoopPromise<ProbeEnd>, sentAt: NIODeadline, attempts: Int)]>([:])

    init(auth: ProbeAuthenticator) { self.auth = auth }

    func expect(nonce: [UInt8], promise: EventLoopPromise<ProbeEnd>, attempt: Int) {
        pending.withLockedValue { $0[nonce] = (promise, .now(), attempt + 1) }
    }

    func forget(nonces: [[UInt8]]) {
        pending.withLockedValue { p in nonces.forEach { p[$0] = nil } }
    }

    /// True when the bytes were an authenticated echo (consumed here, never answered).
    func deliver(_ bytes: ByteBufferView, from: SocketAddress) -> Bool {
        guard case let .success(p) = ProbePacket.decode(bytes, auth: auth), p.type == .echo else {
            return false
        }
        if let hit = pending.withLockedValue({ $0.removeValue(forKey: p.nonce) }) {
            let rtt = Int((NIODeadline.now() - hit.sentAt).nanoseconds / 1000)
            hit.promise.succeed(ProbeEnd(outcome: .answered, rttMicros: rtt, attemptsSent: hit.attempts))
        }
        return true
    }
}

/// The agent's one raw socket for IP protocol 50: answers ESP probes and receives echoes.
/// Nothing received here is decapsulated or forwarded; packets that fail the HMAC are ignored.
final class ESPSocket: Sendable {
    let channel: any Channel
    let inbox: ProbeInbox

    init(channel: any Channel, inbox: ProbeInbox) {
        self.channel = channel
        self.inbox = inbox
    }

    static let ipProtocol = NIOIPProtocol(50)

    static func open(group: any EventLoopGroup, address: IPAddress, responder: Responder, token: ClusterToken) async throws -> ESPSocket {
        let inbox = ProbeInbox(auth: token.probeAuthenticator)
        let kind = KindID(proto: .esp, port: nil)
        let channel = try await NIORawSocketBootstrap(group: group)
            // A large receive buffer: a burst that overflows it makes the kernel answer ICMP
            // protocol-unreachable to the (possibly spoofed) source.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramProbeHandler(responder: responder, kind: kind, inbox: inbox))
                }
            }
            .bind(host: address.description, ipProtocol: ipProtocol).get()
        return ESPSocket(channel: channel, inbox: inbox)
    }

    func probe(
        _ order: ProbeOrder, nonces: [[UInt8]], runID: [UInt8], timeout: TimeAmount, auth: ProbeAuthenticator, from: IPAddress
    ) async -> ProbeEnd {
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: ProbeEnd.self)
        guard let remote = try? order.target.socketAddress(port: 0) else {
            return ProbeEnd(outcome: .sendFailed, detail: "bad address", attemptsSent: 0)
        }
        let sent = NIOLockedValueBox(0)
        var timers: [Scheduled<Void>] = []
        for (i, nonce) in nonces.enumerated() {
            let channel = self.channel, inbox = self.inbox
            let due = ProbeTiming.offsetNanos(attempt: i, of: nonces.count, timeoutNanos: timeout.nanoseconds)
            timers.append(
                loop.scheduleTask(in: .nanoseconds(due)) {
                    let bytes = ProbePacket(
                        type: .probe, proto: .esp, targetPort: 0, replyPort: 0, timeMs: nowMs(), nonce: nonce,
                        runID: runID, sender: from, target: order.target
                    ).encode(auth: auth)
                    inbox.expect(nonce: nonce, promise: promise, attempt: i)
                    sent.withLockedValue { $0 = i + 1 }
                    let env = AddressedEnvelope(remoteAddress: remote, data: channel.allocator.buffer(bytes: bytes))
                    channel.writeAndFlush(env).whenFailure { error in
                        let end = (error as? IOError).map { Prober.classify(errno: $0.errnoCode, attemptsSent: i + 1) }
                        if let end, end.outcome == .sendFailed || end.outcome == .unreachable { promise.succeed(end) }
                    }
                })
        }
        timers.append(
            loop.scheduleTask(in: timeout) {
                var end = ProbeEnd(outcome: .timeout, attemptsSent: sent.withLockedValue { $0 })
                end.endedAtMs = Int64(nowMs())
                promise.succeed(end)
            })
        let end = (try? await promise.futureResult.get()) ?? ProbeEnd(outcome: .timeout, attemptsSent: nonces.count)
        timers.forEach { $0.cancel() }
        inbox.forget(nonces: nonces)
        return end
    }
}
