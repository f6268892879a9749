import Foundation
import NIOCore
import SwarmProbeCore

/// The path MTU this host's kernel holds for a destination: a UDP socket connected there (which sends nothing)
/// asked for `IP_MTU`. It is the route's MTU, or less when a router's "fragmentation needed" taught the kernel
/// a smaller one for that destination (kept about ten minutes).
enum RouteMTU {
    static func toward(_ destination: IPAddress) -> Int? {
        SourceAddress.connected(toward: destination) { fd in
            var mtu: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            // IP_MTU (14) and IPV6_MTU (24): not in Glibc's module.
            let v4 = destination.isIPv4
            let got = getsockopt(fd, v4 ? CInt(IPPROTO_IP) : CInt(IPPROTO_IPV6), v4 ? 14 : 24, &mtu, &length)
            return got == 0 && mtu > 0 ? Int(mtu) : nil
        }
    }
}
