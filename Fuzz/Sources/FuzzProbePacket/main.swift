import Crypto
import FuzzCommon
import SwarmProbeCore

/// `ProbePacket.decode` as the responder, prober and taps call it: on a whole datagram, on a slice of
/// a larger buffer, and after a VXLAN header (data-path probes). Then the same bytes with a valid MAC
/// appended over them, so the fuzzer gets past authentication to the fields behind it: anything that
/// decodes must encode back to a packet that decodes to the same value, and its echo must be no larger.
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = start.fuzzBytes(count)
    FuzzProbePacket.run(bytes)
    return 0
}

enum FuzzProbePacket {
    static let vxlanHeader: [UInt8] = [0x08, 0, 0, 0, 0xFF, 0xFF, 0xF0, 0]

    static func run(_ bytes: [UInt8]) {
        let key = FuzzCheck.key
        check(ProbePacket.decode(bytes, key: key), key: key)
        // A slice whose indices do not start at 0, as a ByteBuffer view or ArraySlice gives it.
        check(ProbePacket.decode(bytes.dropFirst(min(1, bytes.count)), key: key), key: key)
        if bytes.count > 8, bytes.prefix(8).elementsEqual(vxlanHeader) {
            check(ProbePacket.decode(bytes.dropFirst(8), key: key), key: key)
        }
        // Signed: the input is the header and padding, the fuzzer's MAC is replaced by a real one.
        if bytes.count >= ProbePacket.headerSize {
            let body = Array(bytes.prefix(bytes.count - min(bytes.count - ProbePacket.headerSize, ProbePacket.macSize)))
            let signed = body + Array(HMAC<SHA256>.authenticationCode(for: body, using: key))
            check(ProbePacket.decode(signed, key: key), key: key)
            if case .success = ProbePacket.decode(signed, key: SymmetricKey(data: [UInt8](repeating: 0x43, count: 32))) {
                fatalError("a packet signed with one key verified with another")
            }
        }
    }

    static func check(_ result: Result<ProbePacket, ProbePacket.DecodeError>, key: SymmetricKey) {
        guard case let .success(p) = result else { return }
        let again = p.encode(key: key)
        guard again.count == p.size, (ProbePacket.minimumSize...ProbePacket.maximumSize).contains(again.count) else {
            fatalError("decoded packet re-encodes to \(again.count) bytes, size says \(p.size)")
        }
        guard case let .success(q) = ProbePacket.decode(again, key: key), q == p else {
            fatalError("decoded packet does not survive encode/decode: \(p)")
        }
        let echo = p.echo(timeMs: FuzzCheck.now)
        guard echo.size == p.size, echo.encode(key: key).count == again.count else {
            fatalError("echo is not the probe's size")
        }
        FuzzCheck.requireRoundTrip(p.sender, "sender")
        FuzzCheck.requireRoundTrip(p.target, "target")
        // The replay window with a signed but arbitrary timestamp (must not overflow).
        var replay = ReplayGuard(windowMs: 60_000, capacity: 4)
        let first = replay.check(nonce: p.nonce, timeMs: p.timeMs, now: FuzzCheck.now)
        let second = replay.check(nonce: p.nonce, timeMs: p.timeMs, now: FuzzCheck.now)
        if first == .fresh && second != .replayed {
            fatalError("a fresh nonce was accepted twice (\(second))")
        }
    }
}
