import Foundation
import SwarmProbeCore
import SwarmProbeReport

// How the coordinator keeps what the agents reported, and decides every check from it.
//
// At 1,000 nodes a check is about four million (from, to, kind) checks, each with one to eight
// nonces on the sender's side, as many receive-log entries on the target's, and up to three capture
// records per probe. Kept as the agents send it (hex nonce strings, dictionaries keyed by them) that is
// several GiB, so every report is turned into flat, sorted arrays when it arrives: 16-byte nonces,
// interned addresses, 64-bit lookup keys, and one compact row per probe. Checks are then decided one
// at a time (`Merge.forEachResult`) and handed to whoever writes them, never all held at once.

/// What has been gathered so far; everything here survives an interruption.
public struct Gathered: Sendable {
    public var health: [String: AgentHealth] = [:]
    public var hello: [String: HelloResponse] = [:]
    public var clockOffsetMs: [String: Int] = [:]
    /// Hello round trips, microseconds.
    public var controlRTTMicros: [String: Int] = [:]
    /// The longest probe timeout any path got.
    public var longestTimeoutMs: Int?
    /// When each phase ended, ms after the check began.
    public var phaseEndsMs: [Int] = []
    /// target name -> packets its capture taps lost during the run (only when some were)
    public var captureLost: [String: Int] = [:]
    /// sender name -> its probe reports (assign a `[ProbeKey: SenderEvidence]`; kept compact)
    var sent = SentStore()
    /// target name -> its receive log (assign a nonce-keyed dictionary; kept compact)
    var received = ReceivedStore()
    /// target name -> what its capture taps saw
    var captured: [String: CaptureIndex] = [:]
    /// sender name -> (target, kind) -> ms after silence its interface saw the answer to a silent probe arrive
    var missed: [String: [ProbeKey: Int]] = [:]

    public init() {}

    // The same steps `Coordinator.phases()` takes with each answer, for callers that have the answers
    // from elsewhere (the scale benchmark generates them).

    public mutating func recordHello(_ node: Node, _ response: HelloResponse, clockOffsetMs: Int) {
        health[node.name] = .up
        hello[node.name] = response
        self.clockOffsetMs[node.name] = clockOffsetMs
    }

    public mutating func recordHealth(_ node: Node, _ h: AgentHealth) {
        health[node.name] = h
    }

    /// A sender's run results; probes of ESP are kept only when the profile has it enabled, as in `check`.
    public mutating func recordRun(_ node: Node, _ response: RunResponse, kinds: [TrafficKind]) {
        var map: [ProbeKey: SenderEvidence] = [:]
        map.reserveCapacity(response.results.count)
        for r in response.results where r.kind.proto != .esp || kinds.contains(where: { $0.kindID == r.kind }) {
            map[ProbeKey(target: r.target, kind: r.kind)] = r.evidence
        }
        sent[node.name] = map
    }

    public mutating func recordLog(_ node: Node, _ log: LogResponse) {
        received.set(node.name, entries: log.entries)
        captured[node.name] = CaptureIndex(log.capture)
        if !log.missedAnswers.isEmpty {
            var map: [ProbeKey: Int] = [:]
            for m in log.missedAnswers { map[ProbeKey(target: m.peer, kind: m.kind)] = m.afterMs }
            missed[node.name] = map
        } else {
            missed[node.name] = nil
        }
        if log.captureLost > 0 { captureLost[node.name] = log.captureLost }
    }
}

// MARK: - Compact values

/// A probe nonce: 16 random bytes, which the agents write as 32 hex digits.
struct Nonce: Hashable, Sendable {
    var hi: UInt64
    var lo: UInt64

    /// nil unless `text` is exactly 32 hex digits.
    init?(hex text: String) {
        var hi: UInt64 = 0, lo: UInt64 = 0, n = 0
        for c in text.utf8 {
            let v: UInt64
            switch c {
            case 0x30...0x39: v = UInt64(c - 0x30)
            case 0x61...0x66: v = UInt64(c - 0x61 + 10)
            case 0x41...0x46: v = UInt64(c - 0x41 + 10)
            default: return nil
            }
            if n < 16 { hi = hi << 4 | v } else if n < 32 { lo = lo << 4 | v } else { return nil }
            n += 1
        }
        guard n == 32 else { return nil }
        self.hi = hi
        self.lo = lo
    }

    init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    /// Lower-case hex, as the agents wrote it.
    var hex: String {
        String(unsafeUninitializedCapacity: 32) { buf in
            for i in 0..<16 {
                let a = UInt8((hi >> (60 - 4 * UInt64(i))) & 0xf), b = UInt8((lo >> (60 - 4 * UInt64(i))) & 0xf)
                buf[i] = a < 10 ? 0x30 + a : 0x57 + a
                buf[16 + i] = b < 10 ? 0x30 + b : 0x57 + b
            }
            return 32
        }
    }
}

/// The 64-bit key a nonce is found by in one target's receive log and capture records: the first
/// 8 of its 16 random bytes (a false match among one target's few thousand probes has odds of about
/// 1e-15), or a hash of any text that is not a 16-byte hex nonce.
enum LookupKey {
    static func nonce(_ text: String) -> UInt64 {
        if let n = Nonce(hex: text) { return n.hi }
        return fnv(Array(text.utf8))
    }

    /// A TCP segment of a check: the sender's address and source port, and the kind.
    static func tcp(_ peer: IPAddress, _ port: Int, _ kind: KindID) -> UInt64 {
        var h = FNV()
        switch peer {
        case let .v4(a, b, c, d):
            h.add(4); h.add(a); h.add(b); h.add(c); h.add(d)
        case let .v6(groups):
            h.add(6)
            for g in groups { h.add(UInt8(g >> 8)); h.add(UInt8(g & 0xff)) }
        }
        h.add(UInt8(truncatingIfNeeded: port >> 16)); h.add(UInt8(truncatingIfNeeded: port >> 8)); h.add(UInt8(truncatingIfNeeded: port))
        h.add(kind.proto == .tcp ? 1 : kind.proto == .udp ? 2 : 3)
        let kp = kind.port ?? 0
        h.add(UInt8(truncatingIfNeeded: kp >> 8)); h.add(UInt8(truncatingIfNeeded: kp))
        return h.value
    }

    static func fnv(_ bytes: [UInt8]) -> UInt64 {
        var h = FNV()
        for b in bytes { h.add(b) }
        return h.value
    }

    struct FNV {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        mutating func add(_ b: UInt8) {
            value = (value ^ UInt64(b)) &* 0x100_0000_01b3
        }
    }
}

/// Addresses numbered in the order they are first seen.
struct AddressTable: Sendable {
    private(set) var list: [IPAddress] = []
    private var ids: [IPAddress: UInt32] = [:]

    mutating func id(_ a: IPAddress) -> UInt32 {
        if let id = ids[a] { return id }
        let id = UInt32(list.count)
        ids[a] = id
        list.append(a)
        return id
    }

    func lookup(_ a: IPAddress) -> UInt32? { ids[a] }
}

/// Sorted keys with a value each; later duplicates win, as in a dictionary.
struct SortedIndex<Value: Sendable>: Sendable {
    private(set) var keys: [UInt64] = []
    private(set) var values: [Value] = []

    init() {}

    init(_ pairs: [(UInt64, Value)]) {
        // Stable by position among equal keys, so the last one stays.
        let order = pairs.indices.sorted { pairs[$0].0 != pairs[$1].0 ? pairs[$0].0 < pairs[$1].0 : $0 < $1 }
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        for i in order {
            if let last = keys.last, last == pairs[i].0 {
                values[values.count - 1] = pairs[i].1
            } else {
                keys.append(pairs[i].0)
                values.append(pairs[i].1)
            }
        }
    }

    func position(_ key: UInt64) -> Int? {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if keys[mid] < key { lo = mid + 1 } else { hi = mid }
        }
        return lo < keys.count && keys[lo] == key ? lo : nil
    }

    subscript(key: UInt64) -> Value? { position(key).map { values[$0] } }
}

/// An open-addressing hash table of 64-bit keys: a lookup costs one or two cache misses where a binary
/// search over a target's thousands of records costs a dozen, which at 1,000 nodes (every check looks
/// at another target) dominated the merge. Key 0 marks an empty slot (a real key 0 is kept aside);
/// later duplicates win, as in a dictionary. At most 3/4 full.
struct KeyTable<Value: Sendable>: Sendable {
    private var keys: [UInt64]
    private var values: [Value]
    private var zero: Value?
    private let shift: UInt64

    init(_ pairs: some Collection<(UInt64, Value)>, empty: Value) {
        var bits: UInt64 = 3
        while (1 << bits) * 3 < pairs.count * 4 { bits += 1 }
        shift = 64 - bits
        keys = Array(repeating: 0, count: 1 << bits)
        values = Array(repeating: empty, count: 1 << bits)  // no memory for Void (a set)
        for (k, v) in pairs { insert(k, v) }
    }

    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9e37_79b9_7f4a_7c15) >> shift) }

    private mutating func insert(_ key: UInt64, _ value: Value) {
        if key == 0 {
            zero = value
            return
        }
        let mask = keys.count - 1
        var i = home(key)
        while keys[i] != 0 && keys[i] != key { i = (i + 1) & mask }
        keys[i] = key
        values[i] = value
    }

    /// The slot of `key`, or nil.
    private func find(_ key: UInt64) -> Int? {
        let mask = keys.count - 1
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return i }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    subscript(key: UInt64) -> Value? {
        if key == 0 { return zero }
        return find(key).map { values[$0] }
    }

    func contains(_ key: UInt64) -> Bool {
        key == 0 ? zero != nil : find(key) != nil
    }
}

// MARK: - Sender evidence

/// One probe report in 24 bytes: nonces, ports and detail text live in the table's pools.
struct SentRow: Sendable {
    var outcome: UInt8
    var attempts: UInt8
    var nonceCount: UInt8
    /// Bit 0: the nonces are not 16-byte hex and sit as text in `odd`.
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
            let row = SentRow(outcome: UInt8(SenderTable.outcomes.firstIndex(of: e.outcome)!),
                              attempts: UInt8(clamping: e.attempts), nonceCount: UInt8(clamping: e.nonces.count),
                              flags: isOdd ? 1 : 0, portCount: UInt16(clamping: e.sourcePorts.count),
                              rttMicros: e.rttMicros.map { Int32(clamping: $0) } ?? -1, detail: detail,
                              nonceStart: Int32(nonceStart), portStart: Int32(portStart))
            pairs.append((SenderTable.key(target: addresses.id(key.target), kind: UInt32(kindID!)), row))
        }
        index = SortedIndex(pairs)
        // A nonce list longer than 255 is not something an agent sends; the row keeps the first 255.
    }

    func row(target: UInt32, kind: UInt32) -> SentRow? { index[SenderTable.key(target: target, kind: kind)] }

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
        SenderEvidence(outcome: SenderTable.outcomes[Int(r.outcome)], attempts: Int(r.attempts),
                       rttMicros: r.rttMicros >= 0 ? Int(r.rttMicros) : nil,
                       detail: r.detail >= 0 ? details[Int(r.detail)] : nil,
                       nonces: nonces ? nonceTexts(r) : [], sourcePorts: sourcePorts(r).map { Int($0) })
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
            }
            return out
        }
        set {
            tables[name] = newValue.map { SenderTable($0, addresses: &addresses, kinds: &kinds) }
        }
    }
}

// MARK: - Receive logs

/// One target's receive log: nonce key -> (source address id << 1 | answered).
struct ReceiveTable: Sendable {
    var index: KeyTable<UInt32>
}

struct ReceivedStore: Sendable {
    var addresses = AddressTable()
    var tables: [String: ReceiveTable] = [:]

    mutating func set(_ name: String, entries: some Collection<ReceiveLogEntry>) {
        var pairs: [(UInt64, UInt32)] = []
        pairs.reserveCapacity(entries.count)
        for e in entries {
            pairs.append((LookupKey.nonce(e.nonce), addresses.id(e.sourceAddress) << 1 | (e.answered ? 1 : 0)))
        }
        tables[name] = ReceiveTable(index: KeyTable(pairs, empty: 0))
    }

    /// Assigning a nonce-keyed log converts it (what `phases()` does with each log answer). The log is
    /// kept only in the form checks are matched against, so reading says whether there is one: an
    /// empty dictionary for a target that reported, nil for one that did not.
    subscript(name: String) -> [String: ReceiveLogEntry]? {
        get { tables[name] == nil ? nil : [:] }
        set {
            if let newValue { set(name, entries: newValue.values) } else { tables[name] = nil }
        }
    }
}

// MARK: - Capture

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
    func evidence(nonceKeys: [UInt64], sourcePorts: ArraySlice<Int32>, from: IPAddress, kind: KindID,
                  interface: Bool, nflog: Bool, lossy: Bool = false) -> CaptureEvidence? {
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
        return CaptureEvidence(seenAtInterface: flag(interface, CaptureIndex.inboundInterface),
                               seenPastFirewall: flag(nflog, CaptureIndex.inboundNflog),
                               answerSeenLeaving: flag(interface, CaptureIndex.outbound))
    }
}

// MARK: - Deciding

public enum Merge {
    /// Decides every check of the plan from what has been gathered, in plan order, and hands each to
    /// `body` as soon as it is decided; nothing is kept. `check` (through `Coordinator.results`) and the
    /// scale benchmark both decide through here.
    /// `nonces: false` leaves the sender's nonces out of the evidence and open checks without their detail
    /// sentence (a pass that only counts and groups).
    public static func forEachResult(inventory: Inventory, profile: Profile, gathered g: Gathered, complete: Bool,
                                     nonces: Bool = true, _ body: (CheckResult) throws -> Void) rethrows {
        let prepared = Prepared(inventory: inventory, profile: profile, gathered: g, complete: complete, nonces: nonces)
        try prepared.forEach(rows: 0..<prepared.rowCount, body)
    }

    /// The same checks in the same order, decided on `workers` threads: the plan is cut into blocks of
    /// `rowsPerBlock` rows (a row: one kind from one sender to every target), `produce` turns each block's
    /// checks into a `Partial` on a worker (the JSON of those checks, or the checks themselves), and `consume`
    /// gets the partials in plan order on the calling thread, which also decides the next block itself when no
    /// worker has started it (so it never only waits). At most `2 x workers` blocks are done ahead of `consume`,
    /// so memory stays a few blocks whatever the size; no worker outlives the call. Deciding is read-only over
    /// `gathered`. The calling thread blocks: call it from a thread of its own or accept that (`check` calls it
    /// once per pass from its command's task).
    public static func forEachBlock<Partial: Sendable>(
        inventory: Inventory, profile: Profile, gathered g: Gathered, complete: Bool, nonces: Bool = true,
        workers: Int = Merge.defaultWorkers, rowsPerBlock: Int = 4,
        produce: @escaping @Sendable (_ checks: (_ body: (CheckResult) -> Void) -> Void) -> Partial,
        consume: (Partial) throws -> Void
    ) rethrows {
        let prepared = Prepared(inventory: inventory, profile: profile, gathered: g, complete: complete, nonces: nonces)
        let rows = prepared.rowCount, size = max(1, rowsPerBlock)
        let blocks = (rows + size - 1) / size
        let block: @Sendable (Int) -> Partial = { b in
            produce { body in prepared.forEach(rows: (b * size)..<min(rows, (b + 1) * size), body) }
        }
        guard workers > 1, blocks > 1 else {
            for b in 0..<blocks { try consume(block(b)) }
            return
        }
        let queue = OrderedBlocks<Partial>(count: blocks, window: 2 * workers)
        // No worker outlives the call, even when `consume` throws.
        defer {
            queue.cancel()
            queue.waitForWorkers()
        }
        for _ in 0..<min(workers, blocks) {
            queue.workerStarted()
            Thread {
                while let b = queue.claim() { queue.put(b, block(b)) }
                queue.workerExited()
            }.start()
        }
        for b in 0..<blocks {
            // The next block nobody has started yet: decide it here rather than wait.
            if queue.claimIfNext(b) {
                let partial = block(b)
                queue.took(b)
                try consume(partial)
            } else {
                try consume(queue.take(b))
            }
        }
    }

    /// A `produce` for `forEachBlock` that keeps a block's checks as they are (for a reader that groups them).
    @Sendable public static func keepChecks(_ checks: (_ body: (CheckResult) -> Void) -> Void) -> [CheckResult] {
        var list: [CheckResult] = []
        checks { list.append($0) }
        return list
    }

    /// One worker per core, at most 8: each holds up to two blocks of a few MB ahead of the reader.
    public static let defaultWorkers = min(8, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Everything deciding a check looks up, prepared once per pass and shared by the threads that decide.
    struct Prepared: Sendable {
        /// Per node, everything a check looks up, once.
        final class End: Sendable {
            init(health: AgentHealth?, sent: SenderTable?, sentAddress: UInt32?, log: ReceiveTable?, capture: CaptureIndex?,
                 listeners: [ListenerState?], interfaceTap: Bool, nflogTap: Bool, captureLossy: Bool, missed: [ProbeKey: Int]?) {
                self.captureLossy = captureLossy
                self.missed = missed
                self.health = health
                self.sent = sent
                self.sentAddress = sentAddress
                self.log = log
                self.capture = capture
                self.listeners = listeners
                self.interfaceTap = interfaceTap
                self.nflogTap = nflogTap
            }
            let health: AgentHealth?
            let sent: SenderTable?
            let sentAddress: UInt32?
            let log: ReceiveTable?
            let capture: CaptureIndex?
            let listeners: [ListenerState?]
            let interfaceTap: Bool
            let nflogTap: Bool
            let captureLossy: Bool
            /// Answers to this node's own silent probes that its interface saw arrive (`Gathered.missed`).
            let missed: [ProbeKey: Int]?
        }
        let kinds: [TrafficKind]
        let nodes: [Node]
        let ends: [End]
        let kindIDs: [UInt32?]
        let notContacted = AgentHealth(.down, "not contacted (the check was interrupted)")
        let sourceAddresses: [IPAddress]
        let required: [[[Bool]]]
        let roleIndex: [Int]
        let complete: Bool
        let nonces: Bool

        init(inventory: Inventory, profile: Profile, gathered g: Gathered, complete: Bool, nonces: Bool) {
            let kinds = profile.enabledKinds
            self.kinds = kinds
            self.complete = complete
            self.nonces = nonces
            ends = inventory.nodes.map { n in
                let hello = g.hello[n.name]
                let taps = hello?.taps ?? []
                return End(health: g.health[n.name], sent: g.sent.tables[n.name], sentAddress: g.sent.addresses.lookup(n.address),
                           log: g.received.tables[n.name], capture: g.captured[n.name],
                           listeners: kinds.map { k in hello?.listeners.first { $0.kind == k.kindID } },
                           interfaceTap: taps.contains { $0.tap == .interface && $0.active },
                           nflogTap: taps.contains { $0.tap == .nflog && $0.active },
                           captureLossy: g.captureLost[n.name] != nil, missed: g.missed[n.name])
            }
            kindIDs = kinds.map { k in g.sent.kinds.firstIndex(of: k.kindID).map { UInt32($0) } }
            sourceAddresses = g.received.addresses.list
            let nodes = inventory.nodes
            self.nodes = nodes
            required = kinds.map { kind in
                nodes.map { a in Role.allCases.map { kind.isRequired(from: a.role, to: $0) } }
            }
            roleIndex = nodes.map { Role.allCases.firstIndex(of: $0.role)! }
        }

        /// Rows in the plan's order (Planner.checks): kind, then sender; each row is that sender's checks of
        /// that kind to every target.
        var rowCount: Int { kinds.count * nodes.count }

        /// Decides the checks of `rows`, in order; by index, so no PlannedCheck (two Nodes and a TrafficKind,
        /// a dozen reference counts) is built per check.
        func forEach(rows: Range<Int>, _ body: (CheckResult) throws -> Void) rethrows {
            let nonces = self.nonces, complete = self.complete
            for r in rows {
                let k = r / nodes.count, i = r % nodes.count
                let kind = kinds[k], kindID = kind.kindID
                let fromNode = nodes[i]
                let from = ends[i]
                for j in nodes.indices where j != i && nodes[j].name != fromNode.name {
                    let required = required[k][i][roleIndex[j]]
                    let toNode = nodes[j], to = ends[j]
                    var row: SentRow?
                    if let t = from.sent, let target = to.sentAddress, let kind = kindIDs[k] { row = t.row(target: target, kind: kind) }
                    var sent = row.map { from.sent!.evidence($0, nonces: nonces) }
                    if let missed = from.missed, sent?.outcome == .timeout {
                        sent?.missedAnswerMs = missed[ProbeKey(target: toNode.address, kind: kindID)]
                    }

                    if !complete && (from.sent == nil || to.log == nil) && (from.health?.isUp ?? true) && (to.health?.isUp ?? true) {
                        try body(CheckResult(from: fromNode.name, to: toNode.name, kind: kind, required: required,
                                             decision: Decision(.inconclusive, nil, .interrupted),
                                             detail: "the check was interrupted before both ends of this path reported",
                                             sender: sent, receiver: nil))
                        continue
                    }
                    var receiver: ReceiverEvidence?
                    if let log = to.log {
                        let keys = row.map { from.sent!.nonceKeys($0) } ?? []
                        var received = 0, answered = 0
                        var sources: [UInt32] = []
                        for key in keys {
                            guard let v = log.index[key] else { continue }
                            received += 1
                            if v & 1 != 0 { answered += 1 }
                            if !sources.contains(v >> 1) { sources.append(v >> 1) }
                        }
                        let capture = to.capture.flatMap { c in
                            sent == nil ? nil : c.evidence(nonceKeys: keys, sourcePorts: row.map { from.sent!.sourcePorts($0) } ?? [],
                                                           from: fromNode.address, kind: kindID,
                                                           interface: to.interfaceTap, nflog: to.nflogTap, lossy: to.captureLossy)
                        }
                        receiver = ReceiverEvidence(
                            listener: to.listeners[k], received: received, answered: answered,
                            sourceAddresses: sources.map { sourceAddresses[Int($0)] }.sorted { $0.description < $1.description },
                            capture: capture)
                    }
                    let input = VerdictInput(kind: kindID, fromName: fromNode.name, toName: toNode.name,
                                             expectedSource: fromNode.address,
                                             senderAgent: from.health ?? notContacted, receiverAgent: to.health ?? notContacted,
                                             sender: sent, receiver: receiver)
                    let decision = decide(input)
                    // A pass that only counts and groups needs no sentence per healthy path.
                    let detail = decision.verdict == .open && !nonces ? "" : CheckDetail.sentence(decision, input)
                    try body(CheckResult(from: fromNode.name, to: toNode.name, kind: kind, required: required,
                                         decision: decision, detail: detail, sender: sent, receiver: receiver))
                }
            }
        }
    }

    /// One entry per inventory node: its agent, listeners, taps and clock.
    public static func nodeResults(inventory: Inventory, gathered g: Gathered) -> [NodeResult] {
        inventory.nodes.map { node in
            NodeResult(node: node, agent: g.health[node.name] ?? AgentHealth(.down, "not contacted (the check was interrupted)"),
                       agentVersion: g.hello[node.name]?.agentVersion,
                       listeners: g.hello[node.name]?.listeners ?? [],
                       taps: g.hello[node.name]?.taps ?? [],
                       clockOffsetMs: g.clockOffsetMs[node.name],
                       controlRTTMicros: g.controlRTTMicros[node.name],
                       captureLost: g.captureLost[node.name])
        }
    }
}
