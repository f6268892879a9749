import SwarmProbeCapture
import Testing

@testable import SwarmProbeAgent
@testable import SwarmProbeCore

@Suite("Answers to silent probes, matched from the interface tap")
struct MissedAnswersTests {
    let t: Int64 = 1_790_000_000_000
    let a = IPAddress.v4(198, 18, 1, 11), b = IPAddress.v4(198, 18, 1, 12)
    let udp = KindID(proto: .udp, port: 7946), vxlan = KindID(proto: .udp, port: 4789), tcp = KindID(proto: .tcp, port: 2377)
    let esp = KindID(proto: .esp, port: nil)

    func nonce(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 16) }

    @Test("UDP and ESP by any try's nonce, TCP by target, kind and any try's source port; the first arrival counts")
    func matches() {
        let silent = [
            SilentProbe(target: a, kind: udp, nonces: [nonce(1), nonce(2)], sourcePorts: [], startedAtMs: t, silentAtMs: t + 500),
            SilentProbe(target: b, kind: tcp, nonces: [nonce(3)], sourcePorts: [40001, 40002], startedAtMs: t, silentAtMs: t + 520),
            SilentProbe(target: b, kind: esp, nonces: [nonce(4)], sourcePorts: [], startedAtMs: t, silentAtMs: t + 510),
            SilentProbe(target: b, kind: vxlan, nonces: [nonce(5)], sourcePorts: [], startedAtMs: t, silentAtMs: t + 500),
        ]
        let arrivals = [
            ArrivedAnswer(kind: tcp, peer: b, localPort: 40002, nonce: nil, timeMs: t + 3),  // dropped by our firewall
            ArrivedAnswer(kind: udp, peer: a, localPort: 51000, nonce: nonce(2), timeMs: t + 900),  // late
            ArrivedAnswer(kind: udp, peer: a, localPort: 51000, nonce: nonce(1), timeMs: t + 800),  // later try's echo first
            ArrivedAnswer(kind: tcp, peer: b, localPort: 40002, nonce: nil, timeMs: t + 1_003),  // the SYN-ACK resent
            ArrivedAnswer(kind: esp, peer: b, localPort: 0, nonce: nonce(4), timeMs: t + 510),
        ]
        let missed = MissedAnswers.match(silent: silent, arrivals: arrivals)
        #expect(
            missed == [
                MissedAnswer(peer: a, kind: udp, timeMs: t + 800, afterMs: 300),
                MissedAnswer(peer: b, kind: tcp, timeMs: t + 3, afterMs: -517),
                MissedAnswer(peer: b, kind: esp, timeMs: t + 510, afterMs: 0),
            ])
    }

    @Test("nothing from before the probe began (a SYN-ACK resent for an earlier connection from the same port); of ESP only late answers")
    func bounds() {
        let silent = [
            SilentProbe(target: b, kind: tcp, nonces: [nonce(3)], sourcePorts: [40001], startedAtMs: t, silentAtMs: t + 500),
            SilentProbe(target: b, kind: esp, nonces: [nonce(4)], sourcePorts: [], startedAtMs: t, silentAtMs: t + 500),
            SilentProbe(target: a, kind: esp, nonces: [nonce(5)], sourcePorts: [], startedAtMs: t, silentAtMs: t + 500),
        ]
        let arrivals = [
            ArrivedAnswer(kind: tcp, peer: b, localPort: 40001, nonce: nil, timeMs: t - 1),
            ArrivedAnswer(kind: esp, peer: b, localPort: 0, nonce: nonce(4), timeMs: t + 20),  // in the raw socket, unread?
            ArrivedAnswer(kind: esp, peer: a, localPort: 0, nonce: nonce(5), timeMs: t + 700),  // late
        ]
        #expect(MissedAnswers.match(silent: silent, arrivals: arrivals) == [MissedAnswer(peer: a, kind: esp, timeMs: t + 700, afterMs: 200)])
    }

    @Test("an answer of another probe, another target or another kind is not this probe's")
    func mismatches() {
        let silent = [
            SilentProbe(target: a, kind: udp, nonces: [nonce(1)], sourcePorts: [], startedAtMs: t, silentAtMs: t + 500),
            SilentProbe(target: a, kind: tcp, nonces: [nonce(2)], sourcePorts: [40001], startedAtMs: t, silentAtMs: t + 500),
        ]
        let arrivals = [
            ArrivedAnswer(kind: udp, peer: a, localPort: 1, nonce: nonce(9), timeMs: t + 600),  // another nonce
            ArrivedAnswer(kind: udp, peer: b, localPort: 1, nonce: nonce(1), timeMs: t + 600),  // from another node
            ArrivedAnswer(kind: vxlan, peer: a, localPort: 1, nonce: nonce(1), timeMs: t + 600),  // another kind
            ArrivedAnswer(kind: tcp, peer: a, localPort: 40009, nonce: nil, timeMs: t + 600),  // another try's port
            ArrivedAnswer(kind: tcp, peer: b, localPort: 40001, nonce: nil, timeMs: t + 600),  // another target
            ArrivedAnswer(kind: KindID(proto: .tcp, port: 7946), peer: a, localPort: 40001, nonce: nil, timeMs: t + 600),
        ]
        #expect(MissedAnswers.match(silent: silent, arrivals: arrivals).isEmpty)
        #expect(MissedAnswers.match(silent: [], arrivals: arrivals).isEmpty)
        #expect(MissedAnswers.match(silent: silent, arrivals: []).isEmpty)
    }
}

@Suite("The interface tap's arrivals")
struct ArrivalClassifierTests {
    let me = IPAddress.v4(198, 18, 1, 11), peer = IPAddress.v4(198, 18, 1, 12)
    let token = ClusterToken(secret: [UInt8](repeating: 7, count: 32))
    var classifier: CaptureClassifier {
        CaptureClassifier(
            address: me, kinds: [KindID(proto: .udp, port: 7946), KindID(proto: .tcp, port: 2377)], framed: [],
            auth: token.probeAuthenticator)
    }

    func echo(sender: IPAddress, auth: ProbeAuthenticator) -> [UInt8] {
        ProbePacket(
            type: .probe, proto: .udp, targetPort: 7946, replyPort: 51000, timeMs: 1, nonce: [UInt8](repeating: 9, count: 16),
            runID: [UInt8](repeating: 1, count: 16), sender: sender, target: peer
        )
        .echo(timeMs: 2).encode(auth: auth)
    }

    @Test("an authenticated echo to this agent and a SYN-ACK from a probed port are arrivals, not capture records")
    func arrivals() {
        let udp = CapturedPacket(
            timestamp: 5_000_000, source: peer, destination: me, proto: .udp, sourcePort: 7946,
            destinationPort: 51000, tcpFlags: nil, payload: echo(sender: me, auth: token.probeAuthenticator))
        #expect(classifier.record(udp, tap: .interface) == nil)
        #expect(
            classifier.arrival(udp)
                == ArrivedAnswer(
                    kind: KindID(proto: .udp, port: 7946), peer: peer, localPort: 51000,
                    nonce: [UInt8](repeating: 9, count: 16), timeMs: 5_000))
        let synAck = CapturedPacket(
            timestamp: 6_000_000, source: peer, destination: me, proto: .tcp, sourcePort: 2377,
            destinationPort: 40001, tcpFlags: CapturedPacket.syn | CapturedPacket.ack, payload: [])
        #expect(classifier.record(synAck, tap: .interface) == nil)
        #expect(
            classifier.arrival(synAck)
                == ArrivedAnswer(
                    kind: KindID(proto: .tcp, port: 2377), peer: peer, localPort: 40001,
                    nonce: nil, timeMs: 6_000))
    }

    @Test("not an arrival: a forged echo, an echo for another sender, a reset, a port not probed, an outbound packet")
    func notArrivals() {
        let other = ClusterToken(secret: [UInt8](repeating: 8, count: 32))
        let cases = [
            CapturedPacket(
                timestamp: 1, source: peer, destination: me, proto: .udp, sourcePort: 7946, destinationPort: 51000,
                tcpFlags: nil, payload: echo(sender: me, auth: other.probeAuthenticator)),
            CapturedPacket(
                timestamp: 1, source: peer, destination: me, proto: .udp, sourcePort: 7946, destinationPort: 51000,
                tcpFlags: nil, payload: echo(sender: peer, auth: token.probeAuthenticator)),
            CapturedPacket(
                timestamp: 1, source: peer, destination: me, proto: .tcp, sourcePort: 2377, destinationPort: 40001,
                tcpFlags: CapturedPacket.rst | CapturedPacket.ack, payload: []),
            CapturedPacket(
                timestamp: 1, source: peer, destination: me, proto: .udp, sourcePort: 4789, destinationPort: 51000,
                tcpFlags: nil, payload: echo(sender: me, auth: token.probeAuthenticator)),
            CapturedPacket(
                timestamp: 1, source: me, destination: peer, proto: .tcp, sourcePort: 2377, destinationPort: 40001,
                tcpFlags: CapturedPacket.syn | CapturedPacket.ack, payload: []),
        ]
        for p in cases { #expect(classifier.arrival(p) == nil, "\(p)") }
    }
}
