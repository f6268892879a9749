import Crypto
import Foundation
import Testing

@testable import SwarmProbeCore

@Suite("ClusterToken")
struct TokenTests {
    static let hex = "4f3c2a1b0e9d8c7b6a5948372615f4e3d2c1b0a99887766554433221100ffeed"

    static func keyBytes(_ k: SymmetricKey) -> [UInt8] { k.withUnsafeBytes { Array($0) } }

    @Test(
        "a good token file parses",
        arguments: [
            hex,
            hex + "\n",
            "# swarmprobe token, made 2024-01-01\n\n" + hex + "\n",
            "  # indented comment\n\t" + hex + "  \n\n",
            hex.uppercased() + "\n",
            "# windows line ends\r\n" + hex + "\r\n",
        ])
    func good(text: String) throws {
        let t = try ClusterToken.parse(text, source: "token")
        let reference = ClusterToken(secret: try #require(Hex.decode(Self.hex)))
        #expect(Self.keyBytes(t.probeKey) == Self.keyBytes(reference.probeKey))
        #expect(Self.keyBytes(t.controlKey) == Self.keyBytes(reference.controlKey))
    }

    @Test("probe and control keys are distinct, 32 bytes, and differ between tokens")
    func keys() throws {
        let t = try ClusterToken.parse(Self.hex, source: "token")
        #expect(Self.keyBytes(t.probeKey).count == 32)
        #expect(Self.keyBytes(t.probeKey) != Self.keyBytes(t.controlKey))
        let other = try ClusterToken.parse(String(Self.hex.reversed()), source: "token")
        #expect(Self.keyBytes(other.probeKey) != Self.keyBytes(t.probeKey))
    }

    @Test("generate makes 64 lowercase hex digits that parse, fresh each time")
    func generate() throws {
        let a = ClusterToken.generate(), b = ClusterToken.generate()
        #expect(a.count == 64 && a.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(a != b)
        _ = try ClusterToken.parse(a + "\n", source: "token")
    }

    static let empty = "secrets/token:1: token: the file is empty (make a token with `swarmprobe token > secrets/token`)"
    static func length(_ line: Int, _ n: Int) -> String {
        "secrets/token:\(line): token: expected 64 hex digits (32 bytes), got \(n) characters (make one with `swarmprobe token`)"
    }
    static let badFiles: [(String, String)] = [
        ("", empty),
        ("\n\n", empty),
        ("# only a comment\n", empty),
        ("abcd\n", length(1, 4)),
        ("# comment\n\n" + hex + "0\n", length(3, 65)),
        (
            "# comment\n" + String(hex.dropLast()) + "g\n",
            "secrets/token:2: token: expected 64 hex digits (32 bytes), but the line holds characters other than 0-9 and a-f (make one with `swarmprobe token`)"
        ),
        ("# comment\n" + hex + "\n" + hex + "\n", "secrets/token:2: token: expected one line of 64 hex digits, found 2 lines"),
        ("a b\nc\n", "secrets/token:1: token: expected one line of 64 hex digits, found 2 lines"),
        (String(hex.prefix(32)) + " " + String(hex.suffix(32)), length(1, 65)),
    ]

    @Test("bad token files name the source and the line", arguments: badFiles)
    func bad(text: String, message: String) {
        let e = inputError { () throws(InputError) in try ClusterToken.parse(text, source: "secrets/token") }
        #expect(e?.description == message)
    }

    /// Regression (fixed): the line number is found by splitting on the Character "\n", but in Swift "\r\n"
    /// is one Character, so a token file with Windows line ends gets errors without a line.
    @Test("errors in a file with CRLF line ends still name the line")
    func crlfLine() {
        let e = inputError { () throws(InputError) in try ClusterToken.parse("# comment\r\nabcd\r\n", source: "token") }
        #expect(e?.description == "token:2: token: expected 64 hex digits (32 bytes), got 4 characters (make one with `swarmprobe token`)")
    }

    @Test("an unreadable token file is a one-line error naming the path")
    func missingFile() {
        let path = "/nonexistent/swarmprobe-test/token"
        let e = inputError { () throws(InputError) in try ClusterToken.load(path: path) }
        #expect(e?.source == path)
        #expect(e?.description.hasPrefix("\(path): token: cannot read the token file (") == true)
        #expect(e?.description.contains("\n") == false)
    }

    @Test("Hex", arguments: [("", [UInt8]()), ("00ff", [0, 255]), ("0A1b", [10, 27])])
    func hexCodec(text: String, bytes: [UInt8]) {
        #expect(Hex.decode(text) == bytes)
        #expect(Hex.encode(bytes) == text.lowercased())
    }

    @Test("Hex refuses", arguments: ["0", "0g", "zz", "0x00", " 00", "éé"])
    func hexRefuses(text: String) {
        #expect(Hex.decode(text) == nil)
    }
}
