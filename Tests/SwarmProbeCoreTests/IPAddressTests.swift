import Foundation
import Testing

@testable import SwarmProbeCore

@Suite("IPAddress")
struct IPAddressTests {
    @Test(
        "parses and prints (RFC 5952 for IPv6)",
        arguments: [
            ("10.0.0.1", "10.0.0.1"),
            ("0.0.0.0", "0.0.0.0"),
            ("255.255.255.255", "255.255.255.255"),
            ("192.168.100.7", "192.168.100.7"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("fe80::1", "fe80::1"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),  // a single zero group is not compressed
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),  // the longest run
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),  // the first of equal runs
            ("0:0:0:0:0:0:0:1", "::1"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ])
    func valid(text: String, printed: String) throws {
        let a = try #require(IPAddress(text))
        #expect(a.description == printed)
        #expect(IPAddress(printed) == a, "the printed form parses back to the same address")
        #expect(a.isIPv4 == !text.contains(":"))
    }

    @Test("::ffff:1.2.3.4 parses and is 1.2.3.4 on the wire")
    func mapped() throws {
        let a = try #require(IPAddress("::ffff:1.2.3.4"))
        #expect(a.bytes16 == ip("1.2.3.4").bytes16)
        #expect(IPAddress("::FFFF:1.2.3.4") == a)
    }

    @Test(
        "refuses",
        arguments: [
            "", " ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "01.2.3.4", "1.2.3.04", "1.2.3.-4", "+1.2.3.4",
            "1..2.3", "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/24", "١.٢.٣.٤",
            "1::2::3", "fe80::1%eth0", ":::", ":1", "1:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4::5:6:7:8",
            "12345::", "::g", "g::", "::1.2.3", "::256.1.1.1", "1.2.3.4::", "::1.2.3.4:5", "[::1]", "localhost",
        ])
    func invalid(text: String) {
        #expect(IPAddress(text) == nil, "\"\(text)\" parsed as \(IPAddress(text)?.description ?? "")")
    }

    /// Regression (fixed): IPv6 groups are read with `UInt16(item, radix: 16)`, which accepts a leading
    /// `+` or `-`, so these are taken for `1::`, `1:2:3:4:5:6:7:8` and `::`.
    @Test("refuses a sign in an IPv6 group", arguments: ["+1::", "1:2:3:4:5:6:7:+8", "::-0", "-0::1"])
    func signedGroup(text: String) {
        #expect(IPAddress(text) == nil, "\"\(text)\" parsed as \(IPAddress(text)?.description ?? "")")
    }

    @Test("bytes16: IPv4 is IPv4-mapped, IPv6 is its 16 bytes")
    func bytes16Layout() {
        #expect(ip("10.1.2.3").bytes16 == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3])
        #expect(ip("2001:db8::1").bytes16 == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(ip("::").bytes16 == [UInt8](repeating: 0, count: 16))
        #expect(IPAddress(bytes16: [UInt8](repeating: 0, count: 15)) == nil)
        #expect(IPAddress(bytes16: [UInt8](repeating: 0, count: 17)) == nil)
    }

    /// Regression (fixed): `::ffff:1.2.3.4` parses to `.v6` but comes back from the wire as `.v4(1,2,3,4)`,
    /// so an inventory address written that way never matches the address a probe names.
    @Test(
        "bytes16 round trip gives back the same address",
        arguments: [
            "10.0.0.1", "0.0.0.0", "255.255.255.255", "::", "::1", "2001:db8::1", "fe80::1:2", "::ffff:1.2.3.4",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1.2.3.4", "::fffe:1.2.3.4",
        ])
    func roundTrip(text: String) throws {
        let a = try #require(IPAddress(text))
        #expect(IPAddress(bytes16: a.bytes16) == a)
    }

    @Test("JSON is the printed form; junk is a decoding error")
    func json() throws {
        let data = try JSONEncoder().encode([ip("10.0.0.1"), ip("2001:DB8::1")])
        #expect(String(decoding: data, as: UTF8.self) == #"["10.0.0.1","2001:db8::1"]"#)
        #expect(try JSONDecoder().decode([IPAddress].self, from: data) == [ip("10.0.0.1"), ip("2001:db8::1")])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPAddress].self, from: Data(#"["10.0.0.300"]"#.utf8)) }
    }
}
