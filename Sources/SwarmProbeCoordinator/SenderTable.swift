import SwarmProbeCore

/// One probe report in 24 bytes: nonces, ports and detail text live in the table's pools.
struct SentRow: Sendable {
    var outcome: UInt8
    var attempts: UInt8
    var nonceCount: UInt8
    /// Bit 0: the nonces are not 16-byte hex and sit as text in `odd`. Bit 1: the send was refused by the
    /// sender's own firewall (`EgressBlock.sendRefused`).
    var flags: UInt8
    var portCount: UInt16
    var rttMicros: Int32  // -1: none
    var detail: Int32  // -1: none; else an index into `details`
    var nonceStart: Int32
    var portStart: Int32
}

/// Everything one sender reported, sorted by (target, kind).
struct SenderTable: Sendable {
    static let outcomes = ProbeOutcome.allCases

    var index = SortedIndex<SentRow>()
    var nonces: [Nonce] = []
    var odd: [String] = []
    var ports: [Int32] = []
    var details: [String] = []
    /// Path MTU ladders (one per data-path row that answered), by row key.
    var ladders = LadderTable()

    static func key(target: UInt32, kind: UInt32) -> UInt64 { UInt64(target) << 16 | UInt64(kind) }

    init(_ map: [ProbeKey: SenderEvidence], addresses: inout AddressTable, kinds: inout [KindID]) {
        var detailIDs: [String: Int32] = [:]
        var pairs: [(UInt64, SentRow)] = []
        pairs.reserveCapacity(map.count)
        for (key, e) in map {
            var kindID = kinds.firstIndex(of: key.kind)
            if kindID == nil {
                kinds.append(key.kind)
                kindID = kinds.count - 1
            }
            let parsed = e.nonces.compactMap(Nonce.init(hex:))
            let isOdd = parsed.count != e.nonces.count
            let nonceStart: Int
            if isOdd {
                nonceStart = odd.count
                odd += e.nonces
            } else {
                nonceStart = nonces.count
                nonces += parsed
            }
            let portStart = ports.count
            ports += e.sourcePorts.map { Int32(clamping: $0) }
            var detail: Int32 = -1
            if let d = e.detail {
                if let id = detailIDs[d] {
                    detail = id
                } else {
                    detail = Int32(details.count)
                    detailIDs[d] = detail
                    details.append(d)
                }
            }
            let row = SentRow(
                outcome: UInt8(SenderTable.outcomes.firstIndex(of: e.outcome)!),
                attempts: UInt8(clamping: e.attempts), nonceCount: UInt8(clamping: e.nonces.count),
                flags: (isOdd ? 1 : 0) | (e.egressBlocked == .sendRefused ? 2 : 0), portCount: UInt16(clamping: e.sourcePorts.count),
                rttMicros: e.rttMicros.map { Int32(clamping: $0) } ?? -1, detail: detail,
                nonceStart: Int32(nonceStart), portStart: Int32(portStart))
            let rowKey = SenderTable.key(target: addresses.id(key.target), kind: UInt32(kindID!))
            pairs.append((rowKey, row))
            if let mtu = e.mtu { ladders.add(rowKey, mtu) }
        }
        index = SortedIndex(pairs)
        // A nonce list longer than 255 is not something an agent sends; the row keeps the first 255.
    }

    func row(target: UInt32, kind: UInt32) -> SentRow? { index[SenderTable.key(target: target, kind: kind)] }

    func ladder(target: UInt32, kind: UInt32) -> MTULadder? { ladders.isEmpty ? nil : ladders.ladder(SenderTable.key(target: target, kind: kind)) }

    func pathMTU(target: UInt32, kind: UInt32, needed: Int?, seen: (UInt64) -> Bool) -> PathMTUResult? {
        ladders.isEmpty ? nil : ladders.measure(SenderTable.key(target: target, kind: kind), needed: needed, seen: seen)
    }

    func nonceTexts(_ r: SentRow) -> [String] {
        let start = Int(r.nonceStart), n = Int(r.nonceCount)
        if r.flags & 1 != 0 { return Array(odd[start..<start + n]) }
        return nonces[start..<start + n].map(\.hex)
    }

    /// The receive-log / capture lookup key of each nonce.
    func nonceKeys(_ r: SentRow) -> [UInt64] {
        let start = Int(r.nonceStart), n = Int(r.nonceCount)
        if r.flags & 1 != 0 { return odd[start..<start + n].map(LookupKey.nonce) }
        return nonces[start..<start + n].map(\.hi)
    }

    func sourcePorts(_ r: SentRow) -> ArraySlice<Int32> {
        ports[Int(r.portStart)..<Int(r.portStart) + Int(r.portCount)]
    }

    func evidence(_ r: SentRow, nonces: Bool = true) -> SenderEvidence {
        SenderEvidence(
            outcome: SenderTable.outcomes[Int(r.outcome)], attempts: Int(r.attempts),
            rttMicros: r.rttMicros >= 0 ? Int(r.rttMicros) : nil,
            detail: r.detail >= 0 ? details[Int(r.detail)] : nil,
            nonces: nonces ? nonceTexts(r) : [], sourcePorts: sourcePorts(r).map { Int($0) },
            egressBlocked: r.flags & 2 != 0 ? .sendRefused : nil)
    }
}

/// Every sender's table, with the addresses and kinds they share.
struct SentStore: Sendable {
    var addresses = AddressTable()
    var kinds: [KindID] = []
    var tables: [String: SenderTable] = [:]

    /// Assigning converts the reports to the compact table (what `phases()` does with each run answer);
    /// reading gives them back as they came.
    subscript(name: String) -> [ProbeKey: SenderEvidence]? {
        get {
            guard let t = tables[name] else { return nil }
            var out: [ProbeKey: SenderEvidence] = [:]
            for (i, key) in t.index.keys.enumerated() {
                let k = ProbeKey(target: addresses.list[Int(key >> 16)], kind: kinds[Int(key & 0xffff)])
                out[k] = t.evidence(t.index.values[i])
                out[k]?.mtu = t.ladders.ladder(key)
            }
            return out
        }
        set {
            tables[name] = newValue.map { SenderTable($0, addresses: &addresses, kinds: &kinds) }
        }
    }
}
