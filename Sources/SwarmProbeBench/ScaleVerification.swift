import SwarmProbeCore

/// Every verdict against the fault it was generated from.
struct ScaleVerification {
    let cluster: SyntheticCluster
    let kindNames: [String]
    var right = 0, wrong = 0
    var byWhere: [Where: Int] = [:]
    var examples: [String] = []

    init(cluster: SyntheticCluster) {
        self.cluster = cluster
        kindNames = cluster.kinds.map(\.name)
    }

    mutating func check(_ c: CheckResult) {
        if let w = c.location { byWhere[w, default: 0] += 1 }
        guard let i = SyntheticCluster.index(c.from), let j = SyntheticCluster.index(c.to), let k = kindNames.firstIndex(of: c.kind) else {
            wrong += 1
            return
        }
        let fate = cluster.fate(from: i, to: j, kind: k)
        let (v, w) = fate.expected
        if c.verdict == v && c.location == w {
            right += 1
        } else {
            wrong += 1
            if examples.count < 5 {
                examples.append(
                    "\(c.from) -> \(c.to) \(c.kind): \(c.verdict.rawValue)/\(c.location?.rawValue ?? "-"), expected \(v.rawValue)/\(w?.rawValue ?? "-") (\(fate)): \(c.detail)"
                )
            }
        }
    }
}
