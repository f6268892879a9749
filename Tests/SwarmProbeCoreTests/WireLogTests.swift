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
        let missed = (0..<(records / 3)).map { i in
            MissedAnswer(peer: pick(addresses), kind: pick(kinds), timeMs: Int64(1_790_000_000_000 + i),
                         afterMs: Int(rng.next() % 2_000) - 1_000)
        }
        return LogResponse(runID: Hex.encode(randomBytes(16)), entries: log, truncated: seed % 2 == 0, capture: capture,
                           captureLost: Int(seed % 7), missedAnswers: missed)
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

@Suite("Log response reader")
struct WireReaderTests {
    static func foundation(_ bytes: [UInt8]) -> LogResponse? {
        try? JSONDecoder().decode(LogResponse.self, from: Data(bytes))
    }

    @Test("reads what the agent writes and what JSONEncoder writes, compact or pretty")
    func roundTrips() throws {
        for (records, entries, seed) in [(0, 0, 1 as UInt64), (3, 2, 2), (600, 300, 3)] {
            let response = WireLogTests.sample(records: records, entries: entries, seed: seed)
            #expect(try LogResponse(wireJSON: response.wireJSON()) == response)
            #expect(try LogResponse(wireJSON: Array(WireJSON.encoder(pretty: true).encode(response))) == response)
            #expect(try WireJSON.decode(LogResponse.self, from: response.wireJSON(), source: "t") == response)
        }
    }

    @Test("escapes, surrogate pairs, unknown keys, nulls, missing optional fields, any key order")
    func edges() throws {
        let text = #"""
        { "truncated" : false, "future" : {"a": [1, -2, {"b": null}], "c": "\u00e9"}, "runID" : "a\"b\\c\/d\n\u00e9\ud83d\ude00",
          "entries" : [ {"timeMs": 5, "sourcePort": 40000, "sourceAddress": "198.18.0.2", "runID": "r", "nonce": "n",
                         "kind": "7946/udp", "claimedSender": "198.18.0.2", "answered": true} ],
          "capture" : [ {"tap": "nflog", "direction": "inbound", "kind": "2377/tcp", "peer": "fd00::1", "peer_port": null,
                         "nonce": null, "tcp": "syn", "time_ms": 12} ] }
        """#
        let bytes = Array(text.utf8)
        let fast = try LogResponse(wireJSON: bytes)
        #expect(fast == Self.foundation(bytes))
        #expect(fast.runID == "a\"b\\c/d\né😀")
        #expect(fast.captureLost == 0 && fast.capture.count == 1 && fast.capture[0].peerPort == nil)
        let minimal = Array(#"{"runID":"x","entries":[],"truncated":true}"#.utf8)
        #expect(try LogResponse(wireJSON: minimal) == Self.foundation(minimal))
    }

    @Test("refuses what is not exactly a log: floats, lone surrogates, bad literals, trailing bytes, missing fields, repeated keys")
    func refusals() {
        for text in [#"{"runID":"x","entries":[],"truncated":true,"captureLost":1.5}"#,
                     #"{"runID":"\ud800","entries":[],"truncated":true}"#,
                     #"{"runID":"x","entries":[],"truncated":tru}"#,
                     #"{"runID":"x","entries":[],"truncated":true} x"#,
                     #"{"runID":"x","entries":[]}"#,
                     #"{"runID":"x","entries":[],"truncated":true,"captureLost":01}"#,
                     #"{"runID":"x","entries":[],"truncated":true,"captureLost":99999999999999999999}"#,
                     #"{"runID":"x","entries":[],"truncated":true,"capture":[],"capture":[]}"#,
                     "", "[]", "{", #"{"runID":"x\#u{1}","entries":[],"truncated":true}"#] {
            #expect(throws: WireReaderError.self, "\(text)") { try LogResponse(wireJSON: Array(text.utf8)) }
        }
    }

    @Test("on damaged documents the reader refuses, or agrees with Foundation; never crashes")
    func damaged() {
        let original = WireLogTests.sample(records: 40, entries: 20, seed: 9).wireJSON()
        var rng = SystemRandomNumberGenerator()
        var accepted = 0
        for round in 0..<3000 {
            var bytes = original
            if round % 3 == 0 {
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            guard let fast = try? LogResponse(wireJSON: bytes) else { continue }
            accepted += 1
            #expect(fast == Self.foundation(bytes), "reader and Foundation disagree on \(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(accepted > 0)  // some damage stays valid (a changed digit or letter)
    }
}
