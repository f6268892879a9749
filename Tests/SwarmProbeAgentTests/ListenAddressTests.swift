import SwarmProbeCore
import Testing

@testable import SwarmProbeAgent

@Suite("agent --address: one address, or the one of a list this host holds")
struct ListenAddressTests {
    let host: [(device: String, address: IPAddress)] = [
        ("lo", IPAddress("127.0.0.1")!), ("eth0", IPAddress("198.18.0.2")!), ("eth0", IPAddress("fe80::1")!),
        ("docker_gwbridge", IPAddress("172.18.0.1")!),
    ]

    @Test("a single address is used as given, held or not")
    func single() throws {
        #expect(try ListenAddress.resolve("198.18.9.9", interfaces: host) == IPAddress("198.18.9.9"))
    }

    @Test("from a list of advertise addresses or a prefix, the one this host holds")
    func picked() throws {
        #expect(try ListenAddress.resolve("198.18.0.1,198.18.0.2,198.18.0.3", interfaces: host) == IPAddress("198.18.0.2"))
        #expect(try ListenAddress.resolve("198.18.0.0/15", interfaces: host) == IPAddress("198.18.0.2"))
        #expect(try ListenAddress.resolve("127.0.0.1,10.0.0.1", interfaces: host) == IPAddress("127.0.0.1"))
    }

    @Test("none held, or several: one line naming what the host has")
    func refused() {
        #expect(
            throws: InputError(
                source: "--address",
                "none of this host's addresses is in 10.0.0.0/8 (it has 127.0.0.1 (lo), 198.18.0.2 (eth0), fe80::1 (eth0), 172.18.0.1 (docker_gwbridge))"
            )
        ) {
            try ListenAddress.resolve("10.0.0.0/8", interfaces: host)
        }
        #expect(
            throws: InputError(
                source: "--address", "several of this host's addresses are in 0.0.0.0/0: 198.18.0.2 (eth0), 172.18.0.1 (docker_gwbridge); name one")
        ) {
            try ListenAddress.resolve("0.0.0.0/0", interfaces: host)
        }
        #expect(throws: InputError(source: "--address", "\"198.18.0\" is not an IPv4 or IPv6 address or prefix (ADDR, ADDR,ADDR... or PREFIX/LEN)")) {
            try ListenAddress.resolve("198.18.0.1,198.18.0", interfaces: host)
        }
        #expect(throws: InputError.self) { try ListenAddress.parse("") }
    }
}
