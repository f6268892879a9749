import Foundation
import Logging
import NIOConcurrencyHelpers
import SwarmProbeCapture
import SwarmProbeCore
import SwarmProbeProcess

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
                return CaptureRecord(
                    tap: tap, direction: .inbound, kind: kind, peer: p.source, peerPort: p.sourcePort,
                    nonce: nil, tcp: "syn", timeMs: now)
            }
            guard let packet = decode(p.payload, kind: kind), packet.type == .probe, packet.target == address else { return nil }
            return CaptureRecord(
                tap: tap, direction: .inbound, kind: kind, peer: p.source, peerPort: p.sourcePort,
                nonce: Hex.encode(packet.nonce), tcp: nil, timeMs: now)
        }
        if p.source == address && tap == .interface {
            let kind = KindID(proto: p.proto, port: p.sourcePort)
            guard kinds.contains(kind) else { return nil }
            if p.proto == .tcp {
                let what: String
                if p.isSYN && p.isACK { what = "syn-ack" } else if p.isRST { what = "rst" } else { return nil }
                return CaptureRecord(
                    tap: tap, direction: .outbound, kind: kind, peer: p.destination, peerPort: p.destinationPort,
                    nonce: nil, tcp: what, timeMs: now)
            }
            guard let packet = decode(p.payload, kind: kind), packet.type == .echo else { return nil }
            return CaptureRecord(
                tap: tap, direction: .outbound, kind: kind, peer: p.destination, peerPort: p.destinationPort,
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

    /// One of this agent's own probes leaving (interface tap only): a SYN from this address to a probed
    /// port, or an authenticated probe this agent sent. Only looked at once `record` and `arrival` passed.
    func departure(_ p: CapturedPacket) -> Departure? {
        guard p.source == address, p.destination != address else { return nil }
        let kind = KindID(proto: p.proto, port: p.destinationPort)
        guard kinds.contains(kind) else { return nil }
        if p.proto == .tcp {
            guard p.isSYN, !p.isACK, let port = p.sourcePort else { return nil }
            return Departure(kind: kind, peer: p.destination, localPort: port, nonceKey: 0, timeMs: p.timestamp / 1000)
        }
        guard let packet = decode(p.payload, kind: kind), packet.type == .probe, packet.sender == address else { return nil }
        return Departure(
            kind: kind, peer: p.destination, localPort: p.sourcePort ?? 0, nonceKey: Departure.key(packet.nonce), timeMs: p.timestamp / 1000)
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
