import Foundation
import Logging
import NIOConcurrencyHelpers
import SwarmProbeCapture
import SwarmProbeCore
import SwarmProbeProcess

/// The agent's two capture taps (LAB.md §1):
/// - `interface`: libpcap on the interface that holds the agent's address, which sees a probe
///   arrive before the host firewall, and the answers leave;
/// - `nflog`: an nftables chain at input priority 100 (after the filter at 0) logging the profile's
///   traffic to NFLOG group N, read through libpcap's `nflog:N`: it sees only what the firewall let through.
/// The nftables table is installed at start and removed by `stop()`; a stale one from an agent that was
/// killed is replaced. Without the privilege for either, the tap says so and verdicts fall back to
/// `where: unknown`.
final class CaptureTaps: Sendable {
    let states: [TapState]
    private let sessions: [CaptureSession]
    private let log: NIOLockedValueBox<CaptureLog<CaptureRecord>>
    /// Answers to this agent's own probes arriving at its interface (`MissedAnswers`).
    private let arrivals: NIOLockedValueBox<CaptureLog<ArrivedAnswer>>
    private let table: String?

    private init(states: [TapState], sessions: [CaptureSession], log: NIOLockedValueBox<CaptureLog<CaptureRecord>>,
                 arrivals: NIOLockedValueBox<CaptureLog<ArrivedAnswer>>, table: String?) {
        self.states = states
        self.sessions = sessions
        self.log = log
        self.arrivals = arrivals
        self.table = table
    }

    var interfaceActive: Bool { states.contains { $0.tap == .interface && $0.active } }

    /// What the taps keep of each packet and how much they buffer. A probe is 118 bytes; with NFLOG's
    /// TLVs (~150), an IPv6 header, UDP, VXLAN and an inner Ethernet header in front it stays under 400,
    /// so 512 bytes keep every probe whole. (libpcap's default 65,535 made every slot of the
    /// immediate-mode ring 64 KiB: a 4 MiB ring held about 60 packets, less than one agent's share of a
    /// 32-node burst.) 1 MiB of ~600-byte slots holds about 1,700 packets, and the ring is resident
    /// memory the whole time the agent runs.
    /// The interface tap reads its ring in batches 10 ms apart (`coalesceMilliseconds`): 1 MiB holds ~1,700
    /// packets, so nothing is lost below ~170,000 packets a second, and a log request still finds every
    /// packet captured before it. Measured on the 32-node lab: agents' CPU 1.61 -> 1.27 s per healthy
    /// check, 1.50 -> 1.43 s faulted. The nflog tap reads at once (`nflogOptions`).
    static let captureOptions = CaptureOptions(snapshotLength: 512, bufferSize: 1 << 20, coalesceMilliseconds: 10)
    /// NFLOG hands over one packet per netlink message of ~4-8 KiB, into a socket buffer capped by
    /// `net.core.rmem_max` (212,992 bytes on a stock Debian: some 50 packets), and stamps each packet when
    /// it is read: waiting 10 ms between reads would overflow it in the burst of a large check, and turn
    /// silent drops to this node into `where: unknown`.
    static let nflogOptions = CaptureOptions(snapshotLength: 512, bufferSize: 1 << 20)

    /// Opens both taps; never throws: a tap that cannot open is reported inactive with the reason.
    static func start(address: IPAddress, profile: Profile, token: ClusterToken, group: Int, logger: Logger) -> CaptureTaps {
        let kinds = profile.enabledKinds.map(\.kindID)
        let log = NIOLockedValueBox(CaptureLog<CaptureRecord>(capacity: 131_072))
        let arrivals = NIOLockedValueBox(CaptureLog<ArrivedAnswer>(capacity: 65_536))
        let classifier = CaptureClassifier(address: address, kinds: Set(kinds), framed: profile.framedKinds,
                                           auth: token.probeAuthenticator)
        var states: [TapState] = []
        var sessions: [CaptureSession] = []
        let options = CaptureTaps.captureOptions

        // 1. Interface tap.
        if let device = NetworkInterfaces.device(for: address) {
            do {
                let session = try CaptureSession(device: device, filter: CaptureFilter.bpf(address: address, kinds: kinds), options: options)
                try session.start { packet in
                    if let r = classifier.record(packet, tap: .interface) {
                        log.withLockedValue { $0.append(r) }
                    } else if let a = classifier.arrival(packet) {
                        arrivals.withLockedValue { $0.append(a) }
                    }
                }
                sessions.append(session)
                states.append(TapState(tap: .interface, active: true, device: device))
            } catch {
                states.append(TapState(tap: .interface, active: false, device: device, detail: "\(error)"))
            }
        } else {
            states.append(TapState(tap: .interface, active: false, detail: "no interface holds \(address)"))
        }

        // 2. nflog tap, after the host firewall.
        let table = "swarmprobe_tap_\(group)"
        let device = "nflog:\(group)"
        var installed: String?
        do {
            try NftTap.install(table: table, group: group, address: address, kinds: kinds)
            installed = table
            let session = try CaptureSession(device: device, filter: nil, options: CaptureTaps.nflogOptions)
            try session.start { packet in
                if let r = classifier.record(packet, tap: .nflog) { log.withLockedValue { $0.append(r) } }
            }
            sessions.append(session)
            states.append(TapState(tap: .nflog, active: true, device: device))
        } catch {
            // Nothing half-done stays behind: no rule logging to a group nobody reads.
            if let t = installed { NftTap.remove(table: t) }
            installed = nil
            states.append(TapState(tap: .nflog, active: false, device: device, detail: "\(error)"))
        }

        let inactive = states.filter { !$0.active }
        if !inactive.isEmpty {
            let why = inactive.map { "\($0.tap.rawValue): \($0.detail ?? "unavailable")" }.joined(separator: "; ")
            logger.warning("capture taps unavailable (\(why)); silent drops will be reported with where: unknown")
        }
        return CaptureTaps(states: states, sessions: sessions, log: log, arrivals: arrivals, table: installed)
    }

    func records(since timeMs: Int64) -> [CaptureRecord] {
        log.withLockedValue { $0.records(since: timeMs, now: Int64(nowMs())) }
    }

    /// Answers to this agent's probes that arrived at its interface since `timeMs`. Call after `lost()`,
    /// which has the taps hand over what they hold.
    func arrivals(since timeMs: Int64) -> [ArrivedAnswer] {
        arrivals.withLockedValue { $0.records(since: timeMs, now: Int64(nowMs())) }
    }

    /// Forgets the records older than `cutoff`.
    func forget(olderThan cutoff: Int64) {
        log.withLockedValue { $0.drop(olderThan: cutoff) }
        arrivals.withLockedValue { $0.drop(olderThan: cutoff) }
    }

    /// Packets lost so far: dropped by the kernel or the interface before the taps read them (the
    /// kernel's counters read now, not up to 250 ms ago), plus records overwritten in the bounded logs.
    func lost() -> Int {
        let dropped = sessions.reduce(0) { sum, s in
            let st = s.currentStatistics()
            return sum + Int(st.droppedByKernel + st.droppedByInterface)
        }
        return dropped + log.withLockedValue { $0.overwritten } + arrivals.withLockedValue { $0.overwritten }
    }

    /// Stops and joins both capture threads and removes the nftables table.
    func stop() {
        for s in sessions { s.stop() }
        if let table { NftTap.remove(table: table) }
    }
}

/// Turns captured packets into records of probes and answers; everything else is ignored.
struct CaptureClassifier: Sendable {
    let address: IPAddress
    let kinds: Set<KindID>
    let framed: Set<KindID>
    let auth: ProbeAuthenticator

    func record(_ p: CapturedPacket, tap: TapState.Tap) -> CaptureRecord? {
        let now = p.timestamp / 1000
        if p.destination == address {
            let kind = KindID(proto: p.proto, port: p.destinationPort)
            guard kinds.contains(kind) else { return nil }
            if p.proto == .tcp {
                // A SYN opening a probe connection (never the ACKs that follow).
                guard p.isSYN, !p.isACK else { return nil }
                return CaptureRecord(tap: tap, direction: .inbound, kind: kind, peer: p.source, peerPort: p.sourcePort,
                                     nonce: nil, tcp: "syn", timeMs: now)
            }
            guard let packet = decode(p.payload, kind: kind), packet.type == .probe, packet.target == address else { return nil }
            return CaptureRecord(tap: tap, direction: .inbound, kind: kind, peer: p.source, peerPort: p.sourcePort,
                                 nonce: Hex.encode(packet.nonce), tcp: nil, timeMs: now)
        }
        if p.source == address && tap == .interface {
            let kind = KindID(proto: p.proto, port: p.sourcePort)
            guard kinds.contains(kind) else { return nil }
            if p.proto == .tcp {
                let what: String
                if p.isSYN && p.isACK { what = "syn-ack" }
                else if p.isRST { what = "rst" }
                else { return nil }
                return CaptureRecord(tap: tap, direction: .outbound, kind: kind, peer: p.destination, peerPort: p.destinationPort,
                                     nonce: nil, tcp: what, timeMs: now)
            }
            guard let packet = decode(p.payload, kind: kind), packet.type == .echo else { return nil }
            return CaptureRecord(tap: tap, direction: .outbound, kind: kind, peer: p.destination, peerPort: p.destinationPort,
                                 nonce: Hex.encode(packet.nonce), tcp: nil, timeMs: now)
        }
        return nil
    }

    /// An answer to one of this agent's own probes arriving (interface tap only): an authenticated echo
    /// (UDP, ESP) addressed to this agent, or a SYN-ACK from a probed port. Only looked at once `record`
    /// found the packet is no probe to this agent nor an answer of its own.
    func arrival(_ p: CapturedPacket) -> ArrivedAnswer? {
        guard p.destination == address else { return nil }
        let kind = KindID(proto: p.proto, port: p.sourcePort)
        guard kinds.contains(kind) else { return nil }
        if p.proto == .tcp {
            guard p.isSYN, p.isACK, let port = p.destinationPort else { return nil }
            return ArrivedAnswer(kind: kind, peer: p.source, localPort: port, nonce: nil, timeMs: p.timestamp / 1000)
        }
        guard let packet = decode(p.payload, kind: kind), packet.type == .echo, packet.sender == address else { return nil }
        return ArrivedAnswer(kind: kind, peer: p.source, localPort: p.destinationPort ?? 0, nonce: packet.nonce, timeMs: p.timestamp / 1000)
    }

    private func decode(_ payload: [UInt8], kind: KindID) -> ProbePacket? {
        let inner: ArraySlice<UInt8>
        if framed.contains(kind) {
            guard let unwrapped = VXLANFrame.unwrap(payload) else { return nil }
            inner = unwrapped
        } else {
            inner = payload[...]
        }
        guard case let .success(packet) = ProbePacket.decode(inner, auth: auth) else { return nil }
        return packet
    }
}

/// An answer to one of this agent's probes, as its interface tap saw it arrive.
struct ArrivedAnswer: Sendable, Equatable, Timestamped {
    /// The probe's kind (the answer's source port), and the target that answered.
    var kind: KindID
    var peer: IPAddress
    /// This agent's port the answer came to (TCP: the try's source port).
    var localPort: Int
    /// The echoed nonce (UDP, ESP).
    var nonce: [UInt8]?
    var timeMs: Int64
}

/// Which answers to a run's silent probes the interface tap saw arrive after all: a late answer (the
/// path is open and slow) or one that arrived on time but never reached the probe's socket (this node's
/// own firewall dropped it). UDP and ESP answers are matched by nonce, TCP SYN-ACKs by target, kind and
/// the try's source port, none from before the probe began (a SYN-ACK the target still resends for an
/// earlier connection from the same port); the first arrival of each probe counts. Of ESP only answers
/// after the give-up count: its probes share one raw socket the prober does not drain at its deadline,
/// so an echo there before it proves nothing about this node's firewall.
enum MissedAnswers {
    static func match(silent: [SilentProbe], arrivals: [ArrivedAnswer]) -> [MissedAnswer] {
        guard !silent.isEmpty, !arrivals.isEmpty else { return [] }
        struct TCPKey: Hashable { var peer: IPAddress; var kind: KindID; var port: Int }
        var byNonce: [[UInt8]: Int] = [:], byTCP: [TCPKey: Int] = [:]
        for (i, p) in silent.enumerated() {
            if p.kind.proto == .tcp {
                for port in p.sourcePorts { byTCP[TCPKey(peer: p.target, kind: p.kind, port: port)] = i }
            } else {
                for n in p.nonces { byNonce[n] = i }
            }
        }
        var first: [Int: Int64] = [:]
        for a in arrivals {
            let i: Int?
            if let nonce = a.nonce { i = byNonce[nonce] } else { i = byTCP[TCPKey(peer: a.peer, kind: a.kind, port: a.localPort)] }
            guard let i, silent[i].target == a.peer, silent[i].kind == a.kind, a.timeMs >= silent[i].startedAtMs else { continue }
            if a.kind.proto == .esp && !missedAnswerWasLate(afterMs: Int(a.timeMs - silent[i].silentAtMs)) { continue }
            first[i] = min(first[i] ?? a.timeMs, a.timeMs)
        }
        return first.keys.sorted().map { i in
            let p = silent[i], t = first[i]!
            return MissedAnswer(peer: p.target, kind: p.kind, timeMs: t, afterMs: Int(t - p.silentAtMs))
        }
    }
}

/// A bounded, time-ordered log of capture records (or of arrived answers).
struct CaptureLog<Record: Timestamped & Sendable>: Sendable {
    private var log: RecentLog<Record>

    init(capacity: Int) { log = RecentLog(capacity: capacity) }

    /// Records pushed out by newer ones.
    var overwritten: Int { log.overwritten }

    mutating func append(_ r: Record) {
        log.append(r)
    }

    /// The records since `since`; first drops those past the retention.
    mutating func records(since: Int64, now: Int64) -> [Record] {
        log.prune(now: now)
        return log.inOrder.filter { $0.timeMs >= since }
    }

    mutating func drop(olderThan cutoff: Int64) {
        log.drop(olderThan: cutoff)
    }
}

/// The nftables side of the nflog tap: one table of our own, never touching anyone else's.
enum NftTap {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func script(table: String, group: Int, address: IPAddress, kinds: [KindID]) -> String {
        let family = address.isIPv4 ? "ip" : "ip6"
        var rules: [String] = []
        let tcp = kinds.filter { $0.proto == .tcp }.compactMap(\.port)
        let udp = kinds.filter { $0.proto == .udp }.compactMap(\.port)
        if !udp.isEmpty {
            rules.append("\(family) daddr \(address) udp dport { \(udp.map(String.init).joined(separator: ", ")) } log group \(group) queue-threshold 1")
        }
        if !tcp.isEmpty {
            rules.append("\(family) daddr \(address) tcp dport { \(tcp.map(String.init).joined(separator: ", ")) } tcp flags & (syn | ack) == syn log group \(group) queue-threshold 1")
        }
        if kinds.contains(where: { $0.proto == .esp }) {
            rules.append("\(family) daddr \(address) meta l4proto esp log group \(group) queue-threshold 1")
        }
        // Declaring then deleting makes the delete safe when no stale table exists.
        // `queue-threshold 1`: without it the kernel batches log events for up to a second.
        return """
        table inet \(table) {}
        delete table inet \(table)
        table inet \(table) {
          chain input {
            type filter hook input priority 100; policy accept;
        \(rules.map { "    " + $0 }.joined(separator: "\n"))
          }
        }

        """
    }

    static func install(table: String, group: Int, address: IPAddress, kinds: [KindID]) throws {
        try run(["-f", "-"], input: script(table: table, group: group, address: address, kinds: kinds))
    }

    static func remove(table: String) {
        _ = try? run(["delete", "table", "inet", table], input: nil)
    }

    private static func run(_ args: [String], input: String?) throws {
        do {
            try Program.run(["nft"] + args, input: input)
        } catch where error.status < 0 {
            throw Failure(description: "\(error.message) (apt-get install nftables)")
        } catch {
            // nft's first line says what it refused; the rest repeats the script.
            let first = error.message.split(whereSeparator: \.isNewline).first.map(String.init)
            throw Failure(description: "nft: \(first ?? "exit \(error.status)")")
        }
    }

}
