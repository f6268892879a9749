import SwarmProbeCore

/// One TCP, UDP or ESP packet as a capture saw it. The tap and direction are not here:
/// whoever opened the capture knows which tap it is.
public struct CapturedPacket: Sendable, Hashable, CustomStringConvertible {
    /// When libpcap saw it, microseconds since 1970 (for `nflog:N` the time it was read, see ``CaptureSession``).
    public var timestamp: Int64
    public var source: IPAddress
    public var destination: IPAddress
    public var proto: TransportProtocol
    /// nil for ESP.
    public var sourcePort: Int?
    /// nil for ESP.
    public var destinationPort: Int?
    /// The TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20); nil for UDP and ESP.
    public var tcpFlags: UInt8?
    /// The transport payload; for ESP every byte after the IP header (SPI, sequence number, ciphertext).
    /// As much as was captured: less than was sent if the snapshot length cut the packet.
    public var payload: [UInt8]

    public init(
        timestamp: Int64, source: IPAddress, destination: IPAddress, proto: TransportProtocol,
        sourcePort: Int?, destinationPort: Int?, tcpFlags: UInt8?, payload: [UInt8]
    ) {
        self.timestamp = timestamp
        self.source = source
        self.destination = destination
        self.proto = proto
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.tcpFlags = tcpFlags
        self.payload = payload
    }

    public static let fin: UInt8 = 0x01
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let psh: UInt8 = 0x08
    public static let ack: UInt8 = 0x10

    public var isSYN: Bool { hasFlag(Self.syn) }
    public var isACK: Bool { hasFlag(Self.ack) }
    public var isRST: Bool { hasFlag(Self.rst) }
    public var isFIN: Bool { hasFlag(Self.fin) }

    private func hasFlag(_ bit: UInt8) -> Bool { (tcpFlags ?? 0) & bit != 0 }

    /// `198.18.0.1:40001 > 198.18.0.2:2377 tcp [S.] 0 bytes`, for logs and test failures.
    public var description: String {
        func endpoint(_ a: IPAddress, _ p: Int?) -> String {
            guard let p else { return a.description }
            return a.isIPv4 ? "\(a):\(p)" : "[\(a)]:\(p)"
        }
        var s = "\(endpoint(source, sourcePort)) > \(endpoint(destination, destinationPort)) \(proto.rawValue)"
        if let f = tcpFlags {
            let names: [(UInt8, Character)] = [(Self.fin, "F"), (Self.syn, "S"), (Self.rst, "R"), (Self.psh, "P"), (Self.ack, ".")]
            s += " [" + String(names.filter { f & $0.0 != 0 }.map(\.1)) + "]"
        }
        return s + " \(payload.count) bytes"
    }
}
