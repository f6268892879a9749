import Crypto
import Foundation
import Testing

@testable import SwarmProbeCore

/// Every input in `Fixtures/fuzz-regressions/<fuzzer>/`, through what that fuzzer checks
/// (`Fuzz/Sources/<fuzzer>/main.swift`, repeated here because a test target cannot depend on the fuzz
/// package: change both together). Inputs are seeds worth keeping and everything a fuzzer ever failed on.
///
/// A file named `known-*` still fails today: its test is wrapped in `withKnownIssue`, so it passes while
/// the bug is there and fails ("known issue was not recorded") once it is fixed; then drop the `known-`.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static func inputs(_ fuzzer: String) -> [String] {
        let dir = Fixture.directory.appendingPathComponent("fuzz-regressions").appendingPathComponent(fuzzer)
        return fixtureNames(dir)
    }

    static func bytes(_ fuzzer: String, _ name: String) throws -> [UInt8] {
        let url = Fixture.directory.appendingPathComponent("fuzz-regressions").appendingPathComponent(fuzzer)
            .appendingPathComponent(name)
        return [UInt8](try Data(contentsOf: url))
    }

    /// Runs `body`, inside `withKnownIssue` for a `known-*` input.
    static func check(_ name: String, _ body: () -> Void) {
        if name.hasPrefix("known-") {
            withKnownIssue("\(name): a bug the fuzzer found, not fixed yet") { body() }
        } else {
            body()
        }
    }

    // MARK: FuzzCheck (Fuzz/Sources/FuzzCommon/Checks.swift)

    static var key: SymmetricKey { SymmetricKey(data: [UInt8](repeating: 0x42, count: 32)) }
    static var otherKey: SymmetricKey { SymmetricKey(data: [UInt8](repeating: 0x43, count: 32)) }
    static let selfAddress = IPAddress.v4(10, 0, 0, 1)
    static let kinds = Set(DefaultProfile.load().enabledKinds.map(\.kindID))
    static let now: UInt64 = 1_700_000_000_000

    static func expectOneLine(_ message: String, _ what: String) {
        let spansLines = message.contains(where: \.isNewline)
        #expect(!spansLines, "\(what): message spans lines: \(String(reflecting: message))")
    }

    static func expectRoundTrip(_ address: IPAddress) {
        #expect(IPAddress(address.description) == address, "\(address) does not parse back from its description")
        #expect(IPAddress(bytes16: address.bytes16) == address, "\(address) does not come back from its wire bytes")
    }

    // MARK: FuzzProbePacket

    @Test("ProbePacket.decode", arguments: inputs("FuzzProbePacket"))
    func probePacket(_ name: String) throws {
        let bytes = try Self.bytes("FuzzProbePacket", name)
        Self.check(name) {
            Self.expectDecodes(ProbePacket.decode(bytes, key: Self.key))
            Self.expectDecodes(ProbePacket.decode(bytes.dropFirst(min(1, bytes.count)), key: Self.key))
            if bytes.count > 8, bytes.prefix(8).elementsEqual([0x08, 0, 0, 0, 0xFF, 0xFF, 0xF0, 0]) {
                Self.expectDecodes(ProbePacket.decode(bytes.dropFirst(8), key: Self.key))
            }
            if bytes.count >= ProbePacket.headerSize {
                let body = Array(bytes.prefix(bytes.count - min(bytes.count - ProbePacket.headerSize, ProbePacket.macSize)))
                let signed = body + Array(HMAC<SHA256>.authenticationCode(for: body, using: Self.key))
                Self.expectDecodes(ProbePacket.decode(signed, key: Self.key))
                if case .success = ProbePacket.decode(signed, key: Self.otherKey) {
                    Issue.record("a packet signed with one key verified with another")
                }
            }
        }
    }

    static func expectDecodes(_ result: Result<ProbePacket, ProbePacket.DecodeError>) {
        guard case let .success(p) = result else { return }
        let again = p.encode(key: key)
        #expect(again.count == p.size && (ProbePacket.minimumSize...ProbePacket.maximumSize).contains(again.count))
        let decodedAgain = try? ProbePacket.decode(again, key: key).get()
        #expect(decodedAgain == p, "does not survive encode/decode: \(p)")
        let echo = p.echo(timeMs: now)
        #expect(echo.size == p.size && echo.encode(key: key).count == again.count)
        expectRoundTrip(p.sender)
        expectRoundTrip(p.target)
        var replay = ReplayGuard(windowMs: 60_000, capacity: 4)
        let first = replay.check(nonce: p.nonce, timeMs: p.timeMs, now: now)
        let second = replay.check(nonce: p.nonce, timeMs: p.timeMs, now: now)
        #expect(first != .fresh || second == .replayed, "a fresh nonce was accepted twice")
    }

    // MARK: FuzzControl

    @Test("ControlAuth.verify, WireCodec.decode, RunRequest.validate, ClusterToken.parse", arguments: inputs("FuzzControl"))
    func control(_ name: String) throws {
        let bytes = try Self.bytes("FuzzControl", name)
        Self.check(name) {
            let split = bytes.firstIndex(of: 0x0A) ?? bytes.count
            let header = String(decoding: bytes[..<split], as: UTF8.self)
            let body = Array(bytes[min(split + 1, bytes.count)...])

            var replay = ReplayGuard(windowMs: 60_000, capacity: 16)
            if case let .failure(f) = ControlAuth.verify(
                header: header, key: Self.key, method: "POST", path: ControlPath.run,
                body: body, now: Self.now, guard: &replay)
            {
                Self.expectOneLine(f.description, "ControlAuth.verify")
            }
            do {
                let request = try WireCodec.decode(RunRequest.self, from: body, source: "run request")
                request.probes.forEach { Self.expectRoundTrip($0.target) }
                request.nodes.forEach { Self.expectRoundTrip($0.address) }
                do {
                    try request.validate(selfAddress: Self.selfAddress, kinds: Self.kinds)
                } catch {
                    Self.expectOneLine(String(describing: error), "RunRequest.validate")
                }
            } catch {
                Self.expectOneLine(String(describing: error), "WireCodec.decode(RunRequest)")
            }
            do {
                _ = try WireCodec.decode(LogRequest.self, from: body, source: "log request")
            } catch {
                Self.expectOneLine(String(describing: error), "WireCodec.decode(LogRequest)")
            }

            let nonce = Array((bytes + [UInt8](repeating: 0, count: 16)).prefix(16))
            let ts = Self.now &+ UInt64(bytes.count) &- 30_000
            let signed = ControlAuth.sign(key: Self.key, method: "POST", path: ControlPath.run, body: body, timeMs: ts, nonce: nonce)
            var fresh = ReplayGuard(windowMs: 60_000, capacity: 16)
            #expect(
                ControlAuth.verify(
                    header: signed.header, key: Self.key, method: "POST", path: ControlPath.run, body: body,
                    now: Self.now, guard: &fresh) == .success(signed.nonce))
            #expect(
                ControlAuth.verify(
                    header: signed.header, key: Self.key, method: "POST", path: ControlPath.run, body: body,
                    now: Self.now, guard: &fresh) == .failure(.replayed))
            #expect(
                ControlAuth.verify(
                    header: signed.header, key: Self.key, method: "POST", path: ControlPath.log, body: body,
                    now: Self.now, guard: &fresh) == .failure(.badMAC))
            do {
                _ = try ClusterToken.parse(header, source: "token")
            } catch {
                Self.expectOneLine(String(describing: error), "ClusterToken.parse")
            }
        }
    }

    // MARK: FuzzInventory

    @Test("Inventory.parse", arguments: inputs("FuzzInventory"))
    func inventory(_ name: String) throws {
        let text = String(decoding: try Self.bytes("FuzzInventory", name), as: UTF8.self)
        Self.check(name) {
            do {
                let inventory = try Inventory.parse(text, source: "fuzz.yaml")
                let nodes = inventory.nodes
                #expect(!nodes.isEmpty && !inventory.managers.isEmpty)
                #expect(Set(nodes.map(\.name)).count == nodes.count && Set(nodes.map(\.address)).count == nodes.count)
                for node in nodes {
                    Self.expectRoundTrip(node.address)
                    #expect((1...65535).contains(node.control.port) && !node.control.host.isEmpty)
                }
            } catch {
                Self.expectOneLine(String(describing: error), "Inventory.parse")
            }
        }
    }

    // MARK: FuzzProfile

    @Test("Profile.parse", arguments: inputs("FuzzProfile"))
    func profile(_ name: String) throws {
        let text = String(decoding: try Self.bytes("FuzzProfile", name), as: UTF8.self)
        Self.check(name) {
            do {
                let profile = try Profile.parse(text, source: "fuzz.yaml")
                let kinds = profile.kinds
                #expect(!profile.enabledKinds.isEmpty)
                #expect(Set(kinds.map(\.kindID)).count == kinds.count && Set(kinds.map(\.name)).count == kinds.count)
                #expect(kinds.filter(\.dataPath).count <= 1)
                let wellFormed = kinds.allSatisfy { k in
                    (k.port.map { (1...65535).contains($0) } ?? (k.proto == .esp)) && !k.from.isEmpty && !k.to.isEmpty
                }
                #expect(wellFormed)
                for port in [0, 4789, 7789, 7946, 65535, 65536] {
                    do {
                        let moved = try profile.withDataPathPort(port)
                        #expect(Set(moved.kinds.map(\.kindID)).count == kinds.count)
                    } catch {
                        Self.expectOneLine(String(describing: error), "withDataPathPort")
                    }
                }
            } catch {
                Self.expectOneLine(String(describing: error), "Profile.parse")
            }
        }
    }
}
