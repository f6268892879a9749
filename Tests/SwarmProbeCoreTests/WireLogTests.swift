import Foundation
import Testing
@testable import SwarmProbeCore

@Suite("Log response bytes")
struct WireLogTests {
    static func sample(records: Int, entries: Int, seed: UInt64) -> LogResponse {
        var rng = SystemRandomNumberGenerator()  // a mismatch prints both texts
        let kinds = [KindID(proto: .tcp, port: 2377), KindID(proto: .udp, port: 7946), KindID(proto: .udp, port: 4789),
                     KindID(proto: .esp, port: nil)]
        let addresses: [IPAddress] = [.v4(198, 18, 0, 1), .v4(198, 19, 255, 254), IPAddress("fd00::1:2")!, IPAddress("2001:db8::ff")!]
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        let capture = (0..<records).map { i in
            CaptureRecord(tap: i % 3 == 0 ? .nflog : .interface, direction: i % 2 == 0 ? .inbound : .outbound, kind: pick(kinds),
                          peer: pick(addresses), peerPort: i % 5 == 0 ? nil : Int(rng.next() % 65536),
                          nonce: i % 4 == 0 ? nil : Hex.encode(randomBytes(16)), tcp: i % 4 == 0 ? pick(["syn", "syn-ack", "rst"]) : nil,
                          timeMs: Int64(1_790_000_000_000 + Int(rng.next() % 1_000_000)))
        }
        let log = (0..<entries).map { i in
            ReceiveLogEntry(nonce: Hex.encode(randomBytes(16)), runID: Hex.encode(randomBytes(16)), kind: pick(kinds),
                            claimedSender: pick(addresses), sourceAddress: pick(addresses), sourcePort: Int(rng.next() % 65536),
                            timeMs: Int64(1_790_000_000_000 + i), answered: i % 2 == 0)
        }
        return LogResponse(runID: Hex.encode(randomBytes(16)), entries: log, truncated: seed % 2 == 0, capture: capture,
                           captureLost: Int(seed % 7))
    }

    @Test("the hand-written bytes equal JSONEncoder's, for empty, small and large logs")
    func sameBytesAsFoundation() throws {
        for (records, entries, seed) in [(0, 0, 1 as UInt64), (1, 0, 2), (0, 1, 3), (7, 5, 4), (600, 300, 5)] {
            let response = Self.sample(records: records, entries: entries, seed: seed)
            let foundation = Array(try WireJSON.encoder().encode(response))
            let fast = response.wireJSON()
            #expect(String(decoding: fast, as: UTF8.self) == String(decoding: foundation, as: UTF8.self))
            #expect(try WireJSON.decode(LogResponse.self, from: fast, source: "test") == response)
        }
    }

    @Test("strings are escaped as JSONEncoder escapes them")
    func escaping() throws {
        var response = LogResponse(runID: "a\"b\\c/d\n\r\t\u{8}\u{c}\u{1}\u{1f}é😀\u{2028}", entries: [], truncated: false)
        #expect(String(decoding: response.wireJSON(), as: UTF8.self) == String(decoding: try WireJSON.encoder().encode(response), as: UTF8.self))
        response.runID = ""
        #expect(String(decoding: response.wireJSON(), as: UTF8.self) == String(decoding: try WireJSON.encoder().encode(response), as: UTF8.self))
    }
}
