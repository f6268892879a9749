import NIOCore
import SwarmProbeCore

extension IPAddress {
    init?(socketAddress: SocketAddress) {
        guard let ip = socketAddress.ipAddress, let a = IPAddress(ip) else { return nil }
        // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
        if case .v6 = a, let mapped = IPAddress(bytes16: a.bytes16), mapped.isIPv4 {
            self = mapped
        } else {
            self = a
        }
    }

    func socketAddress(port: Int) throws -> SocketAddress {
        try SocketAddress(ipAddress: description, port: port)
    }
}
