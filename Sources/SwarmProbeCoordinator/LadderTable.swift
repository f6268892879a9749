import SwarmProbeCore

/// The path MTU ladders one sender reported, packed like its probe reports (`SenderTable`): a few hundred bytes
/// per data path rather than a ladder of strings, since a thousand-node check has a million of them.
struct LadderTable: Sendable {
    struct Rung: Sendable {
        var size: UInt16
        var outcome: UInt8
        /// Zero when the agent's nonce was not 32 hex digits: it then matches nothing.
        var nonce: Nonce
    }

    struct Entry: Sendable {
        var start: Int32
        var count: UInt8
        /// 0: none.
        var reportedMTU: UInt16
    }

    static let outcomes = MTURungOutcome.allCases
    private var rungs: [Rung] = []
    private var entries: [UInt64: Entry] = [:]

    var isEmpty: Bool { entries.isEmpty }

    mutating func add(_ key: UInt64, _ ladder: MTULadder) {
        let kept = ladder.rungs.prefix(Int(UInt8.max))
        entries[key] = Entry(
            start: Int32(rungs.count), count: UInt8(kept.count), reportedMTU: UInt16(clamping: ladder.reportedMTU ?? 0))
        for r in kept {
            rungs.append(
                Rung(
                    size: UInt16(clamping: r.size), outcome: UInt8(LadderTable.outcomes.firstIndex(of: r.outcome)!),
                    nonce: Nonce(hex: r.nonce) ?? Nonce(hi: 0, lo: 0)))
        }
    }

    private func slice(_ e: Entry) -> ArraySlice<Rung> { rungs[Int(e.start)..<Int(e.start) + Int(e.count)] }

    /// The ladder as the agent reported it (for the evidence).
    func ladder(_ key: UInt64) -> MTULadder? {
        guard let e = entries[key] else { return nil }
        return MTULadder(
            rungs: slice(e).map { MTURung(size: Int($0.size), nonce: $0.nonce.hex, outcome: LadderTable.outcomes[Int($0.outcome)]) },
            reportedMTU: e.reportedMTU == 0 ? nil : Int(e.reportedMTU))
    }

    /// The path MTU of one path; `seen` tells by a nonce's lookup key whether the target logged or captured it.
    func measure(_ key: UInt64, needed: Int?, seen: (UInt64) -> Bool) -> PathMTUResult? {
        guard let e = entries[key] else { return nil }
        return PathMTU.measure(
            slice(e).map { (Int($0.size), LadderTable.outcomes[Int($0.outcome)], $0.nonce.hi != 0 && seen($0.nonce.hi)) },
            reportedMTU: e.reportedMTU == 0 ? nil : Int(e.reportedMTU), needed: needed)
    }
}
