import SwarmProbeCore

/// The checks of one traffic kind, for one matrix.
struct KindSection {
    var id: KindID
    /// The profile's name for the kind (`overlay-data`).
    var name: String
    var checks: [CheckResult] = []
    /// The first check of each ordered pair, so a matrix of many nodes stays cheap to fill.
    private var byPair: [Pair: CheckResult] = [:]

    private struct Pair: Hashable {
        var from: String
        var to: String
    }

    init(id: KindID, name: String) {
        self.id = id
        self.name = name
    }

    mutating func append(_ c: CheckResult) {
        checks.append(c)
        let pair = Pair(from: c.from, to: c.to)
        if byPair[pair] == nil { byPair[pair] = c }
    }

    func check(from: String, to: String) -> CheckResult? {
        byPair[Pair(from: from, to: to)]
    }
}
