import Crypto
import FuzzCommon
import SwarmProbeCore

/// The agent's control endpoint, past HTTP: the input is the `Authorization` header value, a newline,
/// then the request body. The header goes through `ControlAuth.verify` as received (parsing, almost
/// always a bad MAC); the body through `WireCodec.decode` as a `RunRequest` (then `validate`, as the
/// agent at 10.0.0.1 with the built-in profile does) and as a `LogRequest`. Then the same body and the
/// header's ts/nonce, properly signed, must verify exactly once. The header line also goes through
/// `ClusterToken.parse` (a token file is one line too).
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzControl.run(start.fuzzBytes(count))
    return 0
}

enum FuzzControl {
    static func run(_ bytes: [UInt8]) {
        let split = bytes.firstIndex(of: 0x0A) ?? bytes.count
        let header = String(decoding: bytes[..<split], as: UTF8.self)
        let body = Array(bytes[min(split + 1, bytes.count)...])
        let key = FuzzCheck.key

        var replay = ReplayGuard(windowMs: 60_000, capacity: 16)
        let verdict = ControlAuth.verify(
            header: header, key: key, method: "POST", path: ControlPath.run, body: body,
            now: FuzzCheck.now, guard: &replay)
        if case let .failure(f) = verdict {
            FuzzCheck.requireOneLine(f.description, "ControlAuth.verify")
        }

        do {
            let request = try WireCodec.decode(RunRequest.self, from: body, source: "run request")
            request.probes.forEach { FuzzCheck.requireRoundTrip($0.target, "probe target") }
            request.nodes.forEach { FuzzCheck.requireRoundTrip($0.address, "node address") }
            do {
                try request.validate(selfAddress: FuzzCheck.selfAddress, kinds: FuzzCheck.kinds)
            } catch {
                FuzzCheck.requireOneLine(error, "RunRequest.validate")
            }
        } catch {
            FuzzCheck.requireOneLine(error, "WireCodec.decode(RunRequest)")
        }
        do {
            _ = try WireCodec.decode(LogRequest.self, from: body, source: "log request")
        } catch {
            FuzzCheck.requireOneLine(error, "WireCodec.decode(LogRequest)")
        }

        // Sign and verify: a correctly signed request passes once, its replay never.
        let nonce = Array((bytes + [UInt8](repeating: 0, count: 16)).prefix(16))
        let ts = FuzzCheck.now &+ UInt64(bytes.count) &- 30_000
        let signed = ControlAuth.sign(key: key, method: "POST", path: ControlPath.run, body: body, timeMs: ts, nonce: nonce)
        var fresh = ReplayGuard(windowMs: 60_000, capacity: 16)
        let once = ControlAuth.verify(
            header: signed.header, key: key, method: "POST", path: ControlPath.run, body: body,
            now: FuzzCheck.now, guard: &fresh)
        guard once == .success(signed.nonce) else { fatalError("a signed request did not verify: \(once)") }
        let twice = ControlAuth.verify(
            header: signed.header, key: key, method: "POST", path: ControlPath.run, body: body,
            now: FuzzCheck.now, guard: &fresh)
        guard twice == .failure(.replayed) else { fatalError("a replayed request was not refused: \(twice)") }
        let otherPath = ControlAuth.verify(
            header: signed.header, key: key, method: "POST", path: ControlPath.log, body: body,
            now: FuzzCheck.now, guard: &fresh)
        guard otherPath == .failure(.badMAC) else { fatalError("a request signed for one path verified for another: \(otherPath)") }

        do {
            _ = try ClusterToken.parse(header, source: "token")
        } catch {
            FuzzCheck.requireOneLine(error, "ClusterToken.parse")
        }
    }
}
