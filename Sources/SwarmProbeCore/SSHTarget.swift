/// Where `check --ssh` logs in to a node: the inventory's `ssh: [user@]host[:port]`. Without a user or a
/// port, the user's own SSH configuration decides them.
public struct SSHTarget: Codable, Sendable, Hashable, CustomStringConvertible {
    public var user: String?
    /// A name or an address (IPv6 without brackets).
    public var host: String
    public var port: Int?

    public init(user: String? = nil, host: String, port: Int? = nil) {
        self.user = user
        self.host = host
        self.port = port
    }

    /// `[user@]host[:port]`, with `[v6]:port` for an IPv6 address and a port; nil when it is not one.
    public static func parse(_ text: String) -> SSHTarget? {
        var rest = Substring(text)
        var user: String?
        if let at = rest.lastIndex(of: "@") {
            user = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
            guard let u = user, !u.isEmpty, u.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else { return nil }
        }
        var host = String(rest)
        var port: Int?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let tail = rest[rest.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":"), let p = Int(tail.dropFirst()) else { return nil }
                port = p
            }
            guard IPAddress(host) != nil else { return nil }
        } else if rest.filter({ $0 == ":" }).count == 1 {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            host = String(parts[0])
            guard let p = Int(parts[1]) else { return nil }
            port = p
        } else if rest.contains(":") {
            guard IPAddress(host) != nil else { return nil }  // a bare IPv6 address
        }
        if let port, !(1...65535).contains(port) { return nil }
        // A host name or an address; never anything ssh would read as an option or a second argument.
        guard !host.isEmpty, !host.hasPrefix("-"),
            host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) })
        else { return nil }
        return SSHTarget(user: user, host: host, port: port)
    }

    /// `user@host` as ssh takes it (the port goes in `-p`).
    public var destination: String { user.map { "\($0)@\(host)" } ?? host }

    public var description: String {
        let h = host.contains(":") && port != nil ? "[\(host)]" : host
        return (user.map { "\($0)@" } ?? "") + h + (port.map { ":\($0)" } ?? "")
    }
}
