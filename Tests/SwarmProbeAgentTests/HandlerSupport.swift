import NIOCore
import NIOEmbedded
import SwarmProbeCore

@testable import SwarmProbeAgent

/// What the handler tests share: one cluster token, a two-node cluster (the agent under test and a peer),
/// and probes built and signed as a peer's prober builds them.
enum Fixture {
    static let token = ClusterToken(secret: [UInt8](repeating: 0x5a, count: 32))
    /// Another cluster's token: what it signs must fail authentication here.
    static let otherToken = ClusterToken(secret: [UInt8](repeating: 0xa5, count: 32))
    static let agent = IPAddress("10.0.0.1")!
    static let peer = IPAddress("10.0.0.2")!
    static let runID = [UInt8](repeating: 0x42, count: 16)
    static let udp = KindID(proto: .udp, port: 7946)
    static let vxlan = KindID(proto: .udp, port: 4789)
    static let tcp = KindID(proto: .tcp, port: 2377)
    static let esp = KindID(proto: .esp, port: nil)

    /// A signed probe from `sender` to `target`, on `kind`'s protocol and port unless told otherwise.
    static func probe(
        kind: KindID = udp, type: ProbePacket.PacketType = .probe, proto: TransportProtocol? = nil,
        targetPort: Int? = nil, replyPort: UInt16 = 40000, nonce: [UInt8] = randomBytes(16),
        sender: IPAddress = peer, target: IPAddress = agent, padding: Int = 0,
        timeMs: UInt64 = nowMs(), token: ClusterToken = token
    ) -> [UInt8] {
        ProbePacket(
            type: type, proto: proto ?? kind.proto, targetPort: UInt16(targetPort ?? kind.port ?? 0),
            replyPort: replyPort, timeMs: timeMs, nonce: nonce, runID: runID, sender: sender, target: target,
            padding: padding
        ).encode(auth: token.probeAuthenticator)
    }

    static func decode(_ bytes: some Collection<UInt8>) throws -> ProbePacket {
        try ProbePacket.decode(bytes, auth: token.probeAuthenticator).get()
    }

    static func address(_ ip: IPAddress, _ port: Int) throws -> SocketAddress {
        try ip.socketAddress(port: port)
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}

extension EmbeddedChannel {
    /// Every datagram the pipeline has written so far.
    func writtenDatagrams() throws -> [AddressedEnvelope<ByteBuffer>] {
        var out: [AddressedEnvelope<ByteBuffer>] = []
        while let e = try readOutbound(as: AddressedEnvelope<ByteBuffer>.self) { out.append(e) }
        return out
    }

    /// Every byte the pipeline has written so far, in order.
    func writtenBytes() throws -> [UInt8] {
        var out: [UInt8] = []
        while let b = try readOutbound(as: ByteBuffer.self) { out += b.readableBytesView }
        return out
    }
}
