import NIOConcurrencyHelpers
import NIOCore
import SwarmProbeCore

/// Decides, for every packet that reaches a listener, whether it earns an answer,
/// and remembers the authenticated probes it received.
///
/// Order of checks (cheapest refusal first, all silent): length and magic, HMAC,
/// addressed to this node and this port, replay window, per-source rate limit.
/// Shared by every listener; its state sits behind one lock that is held only
/// for bookkeeping, never across I/O.
public final class Responder: Sendable {
    let address: IPAddress
    private let auth: ProbeAuthenticator
    private let state: NIOLockedValueBox<State>

    struct State {
        var replay = ReplayGuard(windowMs: 60_000, capacity: 262_144)
        var log = ReceiveLog(capacity: 65_536)
        var buckets = RateLimiter(perSecond: 200, burst: 400, maxSources: 65_536)
        var counters = Counters()
    }

    struct Counters: Sendable {
        var received = 0
        var answered = 0
        var droppedUnauthenticated = 0
        var droppedMisdirected = 0
        var droppedReplay = 0
        var droppedRateLimited = 0
    }

    public init(address: IPAddress, token: ClusterToken) {
        self.address = address
        self.auth = token.probeAuthenticator
        self.state = NIOLockedValueBox(State())
    }

    var counters: Counters { state.withLockedValue { $0.counters } }

    /// Probes answered so far.
    public var answeredCount: Int { counters.answered }

    enum Decision {
        /// Send `echo` to `destination`; call `answered(nonce:)` once it is out.
        case answer(echo: [UInt8], destination: SocketAddress, nonce: [UInt8])
        case drop
    }

    /// `framed`: the kind is the data path, so probes arrive inside a VXLAN frame of ours and echoes leave in one.
    func handle(_ bytes: ByteBufferView, source: SocketAddress?, kind: KindID, framed: Bool = false, now: UInt64) -> Decision {
        let inner: ByteBufferView.SubSequence
        if framed {
            guard let unwrapped = VXLANFrame.unwrap(bytes) else {
                state.withLockedValue { $0.counters.droppedUnauthenticated += 1 }
                return .drop
            }
            inner = unwrapped
        } else {
            inner = bytes[...]
        }
        guard case let .success(p) = ProbePacket.decode(inner, auth: auth), p.type == .probe else {
            state.withLockedValue { $0.counters.droppedUnauthenticated += 1 }
            return .drop
        }
        guard p.target == address, p.proto == kind.proto, Int(p.targetPort) == (kind.port ?? 0) else {
            state.withLockedValue { $0.counters.droppedMisdirected += 1 }
            return .drop
        }
        let sourceIP = source.flatMap(IPAddress.init(socketAddress:)) ?? p.sender
        let sourcePort = source?.port ?? 0
        let admitted: Bool = state.withLockedValue { s in
            switch s.replay.check(nonce: p.nonce, timeMs: p.timeMs, now: now) {
            case .fresh: break
            default:
                s.counters.droppedReplay += 1
                return false
            }
            guard s.buckets.allow(sourceIP, now: now) else {
                s.counters.droppedRateLimited += 1
                return false
            }
            s.counters.received += 1
            s.log.append(
                ReceiveLogEntry(
                    nonce: Hex.encode(p.nonce), runID: Hex.encode(p.runID), kind: kind, claimedSender: p.sender,
                    sourceAddress: sourceIP, sourcePort: sourcePort, timeMs: Int64(now), answered: false))
            return true
        }
        guard admitted else { return .drop }
        // The echo goes only to the address the authenticated probe names, never larger than the probe.
        let port = kind.proto == .esp ? 0 : Int(p.replyPort)
        guard let destination = try? p.sender.socketAddress(port: port) else { return .drop }
        var echo = p.echo(timeMs: now).encode(auth: auth)
        if framed { echo = VXLANFrame.wrap(echo) }
        assert(echo.count <= bytes.count)
        return .answer(echo: echo, destination: destination, nonce: p.nonce)
    }

    func answered(nonce: [UInt8]) {
        state.withLockedValue { s in
            s.counters.answered += 1
            s.log.markAnswered(nonce: Hex.encode(nonce))
        }
    }

    func log(runID: String) -> (entries: [ReceiveLogEntry], truncated: Bool) {
        state.withLockedValue { $0.log.entries(runID: runID, now: Int64(nowMs())) }
    }

    /// Forgets the log entries older than `cutoff`.
    func forget(olderThan cutoff: Int64) {
        state.withLockedValue { $0.log.drop(olderThan: cutoff) }
    }
}
