import SwarmProbeCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The host's interfaces and their addresses (getifaddrs).
public enum NetworkInterfaces {
    /// Every (interface, address) pair the host holds, IPv4 and IPv6, in getifaddrs order.
    public static func addresses() -> [(device: String, address: IPAddress)] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var out: [(device: String, address: IPAddress)] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr, let name = entry.pointee.ifa_name else { continue }
            let address: IPAddress?
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                address = UnsafeRawPointer(sa).withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    withUnsafeBytes(of: sin.pointee.sin_addr) { b in IPAddress.v4(b[0], b[1], b[2], b[3]) }
                }
            case AF_INET6:
                address = UnsafeRawPointer(sa).withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    withUnsafeBytes(of: sin6.pointee.sin6_addr) { IPAddress(bytes16: [UInt8]($0)) }
                }
            default:
                address = nil
            }
            if let address { out.append((String(cString: name), address)) }
        }
        return out
    }

    /// The interface that holds `address` (the device to capture on for an agent bound to it), or nil.
    public static func device(for address: IPAddress) -> String? {
        addresses().first { $0.address == address }?.device
    }
}
