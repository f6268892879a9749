import Foundation
import SwarmProbeCapture
import SwarmProbeCore
import Testing

/// Every input in `Fixtures/fuzz-regressions/FuzzDissector/`, through what that fuzzer checks
/// (`Fuzz/Sources/FuzzDissector/main.swift`, repeated here because a test target cannot depend on the
/// fuzz package: change both together). The first byte picks the link type (an index into `linkTypes`,
/// modulo; the last index means `dissectIP`), the rest is the frame.
///
/// A file named `known-*` still fails today: its test is wrapped in `withKnownIssue`, so it passes while
/// the bug is there and fails ("known issue was not recorded") once it is fixed; then drop the `known-`.
@Suite("Fuzz regressions: Dissector")
struct DissectorFuzzRegressionTests {
    /// `LinkType.supported` in the order the fuzzer and its corpus use (`Fuzz/make-corpus.py`).
    static let linkTypes: [Int32] = [
        LinkType.null, LinkType.ethernet, LinkType.raw, LinkType.rawOpenBSD, LinkType.linktypeRaw, LinkType.loop,
        LinkType.linuxSLL, LinkType.ipv4, LinkType.ipv6, LinkType.nflog, LinkType.linuxSLL2,
    ]

    static var directory: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "the Fixtures resource folder is missing")
                .appendingPathComponent("fuzz-regressions").appendingPathComponent("FuzzDissector")
        }
    }

    /// The inputs; a missing or empty folder gives one name no file has, so the test fails on it instead of
    /// running zero cases.
    static func inputs() -> [String] {
        guard let dir = try? directory else { return ["(the Fixtures resource folder is missing)"] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.isEmpty ? ["(no fixtures in \(dir.path))"] : names
    }

    @Test("the fuzzer covers every link type the dissector reads")
    func coversEveryLinkType() {
        #expect(Set(Self.linkTypes) == LinkType.supported && Self.linkTypes.count == LinkType.supported.count)
    }

    @Test("there are regression inputs")
    func hasInputs() {
        #expect(!Self.inputs().contains { $0.hasPrefix("(") })
    }

    @Test("Dissector.dissect", arguments: inputs())
    func dissect(_ name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: try Self.directory.appendingPathComponent(name)))
        if name.hasPrefix("known-") {
            withKnownIssue("\(name): a bug the fuzzer found, not fixed yet") { Self.check(bytes) }
        } else {
            Self.check(bytes)
        }
    }

    static func check(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let frame = Array(bytes.dropFirst())
        let choice = Int(first) % (linkTypes.count + 1)
        let packet: CapturedPacket?
        if choice < linkTypes.count {
            packet = Dissector.dissect(linkType: linkTypes[choice], frame, timestamp: 1)
            let viaBuffer = frame.withUnsafeBytes { Dissector.dissect(linkType: linkTypes[choice], $0, timestamp: 1) }
            #expect(viaBuffer == packet, "dissect([UInt8]) and dissect(UnsafeRawBufferPointer) disagree")
        } else {
            packet = Dissector.dissectIP(frame, timestamp: 1)
        }
        guard let packet else { return }
        #expect(packet.payload.count <= frame.count, "payload longer than the frame: \(packet)")
        #expect(
            (packet.proto == .esp) == (packet.sourcePort == nil) && (packet.proto == .tcp) == (packet.tcpFlags != nil),
            "ports or flags do not fit the protocol: \(packet)")
        for address in [packet.source, packet.destination] {
            #expect(
                IPAddress(address.description) == address && IPAddress(bytes16: address.bytes16) == address,
                "\(address) does not parse back")
        }
        _ = packet.description
    }
}
