import Foundation
import NIOCore
import NIOEmbedded
import SwarmProbeCore
import Testing

@testable import SwarmProbeAgent

/// Stands in for the socket's connect on an embedded channel. The first connect (the test's) goes through and
/// activates the channel; later ones (`UDPProbeClient` connects in its `channelActive`) succeed here without
/// reaching the channel, whose connect would fire `channelActive` again and recurse. Records every address.
final class ConnectRecorder: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private(set) var addresses: [SocketAddress] = []

    func connect(context: ChannelHandlerContext, to address: SocketAddress, promise: EventLoopPromise<Void>?) {
        addresses.append(address)
        if context.channel.isActive {
            promise?.succeed(())
        } else {
            context.connect(to: address, promise: promise)
        }
    }
}

/// The prober's UDP handler on an embedded channel, its tries and its end driven by the loop's virtual time.
@Suite("UDPProbeClient: a UDP probe's tries, and what ends it")
struct UDPProbeClientTests {
    static let timeout = TimeAmount.milliseconds(400)
    static let tries = 4

    struct Probe {
        let loop: EmbeddedEventLoop
        let channel: EmbeddedChannel
        let recorder: ConnectRecorder
        let promise: EventLoopPromise<ProbeEnd>
        let nonces: [[UInt8]]
        let remote: SocketAddress
        /// The loop's time when the channel connected: the first try's.
        let started: NIODeadline

        /// When try `i` (0-based) is due.
        func due(_ i: Int) -> NIODeadline {
            started + .nanoseconds(ProbeTiming.offsetNanos(attempt: i, of: nonces.count, timeoutNanos: UDPProbeClientTests.timeout.nanoseconds))
        }

        /// What the probe ended with, if it has.
        var end: ProbeEnd? {
            var end: ProbeEnd?
            promise.futureResult.assumeIsolated().whenSuccess { end = $0 }
            return end
        }

        /// The tries written since the last call.
        func tries() throws -> [AddressedEnvelope<ByteBuffer>] { try channel.writtenDatagrams() }

        /// The target agent's echo of a try, from the target's address: in our VXLAN frame when `framed`.
        func echo(of sent: AddressedEnvelope<ByteBuffer>, token: ClusterToken = Fixture.token, framed: Bool = false) throws {
            let bytes = sent.data.readableBytesView
            let inner = VXLANFrame.unwrap(bytes) ?? bytes[...]
            var e = try Fixture.decode(inner).echo(timeMs: nowMs()).encode(auth: token.probeAuthenticator)
            if framed { e = VXLANFrame.wrap(e) }
            try channel.writeInbound(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: e)))
        }

        func datagram(_ bytes: [UInt8]) throws {
            try channel.writeInbound(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: bytes)))
        }

        /// Closes the channel (settling a probe still waiting) and empties the loop.
        func finish() throws {
            _ = try channel.finish(acceptAlreadyClosed: true)
        }
    }

    /// A probe from the agent at `Fixture.agent` (local port 40000) to the peer's 7946/udp, set up as
    /// `Prober.probeDatagram` does, connected at once.
    func start(framed: Bool = false) throws -> Probe {
        let loop = EmbeddedEventLoop()
        // `RunPacing.fired(due:)` measures timer lag against the wall clock: with the virtual clock an hour
        // ahead of it no timer looks late, so every deadline below is the handler's own.
        loop.advanceTime(to: .now() + .hours(1))
        let channel = EmbeddedChannel(loop: loop)
        channel.localAddress = try Fixture.address(Fixture.agent, 40000)
        let remote = try Fixture.address(Fixture.peer, 7946)
        let nonces = (0..<Self.tries).map { _ in randomBytes(16) }
        let promise = loop.makePromise(of: ProbeEnd.self)
        let makePacket: @Sendable ([UInt8], Int) -> [UInt8] = { nonce, port in
            let p = Fixture.probe(kind: Fixture.udp, replyPort: UInt16(port), nonce: nonce, sender: Fixture.agent, target: Fixture.peer)
            return framed ? VXLANFrame.wrap(p) : p
        }
        let recorder = ConnectRecorder()
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.pipeline.syncOperations.addHandler(
            UDPProbeClient(
                auth: Fixture.token.probeAuthenticator, remote: remote, nonces: nonces, timeout: Self.timeout,
                framed: framed, pacing: RunPacing(), makePacket: makePacket, promise: promise))
        let started = loop.now
        try channel.connect(to: remote).wait()
        return Probe(
            loop: loop, channel: channel, recorder: recorder, promise: promise, nonces: nonces, remote: remote,
            started: started)
    }

    @Test("the first try leaves at once, the others at ProbeTiming's offsets, each with its own nonce")
    func tries() throws {
        let p = try start()
        // The handler connected its socket itself (ICMP errors come back only on a connected one).
        #expect(p.recorder.addresses == [p.remote, p.remote])
        var sent = try p.tries()
        #expect(sent.count == 1)
        // 4 tries over the first three quarters of 400 ms.
        #expect((1..<4).map { p.due($0) - p.started } == [.milliseconds(100), .milliseconds(200), .milliseconds(300)])
        for i in 1..<Self.tries {
            p.loop.advanceTime(to: p.due(i) - .nanoseconds(1))
            #expect(try p.tries().isEmpty, "try \(i) before its time")
            p.loop.advanceTime(to: p.due(i))
            let now = try p.tries()
            #expect(now.count == 1, "try \(i) at its time")
            sent += now
        }
        try #require(sent.count == Self.tries)
        for (i, envelope) in sent.enumerated() {
            #expect(envelope.remoteAddress == p.remote)
            let probe = try Fixture.decode(envelope.data.readableBytesView)
            #expect(probe.type == .probe)
            #expect(probe.nonce == p.nonces[i])
            #expect(probe.replyPort == 40000)
            #expect(probe.sender == Fixture.agent && probe.target == Fixture.peer && probe.targetPort == 7946)
        }
        #expect(p.end == nil)
        try p.finish()
    }

    @Test("no answer: .timeout at the timeout, not a nanosecond before, after all four tries")
    func timeout() throws {
        let p = try start()
        p.loop.advanceTime(to: p.started + Self.timeout - .nanoseconds(1))
        #expect(try p.tries().count == Self.tries)
        #expect(p.end == nil)
        p.loop.advanceTime(to: p.started + Self.timeout)
        let end = try #require(p.end)
        #expect(end.outcome == .timeout)
        #expect(end.detail == nil)
        #expect(end.rttMicros == nil)
        #expect(end.attemptsSent == Self.tries)
        #expect(end.sentNonces == p.nonces)
        #expect(!end.answerArrived)
        p.loop.advanceTime(by: .seconds(10))
        #expect(try p.tries().isEmpty)
        try p.finish()
    }

    @Test("the first authenticated echo settles .answered, with the round trip of the try it answers")
    func answered() throws {
        let p = try start()
        let first = try #require(try p.tries().first)
        p.loop.advanceTime(to: p.due(1))
        let second = try #require(try p.tries().first)
        p.loop.advanceTime(to: p.started + .milliseconds(130))
        try p.echo(of: second)
        let end = try #require(p.end)
        #expect(end.outcome == .answered)
        #expect(end.rttMicros == 30_000)
        #expect(end.attemptsSent == 2)
        #expect(end.sentNonces == Array(p.nonces.prefix(2)))
        #expect(end.answerArrived)
        // Settled: a late echo of the first try changes nothing, and no try leaves after it.
        try p.echo(of: first)
        p.loop.advanceTime(by: .seconds(10))
        #expect(try p.tries().isEmpty)
        #expect(p.end?.rttMicros == 30_000)
        try p.finish()
    }

    /// Answers that are not this probe's echo.
    enum Foreign: String, CaseIterable, CustomTestStringConvertible {
        case unknownNonce = "an echo for another nonce"
        case badMAC = "an echo with a bad MAC"
        case otherToken = "an echo signed with another cluster's token"
        case probe = "a probe instead of an echo"
        case garbage = "garbage"

        var testDescription: String { rawValue }

        /// The bytes, for a probe whose first try is `sent`.
        func bytes(answering sent: ProbePacket) -> [UInt8] {
            let echo = sent.echo(timeMs: nowMs())
            switch self {
            case .unknownNonce:
                var other = echo
                other.nonce = randomBytes(16)
                return other.encode(auth: Fixture.token.probeAuthenticator)
            case .badMAC:
                var b = echo.encode(auth: Fixture.token.probeAuthenticator)
                b[b.count - 1] ^= 0x01
                return b
            case .otherToken: return echo.encode(auth: Fixture.otherToken.probeAuthenticator)
            case .probe: return sent.encode(auth: Fixture.token.probeAuthenticator)
            case .garbage: return [UInt8](repeating: 0x17, count: 150)
            }
        }

        /// `ProbeEnd.detail` once the probe gives up.
        var detail: String {
            switch self {
            case .unknownNonce: return "an echo for another probe"
            case .badMAC, .otherToken: return ProbePacket.DecodeError.badMAC.rawValue
            case .probe: return "a probe instead of an echo"
            case .garbage: return ProbePacket.DecodeError.badMagic.rawValue
            }
        }
    }

    @Test(
        "an answer that is not this probe's echo does not settle it; at the timeout it ends .badAnswer",
        arguments: Foreign.allCases)
    func foreign(_ answer: Foreign) throws {
        let p = try start()
        let first = try #require(try p.tries().first)
        try p.datagram(answer.bytes(answering: Fixture.decode(first.data.readableBytesView)))
        #expect(p.end == nil)
        p.loop.advanceTime(to: p.started + Self.timeout - .nanoseconds(1))
        #expect(p.end == nil)
        #expect(try p.tries().count == Self.tries - 1)
        p.loop.advanceTime(to: p.started + Self.timeout)
        let end = try #require(p.end)
        #expect(end.outcome == .badAnswer)
        #expect(end.detail == answer.detail)
        #expect(end.attemptsSent == Self.tries)
        try p.finish()
    }

    @Test("a foreign answer first does not stop the genuine echo after it from settling .answered")
    func foreignThenGenuine() throws {
        let p = try start()
        let first = try #require(try p.tries().first)
        try p.datagram(Foreign.unknownNonce.bytes(answering: Fixture.decode(first.data.readableBytesView)))
        try p.echo(of: first, token: Fixture.otherToken)
        #expect(p.end == nil)
        p.loop.advanceTime(by: .milliseconds(7))
        try p.echo(of: first)
        let end = try #require(p.end)
        #expect(end.outcome == .answered)
        #expect(end.rttMicros == 7_000)
        try p.finish()
    }

    @Test("an ICMP port-unreachable (ECONNREFUSED on the connected socket) settles .refused at once")
    func refused() throws {
        let p = try start()
        p.loop.advanceTime(by: .milliseconds(3))
        p.channel.pipeline.fireErrorCaught(IOError(errnoCode: ECONNREFUSED, reason: "recvmsg"))
        let end = try #require(p.end)
        #expect(end.outcome == .refused)
        #expect(end.detail == String(cString: strerror(ECONNREFUSED)))
        #expect(end.attemptsSent == 1)
        #expect(end.answerArrived)
        p.loop.advanceTime(by: .seconds(10))
        #expect(try p.tries().count == 1)
        try p.finish()
    }

    @Test("host unreachable settles .unreachable, which is not counted as an answer from the target")
    func unreachable() throws {
        let p = try start()
        p.channel.pipeline.fireErrorCaught(IOError(errnoCode: EHOSTUNREACH, reason: "sendmsg"))
        let end = try #require(p.end)
        #expect(end.outcome == .unreachable)
        #expect(end.detail == String(cString: strerror(EHOSTUNREACH)))
        #expect(!end.answerArrived)
        try p.finish()
    }

    @Test("another socket error is kept, not decisive: the probe waits on and ends .timeout with it as the detail")
    func otherError() throws {
        let p = try start()
        p.channel.pipeline.fireErrorCaught(IOError(errnoCode: EPERM, reason: "sendmsg"))
        #expect(p.end == nil)
        p.loop.advanceTime(to: p.started + Self.timeout)
        let end = try #require(p.end)
        #expect(end.outcome == .timeout)
        #expect(end.detail == String(cString: strerror(EPERM)))
        #expect(end.attemptsSent == Self.tries)
        try p.finish()
    }

    @Test("the socket closed under a waiting probe ends it .timeout, 'socket closed'")
    func closed() throws {
        let p = try start()
        try p.channel.close().wait()
        p.loop.run()  // settled on the loop's next turn, after any failure of the write that closed it
        let end = try #require(p.end)
        #expect(end.outcome == .timeout)
        #expect(end.detail == "socket closed")
        #expect(end.attemptsSent == 1)
        try p.finish()
    }

    @Test("VXLAN-framed: tries leave in our frame; an unframed echo is a bad answer, a framed one settles")
    func framed() throws {
        let p = try start(framed: true)
        let first = try #require(try p.tries().first)
        #expect(Array(first.data.readableBytesView.prefix(VXLANFrame.headerSize)) == VXLANFrame.header)
        #expect(try Fixture.decode(first.data.readableBytesView.dropFirst(VXLANFrame.headerSize)).nonce == p.nonces[0])
        try p.echo(of: first, framed: false)
        #expect(p.end == nil)
        p.loop.advanceTime(by: .milliseconds(2))
        try p.echo(of: first, framed: true)
        let end = try #require(p.end)
        #expect(end.outcome == .answered)
        #expect(end.rttMicros == 2_000)
        try p.finish()
    }
}

/// The prober's TCP handler (`TCPProbeClient`) on an embedded channel: one connected try waiting for its echo.
@Suite("TCPProbeClient: a connected TCP try and its echo")
struct TCPProbeClientTests {
    struct Try {
        let channel: EmbeddedChannel
        let promise: EventLoopPromise<ProbeEnd>
        let nonce: [UInt8]

        var end: ProbeEnd? {
            var end: ProbeEnd?
            promise.futureResult.assumeIsolated().whenSuccess { end = $0 }
            return end
        }

        /// The echo the agent writes back for this try's probe (or, with `nonce`, another's).
        func echo(nonce: [UInt8]? = nil, padding: Int = 0) -> [UInt8] {
            Fixture.probe(
                kind: Fixture.tcp, type: .echo, nonce: nonce ?? self.nonce, sender: Fixture.agent,
                target: Fixture.peer, padding: padding)
        }
    }

    /// A try whose deadline has already passed when it connects, so it waits the floor of 200 ms for its echo.
    func connected(handshakeOnly: Bool = false) throws -> Try {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        let promise = loop.makePromise(of: ProbeEnd.self)
        let nonce = randomBytes(16)
        try channel.pipeline.syncOperations.addHandler(
            TCPProbeClient(
                auth: Fixture.token.probeAuthenticator, nonce: nonce, started: .now(), deadline: .now(),
                handshakeOnly: handshakeOnly, promise: promise))
        try channel.connect(to: Fixture.address(Fixture.peer, 2377)).wait()
        return Try(channel: channel, promise: promise, nonce: nonce)
    }

    @Test("its echo, in two reads, settles .answered and the try closes its connection")
    func answered() throws {
        let t = try connected()
        let echo = t.echo(padding: 20)
        try t.channel.writeInbound(ByteBuffer(bytes: echo.prefix(100)))
        #expect(t.end == nil)
        try t.channel.writeInbound(ByteBuffer(bytes: echo.dropFirst(100)))
        let end = try #require(t.end)
        #expect(end.outcome == .answered)
        #expect(end.attemptsSent == 1)
        #expect(end.rttMicros != nil)
        #expect(!t.channel.isActive)
        #expect(try t.channel.writtenBytes().isEmpty)
        _ = try t.channel.finish(acceptAlreadyClosed: true)
    }

    @Test("an echo for another nonce, or a bad MAC, settles .badAnswer", arguments: [false, true])
    func badAnswer(badMAC: Bool) throws {
        let t = try connected()
        var bytes = badMAC ? t.echo() : t.echo(nonce: randomBytes(16))
        if badMAC { bytes[bytes.count - 1] ^= 0x01 }
        try t.channel.writeInbound(ByteBuffer(bytes: bytes))
        let end = try #require(t.end)
        #expect(end.outcome == .badAnswer)
        #expect(end.detail == (badMAC ? "authentication failed" : "answer for another probe"))
        #expect(!t.channel.isActive)
        _ = try t.channel.finish(acceptAlreadyClosed: true)
    }

    @Test("a header announcing more than the largest probe settles .badAnswer at once (the series closes it)")
    func oversized() throws {
        let t = try connected()
        var header = [UInt8](repeating: 0, count: ProbePacket.headerSize)
        header[84] = 0xff
        header[85] = 0xff
        try t.channel.writeInbound(ByteBuffer(bytes: header))
        let end = try #require(t.end)
        #expect(end.outcome == .badAnswer)
        #expect(end.detail == "oversized answer")
        #expect(t.channel.isActive)
        _ = try t.channel.finish()
    }

    @Test("no echo: .connected when the wait runs out (here its 200 ms floor)")
    func noEcho() throws {
        let t = try connected()
        t.channel.embeddedEventLoop.advanceTime(by: .milliseconds(200) - .nanoseconds(1))
        #expect(t.end == nil)
        t.channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        let end = try #require(t.end)
        #expect(end.outcome == .connected)
        #expect(end.detail == "handshake completed; no authenticated answer")
        #expect(end.rttMicros != nil)
        _ = try t.channel.finish()
    }

    @Test("a reset, or the peer closing, before the echo: .connected, saying which")
    func resetOrClosed() throws {
        let reset = try connected()
        reset.channel.pipeline.fireErrorCaught(IOError(errnoCode: ECONNRESET, reason: "read"))
        #expect(reset.end?.outcome == .connected)
        #expect(reset.end?.detail == "handshake completed, then the peer reset the connection")
        #expect(!reset.channel.isActive)
        _ = try reset.channel.finish(acceptAlreadyClosed: true)

        let closed = try connected()
        try closed.channel.close().wait()
        #expect(closed.end?.outcome == .connected)
        #expect(closed.end?.detail == "handshake completed; the peer closed without an authenticated answer")
        _ = try closed.channel.finish(acceptAlreadyClosed: true)
    }

    @Test("an observed port (handshake only): .connected as soon as it connects, nothing written")
    func handshakeOnly() throws {
        let t = try connected(handshakeOnly: true)
        let end = try #require(t.end)
        #expect(end.outcome == .connected)
        #expect(end.detail == "handshake completed; no bytes sent (the port belongs to another program)")
        #expect(try t.channel.writtenBytes().isEmpty)
        _ = try t.channel.finish()
    }
}

// `TCPProbeSeries` opens its own connections through `ClientBootstrap` (real sockets, TCP_INFO, SO_ERROR), so it
// is left to the integration tests; its classification of connect errors is tested here.
@Suite("Prober.classify: what a socket error says about the path")
struct ClassifyTests {
    @Test(
        "errno to outcome",
        arguments: [
            (ECONNREFUSED, ProbeOutcome.refused), (ECONNRESET, .refused),
            (EHOSTUNREACH, .unreachable), (ENETUNREACH, .unreachable), (EHOSTDOWN, .unreachable), (ENETDOWN, .unreachable),
            (ETIMEDOUT, .timeout), (EPERM, .sendFailed), (EADDRNOTAVAIL, .sendFailed),
        ])
    func fromErrno(_ code: CInt, _ outcome: ProbeOutcome) {
        let end = Prober.classify(errno: code, attemptsSent: 3)
        #expect(end.outcome == outcome)
        #expect(end.attemptsSent == 3)
        #expect(end.detail == (outcome == .timeout ? nil : String(cString: strerror(code))))
        #expect(!end.answerArrived)
    }

    @Test("connect errors: NIO's connect timeout, an IOError, anything else")
    func connectError() {
        #expect(Prober.classify(connectError: ChannelError.connectTimeout(.seconds(1)), attemptsSent: 1).outcome == .timeout)
        let refused = Prober.classify(connectError: IOError(errnoCode: ECONNREFUSED, reason: "connect"), attemptsSent: 1)
        #expect(refused.outcome == .refused)
        #expect(refused.detail == String(cString: strerror(ECONNREFUSED)))
        let other = Prober.classify(connectError: ChannelError.ioOnClosedChannel, attemptsSent: 2)
        #expect(other.outcome == .sendFailed)
        #expect(other.detail == "\(ChannelError.ioOnClosedChannel)")
        #expect(other.attemptsSent == 2)
    }
}
