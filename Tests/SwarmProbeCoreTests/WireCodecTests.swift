import Foundation
import Testing

@testable import SwarmProbeCore

/// The control wire's one codec: what it writes, reads back, and refuses, naming the field.
@Suite("Wire codec")
struct WireCodecTests {
    static let kinds = [
        KindID(proto: .tcp, port: 2377), KindID(proto: .udp, port: 7946), KindID(proto: .udp, port: 4789),
        KindID(proto: .esp, port: nil),
    ]
    static let addresses: [IPAddress] = [.v4(198, 18, 0, 1), .v4(198, 19, 255, 254), IPAddress("fd00::1:2")!, IPAddress("2001:db8::ff")!]
    /// Text that needs every kind of escape.
    static let awkward = "a\"b\\c/d\n\r\t\u{8}\u{c}\u{1}\u{1f}é😀\u{2028}"

    static func runResponse(count: Int) -> RunResponse {
        let results = (0..<count).map { (i: Int) -> ProbeReport in
            let tries = 1 + i % 3
            let nonces: [String] = (0..<(i % 7 == 0 ? 0 : tries)).map { _ in Hex.encode(randomBytes(16)) }
            let ports: [Int] = i % 2 == 0 ? (0..<tries).map { 32768 + $0 + i } : []
            let detail: String? = i % 5 == 0 ? (i % 2 == 0 ? awkward : "Connection refused") : nil
            let evidence = SenderEvidence(
                outcome: ProbeOutcome.allCases[i % ProbeOutcome.allCases.count], attempts: tries,
                rttMicros: i % 4 == 0 ? nil : 17 * i, detail: detail, nonces: nonces, sourcePorts: ports,
                missedAnswerMs: i % 6 == 1 ? i - 500 : nil, egressBlocked: i % 9 == 2 ? EgressBlock.allCases[i % 2] : nil)
            return ProbeReport(target: addresses[i % 4], kind: kinds[i % 4], evidence: evidence)
        }
        return RunResponse(runID: Hex.encode(randomBytes(16)), results: results)
    }

    static func runRequest(peers: Int) -> RunRequest {
        let nodes = (0..<peers).map { (i: Int) -> PeerRef in
            let name = i % 3 == 0 ? "w\(i)" : "node \"\(i)\"\t"
            return PeerRef(name: name, address: IPAddress.v4(198, 18, UInt8(i / 250), UInt8(1 + i % 250)))
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

    static func logResponse(records: Int, entries: Int, seed: Int) -> LogResponse {
        let capture = (0..<records).map { i in
            CaptureRecord(
                tap: i % 3 == 0 ? .nflog : .interface, direction: i % 2 == 0 ? .inbound : .outbound, kind: kinds[i % 4],
                peer: addresses[(i + seed) % 4], peerPort: i % 5 == 0 ? nil : 1000 + i,
                nonce: i % 4 == 0 ? nil : Hex.encode(randomBytes(16)), tcp: i % 4 == 0 ? ["syn", "syn-ack", "rst"][i % 3] : nil,
                timeMs: Int64(1_790_000_000_000 + i))
        }
        let log = (0..<entries).map { i in
            ReceiveLogEntry(
                nonce: Hex.encode(randomBytes(16)), runID: Hex.encode(randomBytes(16)), kind: kinds[i % 4],
                claimedSender: addresses[i % 4], sourceAddress: addresses[(i + 1) % 4], sourcePort: i % 65536,
                timeMs: Int64(1_790_000_000_000 + i), answered: i % 2 == 0)
        }
        let missed = (0..<(records / 3)).map { i in
            MissedAnswer(peer: addresses[i % 4], kind: kinds[i % 4], timeMs: Int64(1_790_000_000_000 + i), afterMs: i * 7 - 500)
        }
        let neverLeft = (0..<(seed % 3 == 0 ? 0 : records / 5)).map { i in NeverLeftProbe(peer: addresses[i % 4], kind: kinds[(i + 1) % 4]) }
        return LogResponse(
            runID: seed == 1 ? awkward : Hex.encode(randomBytes(16)), entries: log, truncated: seed % 2 == 0,
            capture: capture, captureLost: seed % 7, missedAnswers: missed, neverLeft: neverLeft)
    }

    static var hello: HelloResponse {
        HelloResponse(
            agentVersion: SwarmProbeVersion.current, address: addresses[2], timeMs: 1_790_000_000_123, profile: awkward,
            listeners: [
                ListenerState(kind: kinds[0], mode: .listening),
                ListenerState(kind: kinds[2], mode: .unavailable, detail: "address in use"),
            ],
            taps: [TapState(tap: .interface, active: true, device: "eth0"), TapState(tap: .nflog, active: false, detail: awkward)])
    }

    /// Every message the wire carries, written.
    static var messages: [(name: String, bytes: [UInt8])] {
        [
            ("hello request", WireCodec.encode(HelloRequest())), ("hello", WireCodec.encode(hello)),
            ("plan", WireCodec.encode(runRequest(peers: 31))), ("results", WireCodec.encode(runResponse(count: 40))),
            ("log request", WireCodec.encode(LogRequest(runID: "r"))), ("stop request", WireCodec.encode(StopRequest(runID: "r"))),
            ("log", WireCodec.encode(logResponse(records: 40, entries: 20, seed: 3))),
            ("error", WireCodec.encode(ErrorResponse(error: awkward))),
        ]
    }

    func roundTrip<T: WireMessage & Equatable>(_ value: T) throws -> Bool {
        try WireCodec.decode(T.self, from: WireCodec.encode(value), source: "test") == value
    }

    @Test("every message reads back as it was written, empty, small and large")
    func roundTrips() throws {
        #expect(try roundTrip(HelloRequest()))
        #expect(try roundTrip(HelloRequest(protocolVersion: 7, toolVersion: nil)))
        #expect(try roundTrip(Self.hello))
        for n in [0, 1, 31, 999] { #expect(try roundTrip(Self.runRequest(peers: n))) }
        for n in [0, 1, 2, 9, 124, 4000] { #expect(try roundTrip(Self.runResponse(count: n))) }
        #expect(try roundTrip(LogRequest(runID: Self.awkward)))
        #expect(try roundTrip(StopRequest(runID: Self.awkward)))
        for (records, entries, seed) in [(0, 0, 1), (1, 0, 2), (0, 1, 3), (7, 5, 4), (600, 300, 5)] {
            #expect(try roundTrip(Self.logResponse(records: records, entries: entries, seed: seed)))
        }
        #expect(try roundTrip(ErrorResponse(error: Self.awkward)))
        #expect(try roundTrip(ErrorResponse(error: "x", protocolVersion: nil)))
    }

    @Test("what it writes is JSON any reader takes, every key snake_case, strings escaped as JSON wants")
    func oneKeyStyle() throws {
        func keys(_ value: Any, _ out: inout Set<String>) {
            if let d = value as? [String: Any] {
                for (k, v) in d {
                    out.insert(k)
                    keys(v, &out)
                }
            } else if let a = value as? [Any] {
                for v in a { keys(v, &out) }
            }
        }
        var all = Set<String>()
        for (name, bytes) in Self.messages {
            let doc = try JSONSerialization.jsonObject(with: Data(bytes))
            keys(doc, &all)
            #expect(!bytes.contains(0x0A), "\(name) is one line")
        }
        for k in all { #expect(k.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "key \(k)") }
        #expect(
            all.isSuperset(of: [
                "run_id", "timeout_ms", "capture_lost", "missed_answers", "claimed_sender", "peer_port", "time_ms",
                "protocol", "agent_version",
            ]))
        let error = try JSONSerialization.jsonObject(with: Data(WireCodec.encode(ErrorResponse(error: Self.awkward)))) as? [String: Any]
        #expect(error?["error"] as? String == Self.awkward)
    }

    @Test("reads other key orders, whitespace, unknown keys and nulls for what is optional")
    func tolerant() throws {
        let text = #"""
            { "truncated" : false, "future" : {"a": [1, -2, {"b": null}], "c": "\u00e9"}, "run_id" : "a\"b\\c\/d\n\u00e9\ud83d\ude00",
              "entries" : [ {"time_ms": 5, "source_port": 40000, "source_address": "198.18.0.2", "run_id": "r", "nonce": "n",
                             "kind": "7946/udp", "claimed_sender": "198.18.0.2", "answered": true} ],
              "capture" : [ {"tap": "nflog", "direction": "inbound", "kind": "2377/tcp", "peer": "fd00::1", "peer_port": null,
                             "nonce": null, "tcp": "syn", "time_ms": 12} ] }
            """#
        let log = try WireCodec.decode(LogResponse.self, from: Array(text.utf8), source: "t")
        #expect(log.runID == "a\"b\\c/d\né😀")
        #expect(log.captureLost == 0 && log.capture.count == 1 && log.capture[0].peerPort == nil && log.entries[0].sourcePort == 40000)
        let run =
            #"{"run_id":"x","results":[{"kind":"esp","evidence":{"attempts":1,"outcome":"answered","rtt_micros":812,"source_port":9,"more":[]},"target":"fd00::1"}]}"#
        let r = try WireCodec.decode(RunResponse.self, from: Array(run.utf8), source: "t")
        #expect(r.results[0].evidence.rttMicros == 812 && r.results[0].evidence.sourcePorts == [9] && r.results[0].evidence.nonces.isEmpty)
    }

    @Test(
        "refusals name the field and what is wrong with it, in one line",
        arguments: [
            (
                #"{"run_id":"x","results":[{"target":"198.18.1.2","kind":"2377/tcp","evidence":{"outcome":"lost","attempts":1}}]}"#,
                #"answer: field `results[0].evidence.outcome`: unknown value "lost""#
            ),
            (
                #"{"run_id":"x","results":[{"target":"not an address","kind":"2377/tcp","evidence":{"outcome":"timeout","attempts":1}}]}"#,
                "answer: field `results[0].target`: not an IP address: not an address"
            ),
            (
                #"{"run_id":"x","results":[{"target":"198.18.1.2","kind":"2377/tcp","evidence":{"outcome":"timeout","attempts":1.5}}]}"#,
                "answer: field `results[0].evidence.attempts`: expected an integer"
            ),
            (
                #"{"run_id":"x","results":[{"target":"198.18.1.2","kind":"2377/tcp","evidence":{"outcome":"timeout"}}]}"#,
                "answer: field `results[0].evidence.attempts` is missing"
            ),
            (#"{"run_id":"x"}"#, "answer: field `results` is missing"),
            (
                #"{"run_id":"x","results":[{"target":"198.18.1.2","kind":"7946/sctp","evidence":{}}]}"#,
                "answer: field `results[0].kind`: not a traffic kind: 7946/sctp"
            ),
            (#"{"run_id":7,"results":[]}"#, "answer: field `run_id`: expected a string"),
            (#"{"run_id":"x","results":[],"results":[]}"#, "answer: field `results`: appears twice"),
            (#"{"run_id":"x","results":{}}"#, "answer: field `results`: expected an array"),
            ("[]", "answer: expected an object"),
        ] as [(String, String)])
    func refusals(text: String, message: String) {
        do {
            _ = try WireCodec.decode(RunResponse.self, from: Array(text.utf8), source: "answer")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test("refuses what is not exactly JSON: floats, lone surrogates, bad literals, trailing bytes, control characters, deep nesting")
    func strict() {
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        for text in [
            #"{"run_id":"x","entries":[],"truncated":true,"capture_lost":1.5}"#,
            #"{"run_id":"\ud800","entries":[],"truncated":true}"#,
            #"{"run_id":"x","entries":[],"truncated":tru}"#,
            #"{"run_id":"x","entries":[],"truncated":true} x"#,
            #"{"run_id":"x","entries":[],"truncated":true,"capture_lost":01}"#,
            #"{"run_id":"x","entries":[],"truncated":true,"capture_lost":99999999999999999999}"#,
            #"{"run_id":"x","entries":[],"truncated":true,}"#,
            #"{"run_id":"x","entries":[],"truncated":true,"extra":\#(deep)}"#,
            "", "{", #"{"run_id":"x\#u{1}","entries":[],"truncated":true}"#,
        ] {
            #expect(throws: InputError.self, "\(text)") { try WireCodec.decode(LogResponse.self, from: Array(text.utf8), source: "t") }
        }
    }

    @Test("damaged messages are refused or read as what they say; never a crash, never something that is not JSON")
    func damaged() {
        let original = WireCodec.encode(Self.logResponse(records: 40, entries: 20, seed: 9))
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
            guard let log = try? WireCodec.decode(LogResponse.self, from: bytes, source: "t") else { continue }
            accepted += 1
            #expect(
                (try? JSONSerialization.jsonObject(with: Data(bytes))) != nil, "accepted what is not JSON: \(String(decoding: bytes, as: UTF8.self))")
            #expect((try? WireCodec.decode(LogResponse.self, from: WireCodec.encode(log), source: "t")) == log)
        }
        #expect(accepted > 0)  // some damage stays valid (a changed digit or letter)
    }

    @Test("the hello's versions: from this build, and from an agent of before protocol versions (camelCase, no protocol)")
    func helloVersions() throws {
        let current = try #require(HelloResponse.versions(of: WireCodec.encode(Self.hello)))
        #expect(current.protocolVersion == ControlProtocol.version && current.agentVersion == SwarmProbeVersion.current)
        let old = #"{"address":"198.18.1.11","agentVersion":"0.1.0","listeners":[],"profile":"swarm","taps":[],"timeMs":1790000000000}"#
        let before = try #require(HelloResponse.versions(of: Array(old.utf8)))
        #expect(before.protocolVersion == 1 && before.agentVersion == "0.1.0")
        // An old coordinator's hello was `{}`.
        #expect(try WireCodec.decode(HelloRequest.self, from: Array("{}".utf8), source: "hello").protocolVersion == 1)
        #expect(HelloResponse.versions(of: Array("not json".utf8)) == nil)
    }

    @Test("a version mismatch names both versions and which end to upgrade")
    func mismatch() {
        let old = ControlProtocol.mismatch(agent: 1, agentVersion: "0.1.0", coordinator: 2, coordinatorVersion: "0.2.0", endpoint: "198.18.1.11:7950")
        #expect(
            old
                == "the agent at 198.18.1.11:7950 speaks control protocol 1 (swarmprobe 0.1.0), this coordinator protocol 2 (swarmprobe 0.2.0): upgrade the agent"
        )
        let newer = ControlProtocol.mismatch(agent: 3, agentVersion: nil, coordinator: 2, coordinatorVersion: "0.2.0", endpoint: "a:1")
        #expect(newer.hasSuffix("upgrade the coordinator (swarmprobe where the check runs)") && newer.contains("protocol 3, this"))
    }
}
