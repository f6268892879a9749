import SwarmProbeCore

/// How reports of many nodes group them: by the inventory's `group:` when nodes have one, else by
/// /24 (IPv4) or /64 (IPv6) subnet when that makes more than one group, else by role.
public struct NodeGroups: Sendable, Equatable {
    public enum Basis: String, Sendable { case group, subnet, role }
    public let basis: Basis
    /// Group names in order of first appearance.
    public let names: [String]
    /// Node indexes (into the node list) of each group, in node order.
    public let members: [[Int]]
    /// The group of each node.
    public let groupOf: [Int]

    public init(nodes: [NodeResult]) {
        let keys: [String]
        if nodes.contains(where: { $0.group != nil }) {
            basis = .group
            keys = nodes.map { $0.group ?? "ungrouped" }
        } else {
            let subnets = nodes.map { NodeGroups.subnet($0.address) }
            if Set(subnets).count > 1 {
                basis = .subnet
                keys = subnets
            } else {
                basis = .role
                keys = nodes.map(\.role.rawValue)
            }
        }
        var names: [String] = [], index: [String: Int] = [:], members: [[Int]] = [], groupOf: [Int] = []
        for (i, k) in keys.enumerated() {
            let g: Int
            if let found = index[k] {
                g = found
            } else {
                g = names.count
                index[k] = g
                names.append(k)
                members.append([])
            }
            members[g].append(i)
            groupOf.append(g)
        }
        self.names = names
        self.members = members
        self.groupOf = groupOf
    }

    public var count: Int { names.count }

    /// `group az-a`, `subnet 10.0.1.0/24`, `role worker`.
    public func label(_ g: Int) -> String { "\(basis.rawValue) \(names[g])" }

    static func subnet(_ a: IPAddress) -> String {
        switch a {
        case let .v4(x, y, z, _): return "\(x).\(y).\(z).0/24"
        case let .v6(g): return IPAddress.v6(Array(g.prefix(4)) + [0, 0, 0, 0]).description + "/64"
        }
    }
}

/// A set of node indexes.
struct NodeSet: Sendable, Equatable {
    private(set) var words: [UInt64]
    private(set) var count = 0

    init(capacity: Int) { words = Array(repeating: 0, count: (capacity + 63) / 64) }

    mutating func insert(_ i: Int) {
        let w = i >> 6, bit = UInt64(1) << UInt64(i & 63)
        while w >= words.count { words.append(0) }
        if words[w] & bit == 0 {
            words[w] |= bit
            count += 1
        }
    }

    var members: [Int] {
        var out: [Int] = []
        for (w, word) in words.enumerated() where word != 0 {
            for b in 0..<64 where word & (UInt64(1) << UInt64(b)) != 0 { out.append(w * 64 + b) }
        }
        return out
    }
}
