import Foundation
import NIOCore
import SwarmProbeCore

/// The source address this host's kernel picks toward a destination: a UDP socket connected there (which
/// sends nothing) and asked for its own address.
public enum SourceAddress {
    /// Whether this host can bind `address`: the kernel's local table holds it (an interface's address, or any of
    /// 127.0.0.0/8). False only for EADDRNOTAVAIL; another failure says nothing against it.
    public static func isLocal(_ address: IPAddress) -> Bool {
        guard let local = try? address.socketAddress(port: 0) else { return false }
        let fd = socket(address.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        let bound = local.withSockAddr { a, length in bind(fd, a, socklen_t(length)) }
        return bound == 0 || errno != EADDRNOTAVAIL
    }

    public static func toward(_ destination: IPAddress) -> IPAddress? {
        connected(toward: destination) { fd in name(fd) }
    }

    /// `body` on a UDP socket connected toward `destination` (a route lookup; nothing is sent), closed after;
    /// nil when the socket cannot be made or connected. `RouteMTU` asks the same socket for the route's MTU.
    static func connected<T>(toward destination: IPAddress, _ body: (CInt) -> T?) -> T? {
        guard let remote = try? destination.socketAddress(port: 9) else { return nil }
        let fd = socket(destination.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard remote.withSockAddr({ address, length in connect(fd, address, socklen_t(length)) }) == 0 else { return nil }
        return body(fd)
    }

    /// The socket's own address.
    private static func name(_ fd: CInt) -> IPAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let got = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        guard got == 0 else { return nil }
        let text = host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return IPAddress(String(decoding: text, as: UTF8.self))
    }
}
