import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

/// A probe of a run that ended in silence, kept so the agent can tell from its interface tap whether the
/// answer came after all (`MissedAnswers`).
struct SilentProbe: Sendable, Equatable {
    var target: IPAddress
    var kind: KindID
    /// The nonces of its tries (UDP, ESP).
    var nonces: [[UInt8]]
    /// The local ports of its tries (TCP).
    var sourcePorts: [Int]
    /// When the probe began (wall clock, ms): no answer to it can come earlier.
    var startedAtMs: Int64
    /// When the prober counted it silent (wall clock, ms).
    var silentAtMs: Int64
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
