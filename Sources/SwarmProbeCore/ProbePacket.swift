import Crypto

/// The authenticated probe and its echo, as they travel on TCP, UDP and ESP.
///
/// Layout (big-endian), 118 bytes plus padding:
///
///     0  "SWPB"        4   magic
///     4  version       1   1
///     5  type          1   1 probe, 2 echo
///     6  protocol      1   6 tcp, 17 udp, 50 esp
///     7  flags         1   bit 0: a trailer follows the HMAC (a path MTU probe)
///     8  target port   2   0 for ESP
///    10  reply port    2   where the echo goes (the probe's source port)
///    12  time          8   milliseconds since 1970, sender's clock
///    20  nonce        16
///    36  run id       16   the coordinator's run
///    52  sender       16   sender's address (IPv4-mapped for v4): the only place an echo may go
///    68  target       16   target's address: a probe for another address is ignored
///    84  pad length    2
///    86  padding       P   zeros
///  86+P  HMAC-SHA256  32   over everything before it, key derived from the token
/// 118+P  trailer       T   zeros, not authenticated, only when flag bit 0 is set: what makes a path MTU
///                          probe its size, after the authenticated part so that a tap keeping 512 bytes of
///                          each packet can still authenticate it
///
/// An echo has the same length as its probe and never more; a probe's trailer is never echoed.
public struct ProbePacket: Sendable, Equatable {
    public enum PacketType: UInt8, Sendable { case probe = 1, echo = 2 }

    public static let magic: [UInt8] = Array("SWPB".utf8)
    public static let version: UInt8 = 1
    public static let headerSize = 86
    public static let macSize = 32
    public static let minimumSize = headerSize + macSize
    /// Largest padding accepted: probes stay within one jumbo frame.
    public static let maximumPadding = 8800
    /// Largest packet accepted, trailer included: a 9001-byte path MTU probe over IPv4 or IPv6.
    public static let maximumSize = 9001 - 36

    public var type: PacketType
    public var proto: TransportProtocol
    public var targetPort: UInt16
    public var replyPort: UInt16
    public var timeMs: UInt64
    public var nonce: [UInt8]
    public var runID: [UInt8]
    public var sender: IPAddress
    public var target: IPAddress
    public var padding: Int
    /// Bytes of zeros after the HMAC (a path MTU probe's size); its echo has none, so it measures the way there only.
    public var trailer: Int

    public init(
        type: PacketType, proto: TransportProtocol, targetPort: UInt16, replyPort: UInt16, timeMs: UInt64,
        nonce: [UInt8], runID: [UInt8], sender: IPAddress, target: IPAddress, padding: Int = 0, trailer: Int = 0
    ) {
        self.trailer = trailer
        precondition(nonce.count == 16 && runID.count == 16 && (0...ProbePacket.maximumPadding).contains(padding))
        self.type = type
        self.proto = proto
        self.targetPort = targetPort
        self.replyPort = replyPort
        self.timeMs = timeMs
        self.nonce = nonce
        self.runID = runID
        self.sender = sender
        self.target = target
        self.padding = padding
    }

    public var size: Int { ProbePacket.minimumSize + padding + trailer }

    /// The echo an agent sends back: same identity, same size but for the trailer, its own clock.
    public func echo(timeMs: UInt64) -> ProbePacket {
        var e = self
        e.type = .echo
        e.timeMs = timeMs
        e.trailer = 0
        return e
    }

    public func encode(key: SymmetricKey) -> [UInt8] {
        encode(auth: ProbeAuthenticator(key))
    }

    public func encode(auth: ProbeAuthenticator) -> [UInt8] {
        var b = [UInt8]()
        b.reserveCapacity(size)
        b += ProbePacket.magic
        b.append(ProbePacket.version)
        b.append(type.rawValue)
        b.append(ProbePacket.protoByte(proto))
        b.append(trailer > 0 ? 1 : 0)
        b.appendBE(targetPort)
        b.appendBE(replyPort)
        b.appendBE(timeMs)
        b += nonce
        b += runID
        b += sender.bytes16
        b += target.bytes16
        b.appendBE(UInt16(padding))
        b += [UInt8](repeating: 0, count: padding)
        b += auth.mac(b)
        b += [UInt8](repeating: 0, count: trailer)
        return b
    }

    public enum DecodeError: String, Error, Sendable {
        case tooShort = "shorter than a probe"
        case tooLong = "longer than any probe"
        case badMagic = "not a swarmprobe packet"
        case badVersion = "unknown version"
        case badType = "unknown packet type"
        case badProtocol = "unknown protocol"
        case badLength = "length does not match its padding field"
        case badMAC = "authentication failed"
        case badAddress = "malformed address"
    }

    /// Parses and authenticates. Anything that fails is dropped by the caller without a reply.
    public static func decode<C: Collection>(_ input: C, key: SymmetricKey) -> Result<ProbePacket, DecodeError> where C.Element == UInt8 {
        decode(input, auth: ProbeAuthenticator(key))
    }

    public static func decode<C: Collection>(_ input: C, auth: ProbeAuthenticator) -> Result<ProbePacket, DecodeError> where C.Element == UInt8 {
        guard input.count >= minimumSize else { return .failure(.tooShort) }
        guard input.count <= maximumSize else { return .failure(.tooLong) }
        let b = Array(input)
        guard b[0..<4].elementsEqual(magic) else { return .failure(.badMagic) }
        guard b[4] == version else { return .failure(.badVersion) }
        guard let type = PacketType(rawValue: b[5]) else { return .failure(.badType) }
        guard let proto = protoFromByte(b[6]) else { return .failure(.badProtocol) }
        let pad = Int(b.readBE16(84))
        let hasTrailer = b[7] & 1 != 0
        guard pad <= maximumPadding, hasTrailer ? b.count > minimumSize + pad : b.count == minimumSize + pad else {
            return .failure(.badLength)
        }
        let macStart = headerSize + pad
        guard auth.isValid(b[macStart..<(macStart + macSize)], for: b[0..<macStart]) else {
            return .failure(.badMAC)
        }
        guard let sender = IPAddress(bytes16: Array(b[52..<68])), let target = IPAddress(bytes16: Array(b[68..<84])) else {
            return .failure(.badAddress)
        }
        return .success(
            ProbePacket(
                type: type, proto: proto, targetPort: b.readBE16(8), replyPort: b.readBE16(10),
                timeMs: b.readBE64(12), nonce: Array(b[20..<36]), runID: Array(b[36..<52]),
                sender: sender, target: target, padding: pad, trailer: b.count - minimumSize - pad))
    }

    static func protoByte(_ p: TransportProtocol) -> UInt8 {
        switch p {
        case .tcp: return 6
        case .udp: return 17
        case .esp: return 50
        }
    }
    static func protoFromByte(_ b: UInt8) -> TransportProtocol? {
        switch b {
        case 6: return .tcp
        case 17: return .udp
        case 50: return .esp
        default: return nil
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendBE(_ v: UInt16) {
        append(UInt8(v >> 8)); append(UInt8(v & 0xff))
    }
    mutating func appendBE(_ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8((v >> UInt64(shift)) & 0xff)) }
    }
    func readBE16(_ at: Int) -> UInt16 { UInt16(self[at]) << 8 | UInt16(self[at + 1]) }
    func readBE64(_ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(self[at + i]) }
        return v
    }
}
