import SwarmProbeCore

/// A target's capture records, indexed the way checks look them up.
struct CaptureIndex: Sendable {
    /// What the taps saw of one probe (by nonce) or one TCP attempt (by sender, port and kind), in one
    /// table each, so a check costs one lookup per probe rather than one per tap and direction.
    static let inboundInterface: UInt8 = 1, inboundNflog: UInt8 = 2, outbound: UInt8 = 4
    var nonces: KeyTable<UInt8>
    var tcp: KeyTable<UInt8>

    static func bit(_ tap: TapState.Tap) -> UInt8 { tap == .interface ? inboundInterface : inboundNflog }

    init(_ records: [CaptureRecord]) {
        var n: [UInt64: UInt8] = [:], t: [UInt64: UInt8] = [:]
        for r in records {
            switch (r.direction, r.nonce, r.peerPort) {
            case (.inbound, let nonce?, _):
                n[LookupKey.nonce(nonce), default: 0] |= CaptureIndex.bit(r.tap)
            case (.outbound, let nonce?, _):
                n[LookupKey.nonce(nonce), default: 0] |= CaptureIndex.outbound
            case (.inbound, nil, let port?) where r.tcp == "syn":
                t[LookupKey.tcp(r.peer, port, r.kind), default: 0] |= CaptureIndex.bit(r.tap)
            case (.outbound, nil, let port?) where r.tcp == "syn-ack":
                t[LookupKey.tcp(r.peer, port, r.kind), default: 0] |= CaptureIndex.outbound
            default:
                break
            }
        }
        nonces = KeyTable(n.lazy.map { ($0.key, $0.value) }, empty: 0)
        tcp = KeyTable(t.lazy.map { ($0.key, $0.value) }, empty: 0)
    }

    /// What the taps that were active saw of one check's probes; nil fields for inactive taps.
    /// `nonceKeys` and `sourcePorts` are the sender's (`LookupKey.nonce` of each nonce).
    /// `lossy`: the taps lost packets during the run, so not seeing a probe proves nothing (that field is nil).
    func evidence(
        nonceKeys: [UInt64], sourcePorts: ArraySlice<Int32>, from: IPAddress, kind: KindID,
        interface: Bool, nflog: Bool, lossy: Bool = false
    ) -> CaptureEvidence? {
        guard interface || nflog else { return nil }
        var seen: UInt8 = 0
        if kind.proto == .tcp {
            for p in sourcePorts { seen |= tcp[LookupKey.tcp(from, Int(p), kind)] ?? 0 }
        } else {
            for k in nonceKeys { seen |= nonces[k] ?? 0 }
        }
        func flag(_ active: Bool, _ bit: UInt8) -> Bool? {
            guard active else { return nil }
            if seen & bit != 0 { return true }
            return lossy ? nil : false
        }
        return CaptureEvidence(
            seenAtInterface: flag(interface, CaptureIndex.inboundInterface),
            seenPastFirewall: flag(nflog, CaptureIndex.inboundNflog),
            answerSeenLeaving: flag(interface, CaptureIndex.outbound))
    }
}
