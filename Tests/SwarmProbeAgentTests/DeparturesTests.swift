import SwarmProbeCapture
import Testing

@testable import SwarmProbeAgent
@testable import SwarmProbeCore

@Suite("Silent probes that never left, from the interface tap")
struct DeparturesTests {
    let t: Int64 = 1_790_000_000_000
    let me = IPAddress.v4(198, 18, 1, 10)
    let a = IPAddress.v4(198, 18, 1, 11), b = IPAddress.v4(198, 18, 1, 12)
    let udp = KindID(proto: .udp, port: 7946), vxlan = KindID(proto: .udp, port: 4789), tcp = KindID(proto: .tcp, port: 7946)
    let esp = KindID(proto: .esp, port: nil)
    var watched: Set<KindID> { [udp, vxlan, tcp, esp] }

    func nonce(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 16) }
    func silent(_ target: IPAddress, _ kind: KindID, nonces: [UInt8] = [], ports: [Int] = []) -> SilentProbe {
        SilentProbe(target: target, kind: kind, nonces: nonces.map(nonce), sourcePorts: ports, startedAtMs: t, silentAtMs: t + 500)
    }
    func left(_ peer: IPAddress, _ kind: KindID, nonce n: UInt8 = 0, port: Int = 0, at: Int64) -> Departure {
        Departure(kind: kind, peer: peer, localPort: port, nonceKey: n == 0 ? 0 : Departure.key(nonce(n)), timeMs: at)
    }

    @Test("a probe none of whose tries was seen leaving is listed; one try seen is enough to have left")
    func matches() {
        let probes = [
            silent(a, udp, nonces: [1, 2]),  // the second try left
            silent(a, tcp, ports: [40001, 40002]),  // neither SYN left
            silent(b, vxlan, nonces: [3]),  // never left
            silent(b, tcp, ports: [40003]),  // its SYN left
            silent(b, esp, nonces: [4]),  // left
        ]
        let departures = [
            left(a, udp, nonce: 2, at: t + 200),
            left(b, tcp, port: 40003, at: t + 1),
            left(b, esp, nonce: 4, at: t + 2),
            // Not theirs: another target, another kind, another port, or before the probe began.
            left(b, udp, nonce: 3, at: t + 3),
            left(a, tcp, port: 40009, at: t + 3),
            left(a, tcp, port: 40001, at: t - 5_000),
        ]
        let out = Departures.neverLeft(silent: probes, departures: departures, watched: watched, local: [me], unresolved: [])
        #expect(out == [NeverLeftProbe(peer: a, kind: tcp), NeverLeftProbe(peer: b, kind: vxlan)])
    }

    @Test("no claim where the tap could not see: a kind it does not watch, a local target, IPv6, nothing to match by")
    func blind() {
        let v6 = IPAddress("fd00::2")!
        let probes = [
            silent(a, KindID(proto: .tcp, port: 8080), ports: [40001]),
            silent(me, udp, nonces: [1]),
            silent(v6, udp, nonces: [2]),
            silent(b, udp),
        ]
        #expect(Departures.neverLeft(silent: probes, departures: [], watched: watched, local: [me], unresolved: []).isEmpty)
    }

    @Test("no claim while ARP was unresolved: for that target, or for all when the unresolved one may be their gateway")
    func neighbours() {
        let probes = [silent(a, udp, nonces: [1]), silent(b, udp, nonces: [2])]
        #expect(
            Departures.neverLeft(silent: probes, departures: [], watched: watched, local: [], unresolved: [a])
                == [NeverLeftProbe(peer: b, kind: udp)])
        let gateway = IPAddress.v4(198, 18, 0, 1)
        #expect(Departures.neverLeft(silent: probes, departures: [], watched: watched, local: [], unresolved: [gateway]).isEmpty)
    }

    @Test("/proc/net/arp: entries without ATF_COM are unresolved")
    func procNetARP() {
        let text = """
            IP address       HW type     Flags       HW address            Mask     Device
            198.18.1.11      0x1         0x2         7a:1b:2c:3d:4e:5f     *        eth0
            198.18.1.12      0x1         0x0         00:00:00:00:00:00     *        eth0
            198.18.1.13      0x1         0x6         7a:1b:2c:3d:4e:60     *        eth0
            198.18.1.14      0x1         0x0         00:00:00:00:00:00     *        eth0

            """
        #expect(Departures.unresolvedNeighbours(procNetARP: text) == [IPAddress.v4(198, 18, 1, 12), IPAddress.v4(198, 18, 1, 14)])
        #expect(Departures.unresolvedNeighbours(procNetARP: "").isEmpty)
    }

    @Test("the classifier: this agent's own SYNs and authenticated probes leaving are departures, nothing else")
    func classifier() {
        let token = ClusterToken(secret: [UInt8](repeating: 7, count: 32))
        let c = CaptureClassifier(address: me, kinds: [udp, tcp], framed: [], auth: token.probeAuthenticator)
        func probe(sender: IPAddress, auth: ProbeAuthenticator) -> [UInt8] {
            ProbePacket(
                type: .probe, proto: .udp, targetPort: 7946, replyPort: 51000, timeMs: 1, nonce: nonce(9),
                runID: nonce(1), sender: sender, target: a
            ).encode(auth: auth)
        }
        let out = CapturedPacket(
            timestamp: 5_000_000, source: me, destination: a, proto: .udp, sourcePort: 51000, destinationPort: 7946,
            tcpFlags: nil, payload: probe(sender: me, auth: token.probeAuthenticator))
        #expect(c.record(out, tap: .interface) == nil && c.arrival(out) == nil)
        #expect(c.departure(out) == Departure(kind: udp, peer: a, localPort: 51000, nonceKey: Departure.key(nonce(9)), timeMs: 5_000))
        let syn = CapturedPacket(
            timestamp: 6_000_000, source: me, destination: a, proto: .tcp, sourcePort: 40001, destinationPort: 7946,
            tcpFlags: CapturedPacket.syn, payload: [])
        #expect(c.record(syn, tap: .interface) == nil && c.arrival(syn) == nil)
        #expect(c.departure(syn) == Departure(kind: tcp, peer: a, localPort: 40001, nonceKey: 0, timeMs: 6_000))
        let other = ClusterToken(secret: [UInt8](repeating: 8, count: 32))
        let not = [
            // Forged, or another sender's.
            CapturedPacket(
                timestamp: 1, source: me, destination: a, proto: .udp, sourcePort: 51000, destinationPort: 7946, tcpFlags: nil,
                payload: probe(sender: me, auth: other.probeAuthenticator)),
            CapturedPacket(
                timestamp: 1, source: me, destination: a, proto: .udp, sourcePort: 51000, destinationPort: 7946, tcpFlags: nil,
                payload: probe(sender: b, auth: token.probeAuthenticator)),
            // A SYN-ACK, an inbound SYN, a port not probed.
            CapturedPacket(
                timestamp: 1, source: me, destination: a, proto: .tcp, sourcePort: 40001, destinationPort: 7946,
                tcpFlags: CapturedPacket.syn | CapturedPacket.ack, payload: []),
            CapturedPacket(
                timestamp: 1, source: a, destination: me, proto: .tcp, sourcePort: 40001, destinationPort: 7946, tcpFlags: CapturedPacket.syn,
                payload: []),
            CapturedPacket(
                timestamp: 1, source: me, destination: a, proto: .tcp, sourcePort: 40001, destinationPort: 2377, tcpFlags: CapturedPacket.syn,
                payload: []),
        ]
        for p in not { #expect(c.departure(p) == nil, "\(p)") }
    }

    @Test("a send refused with EPERM is marked as the sender's own firewall; other failures are not")
    func sendRefusal() {
        let reports = [
            ProbeReport(target: a, kind: udp, evidence: SenderEvidence(outcome: .sendFailed, attempts: 1, detail: SendRefusal.text)),
            ProbeReport(
                target: a, kind: esp, evidence: SenderEvidence(outcome: .sendFailed, attempts: 1, detail: "sendmsg: \(SendRefusal.text) (errno: 1)")),
            ProbeReport(target: b, kind: udp, evidence: SenderEvidence(outcome: .sendFailed, attempts: 0, detail: "Address already in use")),
            // UDP: the socket stays, and the probe ends silent with the refused try's error.
            ProbeReport(target: b, kind: vxlan, evidence: SenderEvidence(outcome: .timeout, attempts: 3, detail: SendRefusal.text)),
            ProbeReport(target: b, kind: tcp, evidence: SenderEvidence(outcome: .timeout, attempts: 3)),
            ProbeReport(target: b, kind: esp, evidence: SenderEvidence(outcome: .unreachable, attempts: 1, detail: SendRefusal.text)),
        ]
        #expect(SendRefusal.marked(reports).map(\.evidence.egressBlocked) == [.sendRefused, .sendRefused, nil, .sendRefused, nil, nil])
    }
}
