/// One capture tap of an agent and whether it works.
public struct TapState: Codable, Sendable, Equatable {
    public enum Tap: String, Codable, Sendable {
        /// libpcap on the interface holding the address: sees probes before the host firewall.
        case interface
        /// libpcap on `nflog:N`, fed by an nftables rule at input priority 100: sees only what the firewall let through.
        case nflog
    }
    public var tap: Tap
    public var active: Bool
    /// The capture device (`eth0`, `nflog:7950`).
    public var device: String?
    /// Why it is not active.
    public var detail: String?

    public init(tap: Tap, active: Bool, device: String? = nil, detail: String? = nil) {
        self.tap = tap
        self.active = active
        self.device = device
        self.detail = detail
    }
}

/// A probe or answer a capture tap saw. UDP and ESP probes carry their nonce (the payload is an
/// authenticated probe); TCP is matched by the sender's address and source port (a SYN has no payload).
public struct CaptureRecord: Sendable, Equatable, Hashable, Timestamped {
    public enum Direction: String, Sendable { case inbound, outbound }
    public var tap: TapState.Tap
    public var direction: Direction
    public var kind: KindID
    /// The other end: the sender of an inbound probe, the destination of an outbound answer.
    public var peer: IPAddress
    public var peerPort: Int?
    /// Hex nonce of the probe or echo (UDP, ESP); nil for TCP segments.
    public var nonce: String?
    /// `syn` for an inbound SYN, `syn-ack` for an outbound SYN-ACK, `rst` for an outbound reset.
    public var tcp: String?
    public var timeMs: Int64

    public init(
        tap: TapState.Tap, direction: Direction, kind: KindID, peer: IPAddress, peerPort: Int?,
        nonce: String?, tcp: String?, timeMs: Int64
    ) {
        self.tap = tap
        self.direction = direction
        self.kind = kind
        self.peer = peer
        self.peerPort = peerPort
        self.nonce = nonce
        self.tcp = tcp
        self.timeMs = timeMs
    }
}
