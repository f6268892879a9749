import SwarmProbeCore

/// Data paths that cannot carry the overlay's full-size packets (`CheckResult.pathMTU`): small requests work,
/// large ones hang. One finding per sender and measured size, naming the nodes it cannot reach in full, the
/// size, how the larger packets die, and both fixes. It breaks the swarm, like a blocked required path.
public enum PathMTUFindings {
    public static let code = "path-mtu-below-overlay"

    /// In the checks' order; none when every measured path carries what its overlay needs.
    public static func findings(_ checks: some Sequence<CheckResult>) -> [NodeFinding] {
        var order: [Key] = []
        var peers: [Key: [String]] = [:]
        for c in checks {
            guard let m = c.pathMTU, m.tooSmall else { continue }
            let key = Key(
                from: c.from, result: PathMTUResult(bytes: m.bytes, limit: m.limit, below: nil, needed: m.needed), port: c.kindID.description)
            if peers[key] == nil { order.append(key) }
            peers[key, default: []].append(c.to)
        }
        return order.map { key in
            finding(from: key.from, to: peers[key]!, result: key.result, port: key.port)
        }
    }

    private struct Key: Hashable {
        var from: String
        var result: PathMTUResult
        var port: String
    }

    static func finding(from: String, to: [String], result m: PathMTUResult, port: String) -> NodeFinding {
        let needed = m.needed ?? m.bytes
        let how: String
        switch m.limit {
        case .blackHole?: how = "larger ones vanish without a word (a black hole: no \"fragmentation needed\" comes back)"
        case .fragNeeded?: how = "a router on the way answers larger ones with \"fragmentation needed\""
        case nil: how = "larger ones could not be sent"
        }
        let detail =
            "\(from) -> \(to.joined(separator: ", ")): the data path (\(port)) carries IP packets of at most \(m.bytes) bytes and "
            + "\(how); the overlay needs \(needed) (its containers' MTU plus VXLAN's \(PathMTU.vxlanOverhead) bytes, and ESP's when encrypted), so small "
            + "requests work and large transfers hang"
        let fix =
            "raise the MTU of the path between \(from) and \(to.count == 1 ? to[0] : "those nodes") to \(needed) bytes (VPN, tunnel, "
            + "peering or cloud edge), or create the overlay networks to fit it: `docker network create -d overlay "
            + "-o com.docker.network.driver.mtu=\(m.bytes) NAME` (Docker gives containers \(m.bytes - PathMTU.vxlanOverhead), less when encrypted), "
            + "ingress included (`docker network rm ingress`, then `docker network create --ingress -d overlay "
            + "-o com.docker.network.driver.mtu=\(m.bytes) ingress`)"
        return NodeFinding(node: from, code: code, detail: detail, fix: fix, required: true, peers: to)
    }
}
