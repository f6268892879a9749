import Crypto
import Foundation
import Testing

@testable import SwarmProbeCore

@Suite("ControlAuth")
struct ControlAuthTests {
    static var key: SymmetricKey { SymmetricKey(data: [UInt8](repeating: 7, count: 32)) }
    static let now: UInt64 = 1_700_000_000_000
    static let body = Array(#"{"runID":"00112233445566778899aabbccddeeff"}"#.utf8)
    static let nonce: [UInt8] = Array(0..<16)

    static func signed(ts: UInt64 = now, body: [UInt8] = body, key: SymmetricKey = key) -> (header: String, nonce: String) {
        ControlAuth.sign(key: key, method: "POST", path: ControlPath.run, body: body, timeMs: ts, nonce: nonce)
    }

    static func verify(
        _ header: String?, method: String = "POST", path: String = ControlPath.run, body: [UInt8] = body,
        key: SymmetricKey = key, now: UInt64 = now
    ) -> Result<String, ControlAuth.Failure> {
        var g = ReplayGuard()
        return ControlAuth.verify(header: header, key: key, method: method, path: path, body: body, now: now, guard: &g)
    }

    @Test("sign then verify succeeds and returns the nonce")
    func roundTrip() throws {
        let s = Self.signed()
        #expect(s.nonce == "000102030405060708090a0b0c0d0e0f")
        #expect(s.header.hasPrefix("SWP1 ts=1700000000000,nonce=000102030405060708090a0b0c0d0e0f,mac="))
        #expect(s.header.count == "SWP1 ts=1700000000000,nonce=".count + 32 + ",mac=".count + 64)
        #expect(try Self.verify(s.header).get() == s.nonce)
    }

    @Test("random nonces differ; an empty body signs and verifies")
    func randomNonce() throws {
        let a = ControlAuth.sign(key: Self.key, method: "GET", path: ControlPath.hello, body: [], timeMs: Self.now)
        let b = ControlAuth.sign(key: Self.key, method: "GET", path: ControlPath.hello, body: [], timeMs: Self.now)
        #expect(a.nonce != b.nonce)
        #expect(try Self.verify(a.header, method: "GET", path: ControlPath.hello, body: []).get() == a.nonce)
    }

    @Test(
        "a wrong key, or any change to method, path, body or header, fails the MAC",
        arguments: [
            "wrong key", "method", "path", "body", "body appended", "ts edited", "nonce edited", "mac edited",
        ])
    func badMAC(change: String) {
        let s = Self.signed()
        var header = s.header
        var method = "POST", path = ControlPath.run, body = Self.body
        var key = Self.key
        switch change {
        case "wrong key": key = SymmetricKey(data: [UInt8](repeating: 8, count: 32))
        case "method": method = "GET"
        case "path": path = ControlPath.log
        case "body": body[body.count - 3] ^= 1
        case "body appended": body.append(0x20)
        case "ts edited": header = header.replacingOccurrences(of: "ts=1700000000000", with: "ts=1700000000001")
        case "nonce edited": header = header.replacingOccurrences(of: "nonce=00", with: "nonce=ff")
        case "mac edited":
            let last = header.removeLast()
            header.append(last == "0" ? "1" : "0")
        default: Issue.record("unknown change \(change)")
        }
        #expect(Self.verify(header, method: method, path: path, body: body, key: key) == .failure(.badMAC))
    }

    @Test("the same request twice is a replay")
    func replay() {
        let s = Self.signed()
        var g = ReplayGuard()
        let first = ControlAuth.verify(
            header: s.header, key: Self.key, method: "POST", path: ControlPath.run, body: Self.body,
            now: Self.now, guard: &g)
        let second = ControlAuth.verify(
            header: s.header, key: Self.key, method: "POST", path: ControlPath.run, body: Self.body,
            now: Self.now + 100, guard: &g)
        #expect(first == .success(s.nonce))
        #expect(second == .failure(.replayed))
    }

    @Test("too old is stale, too new is from the future")
    func clock() {
        let window = ReplayGuard().windowMs
        #expect(Self.verify(Self.signed(ts: Self.now - window - 1).header) == .failure(.stale))
        #expect(Self.verify(Self.signed(ts: Self.now + window + 1).header) == .failure(.future))
        #expect((try? Self.verify(Self.signed(ts: Self.now - window).header).get()) != nil)
    }

    @Test("a full replay guard answers busy")
    func busy() {
        var g = ReplayGuard(windowMs: 60_000, capacity: 1)
        let a = ControlAuth.sign(key: Self.key, method: "POST", path: ControlPath.run, body: Self.body, timeMs: Self.now)
        let b = ControlAuth.sign(key: Self.key, method: "POST", path: ControlPath.run, body: Self.body, timeMs: Self.now)
        _ = ControlAuth.verify(header: a.header, key: Self.key, method: "POST", path: ControlPath.run, body: Self.body, now: Self.now, guard: &g)
        #expect(
            ControlAuth.verify(
                header: b.header, key: Self.key, method: "POST", path: ControlPath.run, body: Self.body,
                now: Self.now, guard: &g) == .failure(.busy))
    }

    static let goodNonce = "000102030405060708090a0b0c0d0e0f"
    static let goodMAC = String(repeating: "ab", count: 32)

    @Test(
        "malformed headers",
        arguments: [
            (String?.none, ControlAuth.Failure.missing),
            ("", .malformed("expected scheme SWP1")),
            ("Bearer abc", .malformed("expected scheme SWP1")),
            ("SWP1", .malformed("expected scheme SWP1")),
            ("swp1 ts=1,nonce=\(goodNonce),mac=\(goodMAC)", .malformed("expected scheme SWP1")),
            ("SWP1 ts", .malformed("field \"ts\" is not key=value")),
            ("SWP1 ", .malformed("field ts")),
            ("SWP1 nonce=\(goodNonce),mac=\(goodMAC)", .malformed("field ts")),
            ("SWP1 ts=abc,nonce=\(goodNonce),mac=\(goodMAC)", .malformed("field ts")),
            ("SWP1 ts=-5,nonce=\(goodNonce),mac=\(goodMAC)", .malformed("field ts")),
            ("SWP1 ts=1,mac=\(goodMAC)", .malformed("field nonce")),
            ("SWP1 ts=1,nonce=0011,mac=\(goodMAC)", .malformed("field nonce")),
            ("SWP1 ts=1,nonce=\(String(repeating: "zz", count: 16)),mac=\(goodMAC)", .malformed("field nonce")),
            ("SWP1 ts=1,nonce=\(goodNonce)", .malformed("field mac")),
            ("SWP1 ts=1,nonce=\(goodNonce),mac=abcd", .malformed("field mac")),
            ("SWP1 ts=1,nonce=\(goodNonce),mac=\(String(repeating: "g", count: 64))", .malformed("field mac")),
        ])
    func malformed(header: String?, failure: ControlAuth.Failure) {
        #expect(Self.verify(header) == .failure(failure))
    }

    @Test("failure descriptions are one line")
    func descriptions() {
        let all: [ControlAuth.Failure] = [.missing, .malformed("field ts"), .badMAC, .stale, .future, .replayed, .busy]
        for f in all { #expect(!f.description.isEmpty && !f.description.contains("\n")) }
        #expect(ControlAuth.Failure.malformed("field ts").description == "malformed Authorization header: field ts")
    }

    @Test("a signed response verifies; any change does not")
    func response() {
        let body = Array(#"{"ok":true}"#.utf8)
        let mac = ControlAuth.responseMAC(key: Self.key, requestNonce: Self.goodNonce, status: 200, body: body)
        #expect(mac.count == 64)
        #expect(ControlAuth.verifyResponse(key: Self.key, requestNonce: Self.goodNonce, status: 200, body: body, mac: mac))
        #expect(ControlAuth.verifyResponse(key: Self.key, requestNonce: Self.goodNonce, status: 200, body: body, mac: mac.uppercased()))
        #expect(!ControlAuth.verifyResponse(key: Self.key, requestNonce: Self.goodNonce, status: 500, body: body, mac: mac))
        #expect(!ControlAuth.verifyResponse(key: Self.key, requestNonce: Self.goodNonce, status: 200, body: body + [0x20], mac: mac))
        #expect(!ControlAuth.verifyResponse(key: Self.key, requestNonce: "ff" + Self.goodNonce.dropFirst(2), status: 200, body: body, mac: mac))
        #expect(
            !ControlAuth.verifyResponse(
                key: SymmetricKey(data: [UInt8](repeating: 8, count: 32)), requestNonce: Self.goodNonce,
                status: 200, body: body, mac: mac))
        #expect(!ControlAuth.verifyResponse(key: Self.key, requestNonce: Self.goodNonce, status: 200, body: body, mac: nil))
        #expect(!ControlAuth.verifyResponse(key: Self.key, requestNonce: Self.goodNonce, status: 200, body: body, mac: "xyz"))
        #expect(!ControlAuth.verifyResponse(key: Self.key, requestNonce: Self.goodNonce, status: 200, body: body, mac: String(mac.dropLast(2))))
    }

    @Test("a request MAC is not a response MAC")
    func domainSeparation() {
        let s = Self.signed()
        let requestMAC = String(s.header.split(separator: "=").last!)
        #expect(!ControlAuth.verifyResponse(key: Self.key, requestNonce: s.nonce, status: 200, body: Self.body, mac: requestMAC))
    }

    /// Regression (fixed): a correctly signed header with `ts` near `UInt64.max` reaches `ReplayGuard.check`,
    /// whose `timeMs + windowMs` traps; the agent dies instead of answering "future".
    @Test("a signed request with an absurd timestamp is refused, not a crash")
    func hugeTimestamp() async {
        await #expect(processExitsWith: .success) {
            let key = SymmetricKey(data: [UInt8](repeating: 7, count: 32))
            let s = ControlAuth.sign(key: key, method: "POST", path: "/v1/run", body: [], timeMs: UInt64.max)
            var g = ReplayGuard()
            let r = ControlAuth.verify(
                header: s.header, key: key, method: "POST", path: "/v1/run", body: [],
                now: 1_700_000_000_000, guard: &g)
            if r != .failure(.future) { exit(3) }
        }
    }
}
