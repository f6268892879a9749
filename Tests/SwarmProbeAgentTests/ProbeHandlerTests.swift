import NIOCore
import NIOEmbedded
import SwarmProbeCore
import Testing

@testable import SwarmProbeAgent

/// The agent's probe listeners (`Listeners.swift`) on embedded channels: what each datagram or byte stream
/// gets back, byte for byte, and when a connection is closed.
@Suite("DatagramProbeHandler: which datagrams earn an echo, and where it goes")
struct DatagramProbeHandlerTests {
    /// A UDP listener of the agent at `Fixture.agent`, as `Agent.openListener` sets one up.
    private func listener(_ kind: KindID = Fixture.udp, framed: Bool = false) -> (EmbeddedChannel, Responder) {
        let responder = Responder(address: Fixture.agent, token: Fixture.token)
        return (EmbeddedChannel(handler: DatagramProbeHandler(responder: responder, kind: kind, framed: framed)), responder)
    }

    /// A source that is not the signed sender (NAT, a spoofer): the echo must not go there.
    private let stranger = try! SocketAddress(ipAddress: "192.0.2.9", port: 5555)

    private func deliver(_ bytes: [UInt8], to channel: EmbeddedChannel, from source: SocketAddress? = nil) throws {
        try channel.writeInbound(AddressedEnvelope(remoteAddress: source ?? stranger, data: ByteBuffer(bytes: bytes)))
    }

    @Test("an authenticated probe gets one echo, to the address and port it names, the probe's own size")
    func answersOnce() throws {
        let (channel, responder) = listener()
        let probe = Fixture.probe(padding: 64)
        let before = nowMs()
        try deliver(probe, to: channel)
        let after = nowMs()

        let written = try channel.writtenDatagrams()
        try #require(written.count == 1)
        #expect(try written[0].remoteAddress == Fixture.address(Fixture.peer, 40000))
        let echo = written[0].data.bytes
        #expect(echo.count == probe.count)
        // Byte for byte: the probe with type 2, the agent's clock and a new MAC.
        let sent = try Fixture.decode(probe), got = try Fixture.decode(echo)
        #expect(got.type == .echo)
        #expect((before...after).contains(got.timeMs))
        #expect(echo == sent.echo(timeMs: got.timeMs).encode(auth: Fixture.token.probeAuthenticator))
        #expect(responder.counters.received == 1)
        #expect(responder.counters.answered == 1)
        #expect(try channel.finish().isClean)
    }

    @Test("the same probe again is a replay: no second echo")
    func replay() throws {
        let (channel, responder) = listener()
        let probe = Fixture.probe()
        try deliver(probe, to: channel)
        #expect(try channel.writtenDatagrams().count == 1)
        try deliver(probe, to: channel)
        try deliver(probe, to: channel, from: Fixture.address(Fixture.peer, 40000))
        #expect(try channel.writtenDatagrams().isEmpty)
        #expect(responder.counters.droppedReplay == 2)
        #expect(responder.counters.answered == 1)
        #expect(try channel.finish().isClean)
    }

    /// Datagrams that must get no reply at all, and the counter each is dropped under.
    enum Unanswered: String, CaseIterable, CustomTestStringConvertible {
        case badMAC = "a probe with one MAC bit flipped"
        case otherToken = "a probe signed with another cluster's token"
        case otherTarget = "a probe for another address"
        case otherPort = "a probe for another port"
        case otherProtocol = "a TCP probe on the UDP listener"
        case echo = "an echo instead of a probe"
        case truncated = "a probe missing its last byte"
        case extended = "a probe with a byte appended"
        case garbage = "200 bytes of garbage"
        case empty = "an empty datagram"

        var testDescription: String { rawValue }

        var bytes: [UInt8] {
            switch self {
            case .badMAC:
                var p = Fixture.probe()
                p[p.count - 1] ^= 0x01
                return p
            case .otherToken: return Fixture.probe(token: Fixture.otherToken)
            case .otherTarget: return Fixture.probe(target: IPAddress("10.0.0.3")!)
            case .otherPort: return Fixture.probe(targetPort: 7947)
            case .otherProtocol: return Fixture.probe(proto: .tcp)
            case .echo: return Fixture.probe(type: .echo)
            case .truncated: return Array(Fixture.probe().dropLast())
            case .extended: return Fixture.probe() + [0]
            case .garbage: return [UInt8](repeating: 0xab, count: 200)
            case .empty: return []
            }
        }

        var misdirected: Bool { [.otherTarget, .otherPort, .otherProtocol].contains(self) }
    }

    @Test("no reply at all", arguments: Unanswered.allCases)
    func unanswered(_ datagram: Unanswered) throws {
        let (channel, responder) = listener()
        try deliver(datagram.bytes, to: channel)
        #expect(try channel.writtenDatagrams().isEmpty)
        let c = responder.counters
        #expect(c.received == 0 && c.answered == 0)
        #expect(c.droppedMisdirected == (datagram.misdirected ? 1 : 0))
        #expect(c.droppedUnauthenticated == (datagram.misdirected ? 0 : 1))
        #expect(try channel.finish().isClean)
    }

    @Test("the data-path kind answers a probe in our VXLAN frame, with an echo in the same frame")
    func framed() throws {
        let (channel, _) = listener(Fixture.vxlan, framed: true)
        let probe = Fixture.probe(kind: Fixture.vxlan)
        let frame = VXLANFrame.wrap(probe)
        #expect(Array(frame.prefix(8)) == [0x08, 0, 0, 0, 0xff, 0xff, 0xf0, 0])
        try deliver(frame, to: channel)
        let written = try channel.writtenDatagrams()
        try #require(written.count == 1)
        #expect(try written[0].remoteAddress == Fixture.address(Fixture.peer, 40000))
        let echo = written[0].data.bytes
        #expect(echo.count == frame.count)
        #expect(Array(echo.prefix(8)) == VXLANFrame.header)
        let got = try Fixture.decode(echo.dropFirst(8))
        #expect(try Array(echo.dropFirst(8)) == Fixture.decode(probe).echo(timeMs: got.timeMs).encode(auth: Fixture.token.probeAuthenticator))
        #expect(try channel.finish().isClean)
    }

    @Test("the data-path kind ignores a bare probe and a frame for another VNI; a plain kind ignores a framed probe")
    func framedOnly() throws {
        let (framedChannel, framedResponder) = listener(Fixture.vxlan, framed: true)
        try deliver(Fixture.probe(kind: Fixture.vxlan), to: framedChannel)
        var otherVNI = VXLANFrame.wrap(Fixture.probe(kind: Fixture.vxlan))
        otherVNI[6] = 0x01
        try deliver(otherVNI, to: framedChannel)
        #expect(try framedChannel.writtenDatagrams().isEmpty)
        #expect(framedResponder.counters.droppedUnauthenticated == 2)
        #expect(try framedChannel.finish().isClean)

        let (plain, plainResponder) = listener(Fixture.vxlan)
        try deliver(VXLANFrame.wrap(Fixture.probe(kind: Fixture.vxlan)), to: plain)
        #expect(try plain.writtenDatagrams().isEmpty)
        #expect(plainResponder.counters.droppedUnauthenticated == 1)
        #expect(try plain.finish().isClean)
    }

    @Test("ESP: the raw socket's IPv4 header is skipped; the echo, without it, goes to the sender with port 0")
    func esp() throws {
        let (channel, _) = listener(Fixture.esp)
        let probe = Fixture.probe(kind: Fixture.esp)
        let ipHeader: [UInt8] = [0x45, 0, 0, 0, 0, 0, 0, 0, 64, 50, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1]
        try deliver(ipHeader + probe, to: channel)
        let written = try channel.writtenDatagrams()
        try #require(written.count == 1)
        #expect(try written[0].remoteAddress == Fixture.address(Fixture.peer, 0))
        #expect(written[0].data.readableBytes == probe.count)
        #expect(try Fixture.decode(written[0].data.readableBytesView).type == .echo)
        // Without an IPv4 header (an IPv6 version nibble), nothing.
        try deliver([0x60] + ipHeader.dropFirst() + Fixture.probe(kind: Fixture.esp), to: channel)
        #expect(try channel.writtenDatagrams().isEmpty)
        #expect(try channel.finish().isClean)
    }
}

@Suite("StreamProbeHandler: one probe per TCP connection")
struct StreamProbeHandlerTests {
    /// An accepted connection from the peer, as `Agent.openListener` sets one up; connecting fires
    /// `channelActive`, which starts the 5 s deadline at the loop's time 0.
    private func accepted() throws -> (EmbeddedChannel, Responder) {
        let responder = Responder(address: Fixture.agent, token: Fixture.token)
        let channel = EmbeddedChannel(handler: StreamProbeHandler(responder: responder, kind: Fixture.tcp))
        try channel.connect(to: Fixture.address(Fixture.peer, 40000)).wait()
        #expect(channel.isActive)
        return (channel, responder)
    }

    /// The echo `probe` gets, checked byte for byte against the probe.
    private func expectEcho(_ bytes: [UInt8], of probe: [UInt8]) throws {
        #expect(bytes.count == probe.count)
        let got = try Fixture.decode(bytes)
        #expect(got.type == .echo)
        #expect(try bytes == Fixture.decode(probe).echo(timeMs: got.timeMs).encode(auth: Fixture.token.probeAuthenticator))
    }

    @Test("a probe in one piece: its echo on the connection, which stays open until the deadline")
    func onePiece() throws {
        let (channel, responder) = try accepted()
        let probe = Fixture.probe(kind: Fixture.tcp)
        try channel.writeInbound(ByteBuffer(bytes: probe))
        try expectEcho(try channel.writtenBytes(), of: probe)
        #expect(responder.counters.answered == 1)
        // One probe per connection: a second gets nothing.
        try channel.writeInbound(ByteBuffer(bytes: Fixture.probe(kind: Fixture.tcp)))
        #expect(try channel.writtenBytes().isEmpty)
        #expect(responder.counters.received == 1)
        // The prober closes first; if it does not, the deadline does.
        channel.embeddedEventLoop.advanceTime(by: .seconds(5) - .nanoseconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        #expect(!channel.isActive)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test("a padded probe split over four reads: nothing until its last byte, then its echo")
    func split() throws {
        let (channel, _) = try accepted()
        let probe = Fixture.probe(kind: Fixture.tcp, padding: 100)
        #expect(probe.count == 218)
        // Short of the header; past it (the length is known); one byte short; the last byte.
        for range in [0..<10, 10..<90, 90..<217] {
            try channel.writeInbound(ByteBuffer(bytes: probe[range]))
            #expect(try channel.writtenBytes().isEmpty, "after byte \(range.upperBound)")
            #expect(channel.isActive)
        }
        try channel.writeInbound(ByteBuffer(bytes: probe[217...]))
        try expectEcho(try channel.writtenBytes(), of: probe)
        #expect(channel.isActive)
        #expect(try channel.finish().isClean)
    }

    @Test("more than the largest probe in one read: closed, nothing written")
    func oversized() throws {
        let (channel, responder) = try accepted()
        try channel.writeInbound(ByteBuffer(bytes: [UInt8](repeating: 0, count: ProbePacket.maximumSize + 1)))
        #expect(!channel.isActive)
        #expect(try channel.writtenBytes().isEmpty)
        #expect(responder.counters.received == 0)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test("a header announcing more padding than any probe: closed as soon as the header is in")
    func oversizedAnnounced() throws {
        let (channel, _) = try accepted()
        var header = [UInt8](repeating: 0, count: ProbePacket.headerSize)
        header[84] = 0xff
        header[85] = 0xff
        try channel.writeInbound(ByteBuffer(bytes: header.prefix(85)))
        #expect(channel.isActive)
        try channel.writeInbound(ByteBuffer(bytes: header.suffix(1)))
        #expect(!channel.isActive)
        #expect(try channel.writtenBytes().isEmpty)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test("an unauthenticated probe: closed, nothing written", arguments: [false, true])
    func unauthenticated(otherToken: Bool) throws {
        let (channel, responder) = try accepted()
        var probe = Fixture.probe(kind: Fixture.tcp, token: otherToken ? Fixture.otherToken : Fixture.token)
        if !otherToken { probe[probe.count - 1] ^= 0x80 }
        try channel.writeInbound(ByteBuffer(bytes: probe))
        #expect(!channel.isActive)
        #expect(try channel.writtenBytes().isEmpty)
        #expect(responder.counters.droppedUnauthenticated == 1)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test("a silent connection, and one that stops halfway through a probe, are closed at 5 s", arguments: [0, 50])
    func deadline(bytesSent: Int) throws {
        let (channel, _) = try accepted()
        if bytesSent > 0 {
            try channel.writeInbound(ByteBuffer(bytes: Fixture.probe(kind: Fixture.tcp).prefix(bytesSent)))
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(5) - .nanoseconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        #expect(!channel.isActive)
        #expect(try channel.writtenBytes().isEmpty)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }
}

@Suite("ConnectionLimiter: a TCP listener's cap on open connections")
struct ConnectionLimiterTests {
    @Test("past the limit a new connection is closed at once; a closed one frees its slot")
    func limit() throws {
        let loop = EmbeddedEventLoop()
        let server = EmbeddedChannel(handler: ConnectionLimiter(limit: 2), loop: loop)
        func accept() throws -> (EmbeddedChannel, passedOn: Bool) {
            let child = EmbeddedChannel(loop: loop)
            try child.connect(to: Fixture.address(Fixture.peer, 40000)).wait()
            try server.writeInbound(child as any Channel)
            let passed = try server.readInbound(as: (any Channel).self)
            return (child, passed.map { $0 === child } ?? false)
        }
        let a = try accept(), b = try accept(), c = try accept()
        #expect(a.passedOn && b.passedOn && !c.passedOn)
        #expect(a.0.isActive && b.0.isActive && !c.0.isActive)

        // A slot frees once a connection's close has completed (its closeFuture, on the next loop turn).
        try a.0.close().wait()
        let d = try accept()
        #expect(d.passedOn == false)
        loop.run()
        let e = try accept()
        #expect(e.passedOn && e.0.isActive)
        let f = try accept()
        #expect(!f.passedOn && !f.0.isActive)

        for child in [a.0, b.0, c.0, d.0, e.0, f.0] { _ = try child.finish(acceptAlreadyClosed: true) }
        #expect(try server.finish().isClean)
    }
}
