import Foundation
import Testing
@testable import SwarmProbeCore

@Suite("Run response bytes")
struct WireRunTests {
    static func sample(count: Int) -> RunResponse {
        var rng = SystemRandomNumberGenerator()
        let kinds = [KindID(proto: .tcp, port: 2377), KindID(proto: .udp, port: 7946), KindID(proto: .udp, port: 4789),
                     KindID(proto: .esp, port: nil)]
        let addresses: [IPAddress] = [.v4(198, 18, 0, 1), .v4(198, 19, 255, 254), IPAddress("fd00::1:2")!]
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        let results = (0..<count).map { i in
            let tries = 1 + i % 3
            let evidence = SenderEvidence(
                outcome: ProbeOutcome.allCases[i % ProbeOutcome.allCases.count], attempts: tries,
                rttMicros: i % 4 == 0 ? nil : Int(rng.next() % 2_000_000),
                detail: i % 5 == 0 ? pick(["Connection refused", "a \"quoted\"\nline\t\\ with é and \u{1}", "no free source port"]) : nil,
                nonces: (0..<(i % 7 == 0 ? 0 : tries)).map { _ in Hex.encode(randomBytes(16)) },
                sourcePorts: i % 2 == 0 ? (0..<tries).map { _ in 32768 + Int(rng.next() % 28000) } : [],
                missedAnswerMs: i % 6 == 1 ? Int(rng.next() % 2_000) - 1_000 : nil)
            return ProbeReport(target: pick(addresses), kind: pick(kinds), evidence: evidence)
        }
        return RunResponse(runID: Hex.encode(randomBytes(16)), results: results)
    }

    @Test("the hand-written bytes equal JSONEncoder's, and both read back the same", arguments: [0, 1, 2, 9, 124, 4000])
    func sameBytesAsFoundation(count: Int) throws {
        let response = Self.sample(count: count)
        let foundation = Array(try WireJSON.encoder().encode(response))
        let fast = response.wireJSON()
        #expect(String(decoding: fast, as: UTF8.self) == String(decoding: foundation, as: UTF8.self))
        #expect(try RunResponse(wireJSON: fast) == response)
        #expect(try JSONDecoder().decode(RunResponse.self, from: Data(fast)) == response)
        #expect(try WireJSON.decode(RunResponse.self, from: fast, source: "test") == response)
    }

    @Test("reads what older agents wrote: pretty, other key order, nulls, one source_port, unknown keys")
    func olderShapes() throws {
        let text = """
        { "runID" : "00112233445566778899aabbccddeeff", "extra": {"a": [1, 2, {"b": null}]},
          "results" : [
            {"target": "198.18.1.2", "kind": "2377/tcp",
             "evidence": {"source_port": 40000, "outcome": "timeout", "attempts": 2, "rtt_micros": null, "detail": null,
                          "nonces": ["aa", "bb"], "future": true}},
            {"kind": "esp", "evidence": {"attempts": 1, "outcome": "answered", "rtt_micros": 812, "nonces": null}, "target": "fd00::1"}
          ] }
        """
        let fast = try RunResponse(wireJSON: Array(text.utf8))
        let foundation = try JSONDecoder().decode(RunResponse.self, from: Data(text.utf8))
        #expect(fast == foundation)
        #expect(fast.results[0].evidence.sourcePorts == [40000] && fast.results[0].evidence.nonces == ["aa", "bb"])
        #expect(fast.results[1].evidence.rttMicros == 812 && fast.results[1].evidence.nonces.isEmpty)
    }

    @Test("refuses what it does not fully understand; WireJSON then words Foundation's error with the field")
    func refusals() {
        let bad = [
            #"{"runID":"x","results":[{"target":"198.18.1.2","kind":"2377/tcp","evidence":{"outcome":"lost","attempts":1}}]}"#,
            #"{"runID":"x","results":[{"target":"not an address","kind":"2377/tcp","evidence":{"outcome":"timeout","attempts":1}}]}"#,
            #"{"runID":"x","results":[{"target":"198.18.1.2","kind":"2377/tcp","evidence":{"outcome":"timeout","attempts":1.5}}]}"#,
            #"{"runID":"x","results":[{"target":"198.18.1.2","kind":"2377/tcp","evidence":{"outcome":"timeout"}}]}"#,
            #"{"runID":"x"}"#,
            #"{"runID":"x","results":[]} trailing"#,
        ]
        for text in bad {
            #expect(throws: WireReaderError.self) { try RunResponse(wireJSON: Array(text.utf8)) }
            #expect(throws: InputError.self) { try WireJSON.decode(RunResponse.self, from: Array(text.utf8), source: "answer") }
        }
        do {
            _ = try WireJSON.decode(RunResponse.self, from: Array(bad[3].utf8), source: "answer from a:7950/v1/run")
            Issue.record("decoded a report without attempts")
        } catch {
            #expect(error.description.contains("attempts"), "\(error)")
        }
    }

    static func plan(peers: Int) -> RunRequest {
        let kinds = [KindID(proto: .tcp, port: 2377), KindID(proto: .tcp, port: 7946), KindID(proto: .udp, port: 7946),
                     KindID(proto: .udp, port: 4789), KindID(proto: .esp, port: nil)]
        var nodes: [PeerRef] = []
        for i in 0..<peers {
            let name: String = i % 3 == 0 ? "w\(i)" : "node \"\(i)\"\t"
            let address = IPAddress.v4(198, 18, UInt8(i / 250), UInt8(1 + i % 250))
            nodes.append(PeerRef(name: name, address: address))
        }
        var probes: [ProbeOrder] = []
        for kind in kinds {
            for (i, n) in nodes.enumerated() {
                let timeout: Int? = i % 3 == 0 ? nil : 500 + i
                probes.append(ProbeOrder(target: n.address, kind: kind, observed: i % 4 == 1, timeoutMs: timeout))
            }
        }
        return RunRequest(runID: Hex.encode(randomBytes(16)), nodes: nodes, probes: probes, timeoutMs: 500, attempts: 8)
    }

    @Test("a plan's hand-written bytes equal JSONEncoder's, and both read back the same", arguments: [0, 1, 31, 999])
    func planSameBytes(peers: Int) throws {
        let request = Self.plan(peers: peers)
        let foundation = Array(try WireJSON.encoder().encode(request))
        let fast = try WireJSON.encode(request)
        #expect(String(decoding: fast, as: UTF8.self) == String(decoding: foundation, as: UTF8.self))
        #expect(try RunRequest(wireJSON: fast) == request)
        #expect(try WireJSON.decode(RunRequest.self, from: foundation, source: "test") == request)
    }

    @Test("a plan without `observed` or `timeoutMs` on its orders reads as Foundation reads it; a broken one is refused by name")
    func planShapes() throws {
        let text = #"{"runID":"00112233445566778899aabbccddeeff","nodes":[{"name":"a","address":"198.18.1.1"}],"#
            + #""probes":[{"target":"198.18.1.1","kind":"7946/udp"},{"target":"198.18.1.1","kind":"2377/tcp","observed":true,"timeoutMs":null}],"#
            + #""timeoutMs":500,"attempts":8}"#
        #expect(try RunRequest(wireJSON: Array(text.utf8)) == JSONDecoder().decode(RunRequest.self, from: Data(text.utf8)))
        let broken = text.replacingOccurrences(of: #""kind":"7946/udp""#, with: #""kind":"7946/sctp""#)
        #expect(throws: WireReaderError.self) { try RunRequest(wireJSON: Array(broken.utf8)) }
        #expect(throws: InputError.self) { try WireJSON.decode(RunRequest.self, from: Array(broken.utf8), source: "run request") }
    }
}
