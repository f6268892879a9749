import Foundation
import Logging
import NIOConcurrencyHelpers
import SwarmProbeCapture
import SwarmProbeCore
import SwarmProbeProcess

/// The agent's two capture taps:
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
    /// This agent's own probes leaving its interface (`Departures`), the interface tap's session, when it
    /// began (wall clock, ms), and the kinds its filter lets through.
    private let departures: NIOLockedValueBox<CaptureLog<Departure>>
    private let interfaceSession: CaptureSession?
    let interfaceSinceMs: Int64
    let watchedKinds: Set<KindID>

    private init(
        states: [TapState], sessions: [CaptureSession], log: NIOLockedValueBox<CaptureLog<CaptureRecord>>,
        arrivals: NIOLockedValueBox<CaptureLog<ArrivedAnswer>>, table: String?,
        departures: NIOLockedValueBox<CaptureLog<Departure>>, interfaceSession: CaptureSession?, interfaceSinceMs: Int64,
        watchedKinds: Set<KindID>
    ) {
        self.states = states
        self.sessions = sessions
        self.log = log
        self.arrivals = arrivals
        self.table = table
        self.departures = departures
        self.interfaceSession = interfaceSession
        self.interfaceSinceMs = interfaceSinceMs
        self.watchedKinds = watchedKinds
    }

    var interfaceActive: Bool { states.contains { $0.tap == .interface && $0.active } }

    /// What the taps keep of each packet and how much they buffer. A probe with every header in front of it
    /// (NFLOG's TLVs, IPv6, UDP, VXLAN, inner Ethernet) stays under 400 bytes (a path MTU probe's size is a
    /// trailer after its authenticated part), so 512 keep it whole, and
    /// small slots let a 1 MiB ring (resident while the agent runs) hold about 1,700 packets. The interface
    /// tap reads its ring in batches 10 ms apart, which saves the agent a wake-up per packet and loses
    /// nothing below ~170,000 packets a second; a log request still finds every packet captured before it.
    static let captureOptions = CaptureOptions(snapshotLength: 512, bufferSize: 1 << 20, coalesceMilliseconds: 10)
    /// NFLOG hands over one packet per netlink message of several KiB, into a socket buffer capped by
    /// `net.core.rmem_max` (some 50 packets on a stock Debian): it is read at once, since waiting between
    /// reads would overflow it in a large check's burst and turn silent drops here into `where: unknown`.
    static let nflogOptions = CaptureOptions(snapshotLength: 512, bufferSize: 1 << 20)

    /// Opens both taps; never throws: a tap that cannot open is reported inactive with the reason.
    static func start(address: IPAddress, profile: Profile, token: ClusterToken, group: Int, logger: Logger) -> CaptureTaps {
        let kinds = profile.enabledKinds.map(\.kindID)
        let log = NIOLockedValueBox(CaptureLog<CaptureRecord>(capacity: 131_072))
        let arrivals = NIOLockedValueBox(CaptureLog<ArrivedAnswer>(capacity: 65_536))
        let departures = NIOLockedValueBox(CaptureLog<Departure>(capacity: 65_536))
        var interfaceSession: CaptureSession?
        let interfaceSince = Int64(nowMs())
        let classifier = CaptureClassifier(
            address: address, kinds: Set(kinds), framed: profile.framedKinds,
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
                    } else if let d = classifier.departure(packet) {
                        departures.withLockedValue { $0.append(d) }
                    }
                }
                sessions.append(session)
                interfaceSession = session
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
        return CaptureTaps(
            states: states, sessions: sessions, log: log, arrivals: arrivals, table: installed, departures: departures,
            interfaceSession: interfaceSession, interfaceSinceMs: interfaceSince, watchedKinds: Set(kinds))
    }

    func records(since timeMs: Int64) -> [CaptureRecord] {
        log.withLockedValue { $0.records(since: timeMs, now: Int64(nowMs())) }
    }

    /// Answers to this agent's probes that arrived at its interface since `timeMs`. Call after `lost()`,
    /// which has the taps hand over what they hold.
    func arrivals(since timeMs: Int64) -> [ArrivedAnswer] {
        arrivals.withLockedValue { $0.records(since: timeMs, now: Int64(nowMs())) }
    }

    /// This agent's probes that left its interface since `timeMs`. Call after `lost()`, as `arrivals`.
    func departures(since timeMs: Int64) -> [Departure] {
        departures.withLockedValue { $0.records(since: timeMs, now: Int64(nowMs())) }
    }

    /// Departures pushed out of their bounded log so far (kept apart from `lost()`, which judges the
    /// evidence about other agents' probes).
    var departuresOverwritten: Int { departures.withLockedValue { $0.overwritten } }

    /// Whether the interface tap has been running, without failing, since before `timeMs`: only then does
    /// its not seeing a probe leave say anything.
    func interfaceWatched(since timeMs: Int64) -> Bool {
        guard let s = interfaceSession, interfaceSinceMs <= timeMs else { return false }
        return s.failure == nil
    }

    /// Forgets the records older than `cutoff`.
    func forget(olderThan cutoff: Int64) {
        log.withLockedValue { $0.drop(olderThan: cutoff) }
        arrivals.withLockedValue { $0.drop(olderThan: cutoff) }
        departures.withLockedValue { $0.drop(olderThan: cutoff) }
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
