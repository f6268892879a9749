/// Path MTU on the data path: the largest VXLAN packet (bytes of the outer IP packet, Don't Fragment set)
/// that gets from one node to another, measured with a ladder of sized probes sent at once, and what the
/// overlay needs: Docker gives containers the overlay driver's MTU option minus VXLAN's 50 bytes (and minus
/// ESP's expansion when encrypted), so a network at the default 1500 puts 1450 in containers and needs paths
/// that carry 1500-byte packets.
public enum PathMTU {
    /// The smallest rung: IPv6's minimum MTU, below which no underlay worth checking goes.
    public static let floor = 1280
    /// VXLAN's overhead over the container's packet: inner Ethernet 14, VXLAN 8, outer UDP 8, outer IPv4 20.
    public static let vxlanOverhead = 50
    /// What an encrypted overlay adds (libnetwork's `pktExpansion`: SPI, sequence, IV, pad length, next
    /// header, ICV); Docker takes it and its 4-byte alignment off the containers' MTU.
    public static let espOverhead = 26
    /// The overlay MTU containers get when nothing else is set (Docker's 1500 option minus 50).
    public static let defaultOverlayMTU = 1450

    /// Underlay packet size an overlay whose containers have `overlayMTU` needs.
    public static func needed(overlayMTU: Int, encrypted: Bool) -> Int {
        overlayMTU + vxlanOverhead + (encrypted ? espOverhead : 0)
    }

    /// The containers' MTU Docker derives from the overlay driver's MTU option (`com.docker.network.driver.mtu`,
    /// 1500 when unset), as libnetwork's `maxMTU` does.
    public static func overlayMTU(driverOption: Int, encrypted: Bool) -> Int {
        var mtu = driverOption - vxlanOverhead
        if encrypted {
            mtu -= espOverhead
            mtu -= mtu % 4
        }
        return mtu
    }

    /// The sizes probed on a path whose sender's interface carries `interfaceMTU`, against an overlay that needs
    /// `needed`: that size, seven below it down to 1280 (closest where tunnels, VPNs and cloud edges cut: 10, 20,
    /// 40, 60, 100, 150 bytes under), and the interface's own MTU when it is larger (a jumbo path); none above the
    /// interface (the kernel would refuse it). Without a need, Docker's default 1500.
    public static func ladder(interfaceMTU: Int, needed: Int?) -> [Int] {
        let top = needed ?? 1500
        var sizes: Set<Int> = [floor, top, min(interfaceMTU, largestProbe)]
        for below in [10, 20, 40, 60, 100, 150] { sizes.insert(top - below) }
        return sizes.filter { $0 >= floor && $0 <= interfaceMTU && $0 <= largestProbe }.sorted()
    }

    /// The largest packet probed: AWS's jumbo MTU inside a VPC.
    public static let largestProbe = 9001

    /// Bytes of IP, UDP and VXLAN headers around a data-path probe to `target` (the padding makes up the rest).
    public static func headers(toward target: IPAddress) -> Int {
        (target.isIPv4 ? 20 : 40) + 8 + 8
    }
}

/// How one rung of the ladder ended at its sender.
public enum MTURungOutcome: String, Sendable, Equatable, CaseIterable {
    /// The target's agent echoed it.
    case answered
    /// A router on the way sent back "fragmentation needed" (the socket reported EMSGSIZE).
    case fragNeeded = "frag-needed"
    /// Nothing came back (on a live swarm's kernel-held port nothing ever does: the target's taps decide).
    case silent
    /// The sender could not send it.
    case sendFailed = "send-failed"
}

/// One sized probe of the ladder.
public struct MTURung: Sendable, Equatable {
    /// Bytes of the outer IP packet.
    public var size: Int
    /// Hex nonce, so the target's receive log and taps can confirm arrival.
    public var nonce: String
    public var outcome: MTURungOutcome

    public init(size: Int, nonce: String, outcome: MTURungOutcome) {
        self.size = size
        self.nonce = nonce
        self.outcome = outcome
    }
}

/// What the sender saw of its ladder to one target.
public struct MTULadder: Sendable, Equatable {
    public var rungs: [MTURung]
    /// The path MTU the kernel learned from a "fragmentation needed" (`IP_MTU` after EMSGSIZE), when one came.
    public var reportedMTU: Int?

    public init(rungs: [MTURung], reportedMTU: Int? = nil) {
        self.rungs = rungs
        self.reportedMTU = reportedMTU
    }

    /// The verdict on the path: the largest rung that arrived (answered, or seen by the target by `arrived`
    /// on its nonce), and why the next one did not.
    public func measure(needed: Int?, arrived: (String) -> Bool) -> PathMTUResult? {
        PathMTU.measure(rungs.map { ($0.size, $0.outcome, arrived($0.nonce)) }, reportedMTU: reportedMTU, needed: needed)
    }
}

extension PathMTU {
    /// The largest rung that arrived (answered at the sender, or `seen` by the target), and how the next one
    /// died: a "fragmentation needed" (a rung's or the kernel's), else a black hole; nil when none arrived.
    /// A router's MTU between what arrived and what did not is exact.
    public static func measure(
        _ rungs: [(size: Int, outcome: MTURungOutcome, seen: Bool)], reportedMTU: Int?, needed: Int?
    ) -> PathMTUResult? {
        let reached = rungs.filter { $0.outcome == .answered || $0.seen }
        guard let largest = reached.map(\.size).max() else { return nil }
        let failed = rungs.filter { $0.size > largest && !($0.outcome == .answered || $0.seen) }.sorted { $0.size < $1.size }
        var limit: PathMTULimit?
        if !failed.isEmpty && failed.contains(where: { $0.outcome != .sendFailed }) {
            limit = failed.contains { $0.outcome == .fragNeeded } || reportedMTU != nil ? .fragNeeded : .blackHole
        }
        var bytes = largest
        if let r = reportedMTU, r > largest, r < (failed.first?.size ?? Int.max) { bytes = r }
        return PathMTUResult(bytes: bytes, limit: limit, below: failed.first?.size, needed: needed)
    }
}

/// Why packets above the path MTU do not arrive.
public enum PathMTULimit: String, Codable, Sendable, Equatable {
    /// A router says so ("fragmentation needed"): TCP adapts, VXLAN with DF does not.
    case fragNeeded = "frag-needed"
    /// They vanish without a word: every large transfer hangs.
    case blackHole = "black-hole"
}

/// The path MTU of one data-path check, as the results publish it (`path_mtu`, `path_mtu_limit`,
/// `path_mtu_needed` on the check).
public struct PathMTUResult: Sendable, Equatable, Hashable {
    /// Largest IP packet known to arrive (a rung's size, or the MTU a frag-needed named).
    public var bytes: Int
    /// nil: every rung up to the sender's interface MTU arrived.
    public var limit: PathMTULimit?
    /// The smallest rung that did not arrive.
    public var below: Int?
    /// What the overlay needs; nil when the check was not told.
    public var needed: Int?

    public init(bytes: Int, limit: PathMTULimit?, below: Int?, needed: Int?) {
        self.bytes = bytes
        self.limit = limit
        self.below = below
        self.needed = needed
    }

    /// The path cannot carry the overlay's full-size packets.
    public var tooSmall: Bool { needed.map { bytes < $0 } ?? false }
}

extension MTURungOutcome: Codable {}

extension MTURung: Codable {}

extension MTULadder: Codable {
    enum CodingKeys: String, CodingKey { case rungs, reportedMTU = "reported_mtu" }
}

/// On the control wire and in the results' sender evidence: `{"reported_mtu": N, "rungs": [{size, nonce, outcome}]}`.
extension MTULadder: WireMessage {
    public func write(to w: inout JSONLine) {
        w.raw("{\"rungs\":[")
        for (i, r) in rungs.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"size\":"); w.int(r.size)
            w.raw(",\"nonce\":"); w.string(r.nonce)
            w.raw(",\"outcome\":"); w.string(r.outcome.rawValue)
            w.raw("}")
        }
        w.raw("]")
        if let m = reportedMTU { w.raw(",\"reported_mtu\":"); w.int(m) }
        w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var rungs: [MTURung]?, reported: Int?
        try r.fields { key throws(WireError) in
            switch key {
            case "rungs": rungs = try r.list { () throws(WireError) in try MTURung(reading: r) }
            case "reported_mtu": reported = try r.optionalInt()
            default: return false
            }
            return true
        }
        self.init(rungs: try r.required(rungs, "rungs"), reportedMTU: reported)
    }
}

extension MTURung {
    init(reading r: WireReader) throws(WireError) {
        var size: Int?, nonce: String?, outcome: MTURungOutcome?
        try r.fields { key throws(WireError) in
            switch key {
            case "size": size = try r.int(in: 0...PathMTU.largestProbe)
            case "nonce": nonce = try r.string()
            // An outcome a newer agent knows and this build does not: no claim about that rung.
            case "outcome": outcome = MTURungOutcome(rawValue: try r.string()) ?? .sendFailed
            default: return false
            }
            return true
        }
        self.init(size: try r.required(size, "size"), nonce: try r.required(nonce, "nonce"), outcome: try r.required(outcome, "outcome"))
    }
}
