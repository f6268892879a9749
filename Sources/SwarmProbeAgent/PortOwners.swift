import Foundation
import SwarmProbeCore

/// Who holds a port on this host, read from /proc/net without touching the port: on a live swarm
/// node the kernel creates its VXLAN socket only when an overlay sandbox appears, so whether a port
/// is held is asked afresh each time, never by trying to bind it (that could make the kernel's bind fail).
enum PortOwners {
    /// Is some socket bound to this TCP (listening) or UDP port, on any address?
    static func isHeld(_ kind: KindID, root: String = "/proc/net") -> Bool {
        guard let port = kind.port else { return false }
        let files: [String]
        switch kind.proto {
        case .tcp: files = ["tcp", "tcp6"]
        case .udp: files = ["udp", "udp6"]
        case .esp: return false
        }
        for file in files {
            guard let text = try? String(contentsOfFile: "\(root)/\(file)", encoding: .utf8) else { continue }
            if holds(text, port: port, listeningOnly: kind.proto == .tcp) { return true }
        }
        return false
    }

    /// Parses one /proc/net/{tcp,udp}[6] table: `sl local_address rem_address st ...`, addresses as HEX:PORT.
    static func holds(_ table: String, port: Int, listeningOnly: Bool) -> Bool {
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, let colon = fields[1].lastIndex(of: ":"),
                let local = Int(fields[1][fields[1].index(after: colon)...], radix: 16)
            else { continue }
            // TCP state 0A is LISTEN.
            if local == port && (!listeningOnly || fields[3] == "0A") { return true }
        }
        return false
    }
}
