import Crypto
import Foundation
import Testing

@testable import SwarmProbeCore

var probeKey: SymmetricKey { SymmetricKey(data: [UInt8](repeating: 0x42, count: 32)) }
var otherKey: SymmetricKey { SymmetricKey(data: [UInt8](repeating: 0x43, count: 32)) }

func samplePacket(proto: TransportProtocol = .udp, padding: Int = 0, sender: String = "10.0.0.1", target: String = "10.0.0.2") -> ProbePacket {
    ProbePacket(
        type: .probe, proto: proto, targetPort: proto == .esp ? 0 : 4789, replyPort: 7946,
        timeMs: 1_700_000_000_123, nonce: Array(1...16), runID: Array(101...116),
        sender: ip(sender), target: ip(target), padding: padding)
}

@Suite("ProbePacket")
struct ProbePacketTests {
    @Test(
        "encode then decode gives the packet back",
        arguments: [
            (TransportProtocol.udp, 0, "10.0.0.1", "10.0.0.2"),
            (.tcp, 1, "10.0.0.1", "10.0.0.2"),
            (.esp, 100, "2001:db8::1", "2001:db8::2"),
            (.udp, 1372, "fd00::1", "10.0.0.9"),
            (.udp, ProbePacket.maximumPadding, "10.0.0.1", "10.0.0.2"),
        ])
    func roundTrip(proto: TransportProtocol, padding: Int, sender: String, target: String) throws {
        let p = samplePacket(proto: proto, padding: padding, sender: sender, target: target)
        let bytes = p.encode(key: probeKey)
        #expect(bytes.count == p.size)
        #expect(bytes.count == ProbePacket.minimumSize + padding)
        let decoded = try ProbePacket.decode(bytes, key: probeKey).get()
        #expect(decoded == p)
    }

    @Test("the wire layout is as documented")
    func layout() {
        let p = samplePacket(proto: .udp, padding: 3)
        let b = p.encode(key: probeKey)
        #expect(ProbePacket.minimumSize == 118)
        #expect(Array(b[0..<4]) == Array("SWPB".utf8))
        #expect(b[4] == 1 && b[5] == 1 && b[6] == 17 && b[7] == 0)
        #expect(Array(b[8..<10]) == [0x12, 0xb5])  // 4789
        #expect(Array(b[10..<12]) == [0x1f, 0x0a])  // 7946
        #expect(Array(b[20..<36]) == Array(1...16))
        #expect(Array(b[36..<52]) == Array(101...116))
        #expect(Array(b[52..<68]) == ip("10.0.0.1").bytes16)
        #expect(Array(b[68..<84]) == ip("10.0.0.2").bytes16)
        #expect(Array(b[84..<86]) == [0, 3])
        #expect(Array(b[86..<89]) == [0, 0, 0])
        #expect(Array(b[89...]) == Array(HMAC<SHA256>.authenticationCode(for: b[0..<89], using: probeKey)))
        #expect(samplePacket(proto: .tcp).encode(key: probeKey)[6] == 6)
        #expect(samplePacket(proto: .esp).encode(key: probeKey)[6] == 50)
    }

    @Test("an echo keeps identity and size and is never larger", arguments: [0, 64, 1400])
    func echo(padding: Int) throws {
        let p = samplePacket(padding: padding)
        let e = p.echo(timeMs: 1_700_000_000_999)
        #expect(e.type == .echo)
        #expect(e.timeMs == 1_700_000_000_999)
        #expect(e.nonce == p.nonce && e.runID == p.runID && e.sender == p.sender && e.target == p.target)
        #expect(e.targetPort == p.targetPort && e.replyPort == p.replyPort && e.proto == p.proto)
        let eb = e.encode(key: probeKey)
        #expect(eb.count == p.encode(key: probeKey).count)
        #expect(eb.count == e.size)
        #expect(try ProbePacket.decode(eb, key: probeKey).get() == e)
    }

    @Test("decodes from any byte collection, including a slice with a non-zero start")
    func slices() throws {
        let p = samplePacket(padding: 5)
        let buffer = [UInt8](repeating: 0xee, count: 7) + p.encode(key: probeKey)
        #expect(try ProbePacket.decode(buffer[7...], key: probeKey).get() == p)
        #expect(try ProbePacket.decode(Data(p.encode(key: probeKey)), key: probeKey).get() == p)
    }

    static func mutated(_ change: @Sendable (inout [UInt8]) -> Void, padding: Int = 0) -> [UInt8] {
        var b = samplePacket(padding: padding).encode(key: probeKey)
        change(&b)
        return b
    }

    struct BadPacket: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var key: [UInt8] = [UInt8](repeating: 0x42, count: 32)
        var error: ProbePacket.DecodeError
        var testDescription: String { name }
    }

    static let badPackets: [BadPacket] = [
        BadPacket(name: "empty", bytes: [], error: .tooShort),
        BadPacket(name: "truncated by one byte (no padding)", bytes: mutated { $0.removeLast() }, error: .tooShort),
        BadPacket(name: "truncated header", bytes: Array(samplePacket().encode(key: probeKey).prefix(40)), error: .tooShort),
        BadPacket(name: "truncated by one byte (with padding)", bytes: mutated({ $0.removeLast() }, padding: 10), error: .badLength),
        BadPacket(name: "one byte too many", bytes: mutated { $0.append(0) }, error: .badLength),
        BadPacket(name: "longer than any probe", bytes: [UInt8](repeating: 0, count: ProbePacket.maximumSize + 1), error: .tooLong),
        BadPacket(name: "bad magic", bytes: mutated { $0[0] = UInt8(ascii: "X") }, error: .badMagic),
        BadPacket(name: "bad version", bytes: mutated { $0[4] = 2 }, error: .badVersion),
        BadPacket(name: "bad type", bytes: mutated { $0[5] = 3 }, error: .badType),
        BadPacket(name: "bad protocol", bytes: mutated { $0[6] = 1 }, error: .badProtocol),
        BadPacket(name: "padding field larger than the padding", bytes: mutated { $0[85] = 5 }, error: .badLength),
        BadPacket(name: "padding field smaller than the padding", bytes: mutated({ $0[85] = 2 }, padding: 4), error: .badLength),
        BadPacket(
            name: "padding field above the maximum",
            bytes: mutated {
                $0[84] = 0xff; $0[85] = 0xff
            }, error: .badLength),
        BadPacket(name: "flipped MAC bit", bytes: mutated { $0[$0.count - 1] ^= 0x01 }, error: .badMAC),
        BadPacket(name: "flipped first MAC bit", bytes: mutated { $0[ProbePacket.headerSize] ^= 0x80 }, error: .badMAC),
        BadPacket(name: "changed time", bytes: mutated { $0[19] ^= 0x01 }, error: .badMAC),
        BadPacket(name: "changed sender address", bytes: mutated { $0[67] ^= 0x01 }, error: .badMAC),
        BadPacket(name: "changed flags", bytes: mutated { $0[7] = 2 }, error: .badMAC),
        // The trailer flag set on a probe with no trailer: its length no longer adds up.
        BadPacket(name: "trailer flag without a trailer", bytes: mutated { $0[7] = 1 }, error: .badLength),
        BadPacket(name: "probe turned into echo", bytes: mutated { $0[5] = 2 }, error: .badMAC),
        BadPacket(name: "non-zero padding byte", bytes: mutated({ $0[86] = 1 }, padding: 2), error: .badMAC),
        BadPacket(name: "wrong key", bytes: samplePacket().encode(key: probeKey), key: [UInt8](repeating: 0x43, count: 32), error: .badMAC),
        BadPacket(name: "MAC stripped", bytes: Array(samplePacket(padding: 40).encode(key: probeKey).dropLast(32)), error: .badLength),
    ]

    @Test("decode refuses with the right error", arguments: badPackets)
    func refuses(_ bad: BadPacket) {
        let result = ProbePacket.decode(bad.bytes, key: SymmetricKey(data: bad.key))
        switch result {
        case .success: Issue.record("\(bad.name) decoded")
        case .failure(let e): #expect(e == bad.error)
        }
    }

    @Test("a packet made with another key does not authenticate")
    func otherKeyPacket() {
        let b = samplePacket().encode(key: otherKey)
        #expect(throws: ProbePacket.DecodeError.badMAC) { try ProbePacket.decode(b, key: probeKey).get() }
        #expect((try? ProbePacket.decode(b, key: otherKey).get()) == samplePacket())
    }

    @Test("decode errors read as one line")
    func errorText() {
        for e in [ProbePacket.DecodeError.tooShort, .tooLong, .badMagic, .badVersion, .badType, .badProtocol, .badLength, .badMAC, .badAddress] {
            #expect(!e.rawValue.isEmpty && !e.rawValue.contains("\n"))
        }
    }
}

@Suite("ReplayGuard")
struct ReplayGuardTests {
    static func nonce(_ n: Int) -> [UInt8] { [UInt8](repeating: 0, count: 8) + withUnsafeBytes(of: UInt64(n).bigEndian) { Array($0) } }
    let now: UInt64 = 1_700_000_000_000

    @Test("fresh, then replayed")
    func freshThenReplayed() {
        var g = ReplayGuard(windowMs: 60_000)
        #expect(g.check(nonce: Self.nonce(1), timeMs: now, now: now) == .fresh)
        #expect(g.check(nonce: Self.nonce(1), timeMs: now, now: now + 10) == .replayed)
        #expect(g.check(nonce: Self.nonce(1), timeMs: now + 5, now: now + 20) == .replayed, "the nonce alone identifies a replay")
        #expect(g.check(nonce: Self.nonce(2), timeMs: now, now: now + 30) == .fresh)
        #expect(g.count == 2)
    }

    @Test(
        "stale and future timestamps, inclusive window edges",
        arguments: [
            (Int64(-60_001), ReplayGuard.Verdict.stale),
            (-60_000, .fresh),
            (-1, .fresh),
            (0, .fresh),
            (60_000, .fresh),
            (60_001, .future),
        ])
    func window(offset: Int64, verdict: ReplayGuard.Verdict) {
        var g = ReplayGuard(windowMs: 60_000)
        let t = UInt64(Int64(now) + offset)
        #expect(g.check(nonce: Self.nonce(7), timeMs: t, now: now) == verdict)
        #expect(g.count == (verdict == .fresh ? 1 : 0))
    }

    @Test("a nonce that is not 16 bytes is refused")
    func badNonce() {
        var g = ReplayGuard()
        #expect(g.check(nonce: [1, 2, 3], timeMs: now, now: now) != .fresh)
        #expect(g.count == 0)
    }

    @Test("when full it fails closed, but still recognises replays")
    func full() {
        var g = ReplayGuard(windowMs: 60_000, capacity: 2)
        #expect(g.check(nonce: Self.nonce(1), timeMs: now, now: now) == .fresh)
        #expect(g.check(nonce: Self.nonce(2), timeMs: now, now: now) == .fresh)
        #expect(g.check(nonce: Self.nonce(3), timeMs: now, now: now + 1) == .full)
        #expect(g.check(nonce: Self.nonce(3), timeMs: now, now: now + 2_000) == .full, "pruning frees nothing inside the window")
        #expect(g.check(nonce: Self.nonce(1), timeMs: now, now: now + 2) == .replayed)
        #expect(g.count == 2)
    }

    @Test("entries expire after the window and free their room")
    func expiry() {
        var g = ReplayGuard(windowMs: 1_000, capacity: 1)
        #expect(g.check(nonce: Self.nonce(1), timeMs: now, now: now) == .fresh)
        #expect(g.check(nonce: Self.nonce(2), timeMs: now + 500, now: now + 500) == .full)
        #expect(g.check(nonce: Self.nonce(2), timeMs: now + 1_001, now: now + 1_001) == .fresh)
        #expect(g.count == 1)
        #expect(g.check(nonce: Self.nonce(1), timeMs: now, now: now + 1_002) == .stale, "the old nonce is refused by its time")
    }

    @Test("an entry from the sender's future is kept until its own time leaves the window")
    func futureEntryKept() {
        var g = ReplayGuard(windowMs: 60_000)
        let t = now + 50_000
        #expect(g.check(nonce: Self.nonce(1), timeMs: t, now: now) == .fresh)
        #expect(g.check(nonce: Self.nonce(1), timeMs: t, now: now + 100_000) == .replayed)
    }

    /// Regression (fixed): a nonce accepted with `timeMs >= now` gets expiry `timeMs + window`, pruning keeps
    /// only entries with expiry `> now`, yet `check` still accepts a timestamp exactly `window`
    /// old. So at `now == timeMs + window` the same probe or control request is accepted again.
    /// (Sender clock behind: the entry outlives the window and the replay is caught.)
    @Test("a replay exactly at the window edge is still a replay", arguments: [Int64(-30_000), -1, 0, 1, 30_000])
    func replayAtWindowEdge(senderAhead: Int64) {
        var g = ReplayGuard(windowMs: 60_000)
        let t = UInt64(Int64(now) + senderAhead)
        #expect(g.check(nonce: Self.nonce(9), timeMs: t, now: now) == .fresh)
        #expect(g.check(nonce: Self.nonce(9), timeMs: t, now: t + 60_000) == .replayed)
    }

    /// Regression (fixed): `timeMs + windowMs` and `now + windowMs` overflow and trap for a timestamp near
    /// `UInt64.max`; an agent must refuse such a timestamp, not crash.
    @Test("an absurd timestamp is refused, not a crash")
    func hugeTimestamp() async {
        await #expect(processExitsWith: .success) {
            var g = ReplayGuard(windowMs: 60_000)
            let nonce = [UInt8](repeating: 1, count: 16)
            let verdict = g.check(nonce: nonce, timeMs: UInt64.max, now: 1_700_000_000_000)
            let verdict2 = g.check(nonce: nonce, timeMs: 1_700_000_000_000, now: UInt64.max)
            if verdict != .future || verdict2 != .stale { exit(3) }
        }
    }
}
