import CPcap

/// A capture that could not be opened, filtered or read, in one line naming the device:
/// `capture on nflog:7: NFULNL_CFG_CMD_PF_UNBIND: Operation not permitted`.
public struct CaptureError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Not root and no CAP_NET_RAW (interfaces) or CAP_NET_ADMIN (`nflog:N`).
        public static let permissionDenied = Code("permission-denied")
        public static let noSuchDevice = Code("no-such-device")
        public static let interfaceDown = Code("interface-down")
        /// Any other failure to open or activate the device.
        public static let open = Code("open")
        /// The filter did not compile for this device's link type, or could not be installed.
        public static let filter = Code("filter")
        /// Reading packets failed (live: the capture thread stopped; offline: a damaged file).
        public static let read = Code("read")
        /// The session was used out of order (started twice, started after stop).
        public static let state = Code("state")
    }

    public var code: Code
    /// The device (`eth0`, `any`, `nflog:7`) or, for an offline capture, the file path.
    public var device: String
    /// libpcap's own words where it gave any.
    public var message: String
    /// A `.pcap` file rather than a live device.
    public var isOffline: Bool

    public init(_ code: Code, device: String, message: String, isOffline: Bool = false) {
        self.code = code
        self.device = device
        self.message = message
        self.isOffline = isOffline
    }

    /// The caller lacks the privilege to capture here; running as root (or granting
    /// CAP_NET_RAW / CAP_NET_ADMIN) would help, unlike with every other code.
    public var isPermissionDenied: Bool { code == .permissionDenied }

    public var description: String {
        isOffline ? "reading \(device): \(message)" : "capture on \(device): \(message)"
    }

    /// The code for a `pcap_activate` status. libpcap reports "no privilege" on an nflog device as a
    /// plain PCAP_ERROR ("NFULNL_CFG_CMD_PF_UNBIND: Operation not permitted"), so the text decides then.
    static func code(activateStatus status: Int32, message: String) -> Code {
        switch status {
        case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED: return .permissionDenied
        case PCAP_ERROR_NO_SUCH_DEVICE: return .noSuchDevice
        case PCAP_ERROR_IFACE_NOT_UP: return .interfaceDown
        default:
            if message.contains("Operation not permitted") || message.contains("Permission denied") {
                return .permissionDenied
            }
            return .open
        }
    }
}
