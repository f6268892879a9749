/// An address the host holds and the interface it is on.
public struct HostAddress: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var device: String

    public init(address: IPAddress, device: String) {
        self.address = address
        self.device = device
    }

    /// `10.0.1.5 (eth1)`.
    public var description: String { "\(address) (\(device))" }
}

/// Peers toward which the kernel picks `source` rather than the advertised address (moby#53004: a second
/// interface or address whose route wins): what they receive from this node comes from `source`.
public struct SourceChoice: Codable, Sendable, Equatable, Hashable {
    /// The source address the kernel picks.
    public var source: IPAddress
    /// The interface holding it; nil when none does (it came from a route's `src` naming an address of no interface).
    public var device: String?
    /// The peers' addresses, in the order the hello named them.
    public var peers: [IPAddress]

    public init(source: IPAddress, device: String? = nil, peers: [IPAddress]) {
        self.source = source
        self.device = device
        self.peers = peers
    }
}

/// Whether the kernel can run Docker's encrypted overlay: ESP in transport mode (`esp4`), the xfrm netlink
/// interface dockerd programs its states and policies through (`xfrm_user`), AES-GCM as IPsec uses it
/// (`rfc4106(gcm(aes))`, from the `gcm` template), and the iptables `u32` match Docker (20.10.24, 23.0.3 and
/// later) marks the VXLAN packets to encrypt with. nil: could not be told.
public struct IPsecSupport: Codable, Sendable, Equatable, Hashable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// In the running kernel now.
        case loaded
        /// Compiled into the kernel.
        case builtin
        /// A module on disk, loaded on first use (dockerd runs modprobe).
        case module
        /// None of these: the kernel cannot do it until a package or another kernel provides it.
        case missing

        public var available: Bool { self != .missing }
    }

    public var esp4: State?
    public var xfrmUser: State?
    public var aesGCM: State?
    public var xtU32: State?

    public init(esp4: State? = nil, xfrmUser: State? = nil, aesGCM: State? = nil, xtU32: State? = nil) {
        self.esp4 = esp4
        self.xfrmUser = xfrmUser
        self.aesGCM = aesGCM
        self.xtU32 = xtU32
    }

    enum CodingKeys: String, CodingKey {
        case esp4, xfrmUser = "xfrm_user", aesGCM = "aes_gcm", xtU32 = "xt_u32"
    }

    /// Each part by its results key, in order.
    public var parts: [(key: String, state: State?)] {
        [("esp4", esp4), ("xfrm_user", xfrmUser), ("aes_gcm", aesGCM), ("xt_u32", xtU32)]
    }

    /// The parts known to be missing.
    public var missing: [String] { parts.filter { $0.state == .missing }.map(\.key) }
}
