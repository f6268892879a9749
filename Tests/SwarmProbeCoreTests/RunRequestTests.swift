import Foundation
import Testing

@testable import SwarmProbeCore

@Suite("RunRequest.validate")
struct RunRequestTests {
    static let selfAddress = ip("10.0.0.1")
    static let kinds = Set(DefaultProfile.load().enabledKinds.map(\.kindID))
    static let runID = "00112233445566778899aabbccddeeff"
    static let nodes = [
        PeerRef(name: "m1", address: ip("10.0.0.1")),
        PeerRef(name: "m2", address: ip("10.0.0.2")),
        PeerRef(name: "w1", address: ip("2001:db8::3")),
    ]

    static func request(
        runID: String = runID, nodes: [PeerRef] = nodes, probes: [ProbeOrder]? = nil,
        timeoutMs: Int = 1000, attempts: Int = 3
    ) -> RunRequest {
        let plan =
            probes
            ?? kinds.sorted().flatMap { k in
                [ProbeOrder(target: ip("10.0.0.2"), kind: k), ProbeOrder(target: ip("2001:db8::3"), kind: k)]
            }
        return RunRequest(runID: runID, nodes: nodes, probes: plan, timeoutMs: timeoutMs, attempts: attempts)
    }

    @Test(
        "a good plan passes",
        arguments: [
            request(),
            request(runID: "00112233445566778899AABBCCDDEEFF"),
            request(probes: []),
            request(timeoutMs: 50, attempts: 1),
            request(timeoutMs: 60_000, attempts: 10),
            request(nodes: [PeerRef(name: "m1", address: ip("10.0.0.1"))], probes: []),
        ])
    func good(_ r: RunRequest) throws {
        try r.validate(selfAddress: Self.selfAddress, kinds: Self.kinds)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var name: String
        var request: RunRequest
        var message: String
        var testDescription: String { name }
    }

    static func manyNodes(_ n: Int) -> [PeerRef] {
        (0..<n).map { (i: Int) -> PeerRef in
            let hi = UInt8(truncatingIfNeeded: i >> 8)
            let lo = UInt8(truncatingIfNeeded: i)
            return PeerRef(name: "n\(i)", address: .v4(10, 0, hi, lo))
        }
    }

    static let bad: [Bad] = [
        Bad(
            name: "target not in the node list",
            request: request(probes: [ProbeOrder(target: ip("10.0.0.9"), kind: .tcp2377)]),
            message: "run request: field `probes[0].target`: 10.0.0.9 is not in the signed node list; refused"),
        Bad(
            name: "self target",
            request: request(probes: [ProbeOrder(target: ip("10.0.0.2"), kind: .tcp2377), ProbeOrder(target: ip("10.0.0.1"), kind: .udp4789)]),
            message: "run request: field `probes[1].target`: 10.0.0.1 is this agent itself"),
        Bad(
            name: "kind not in the profile",
            request: request(probes: [ProbeOrder(target: ip("2001:db8::3"), kind: KindID(proto: .tcp, port: 22))]),
            message: "run request: field `probes[0].kind`: 22/tcp is not in this agent's profile; refused"),
        Bad(
            name: "disabled ESP is not in the profile",
            request: request(probes: [ProbeOrder(target: ip("10.0.0.2"), kind: .esp)]),
            message: "run request: field `probes[0].kind`: esp is not in this agent's profile; refused"),
        Bad(
            name: "duplicate probe",
            request: request(probes: [
                ProbeOrder(target: ip("10.0.0.2"), kind: .udp7946), ProbeOrder(target: ip("10.0.0.2"), kind: .tcp7946),
                ProbeOrder(target: ip("10.0.0.2"), kind: .udp7946),
            ]),
            message: "run request: field `probes[2]`: 7946/udp to 10.0.0.2 is listed twice"),
        Bad(
            name: "runID not hex", request: request(runID: "not-a-run-id-not-a-run-id-123456"),
            message: "run request: field `run_id`: expected 32 hex digits"),
        Bad(name: "runID too short", request: request(runID: "0011"), message: "run request: field `run_id`: expected 32 hex digits"),
        Bad(name: "runID too long", request: request(runID: runID + "00"), message: "run request: field `run_id`: expected 32 hex digits"),
        Bad(
            name: "runID odd length", request: request(runID: String(runID.dropLast())),
            message: "run request: field `run_id`: expected 32 hex digits"),
        Bad(name: "runID empty", request: request(runID: ""), message: "run request: field `run_id`: expected 32 hex digits"),
        Bad(
            name: "too many nodes",
            request: request(nodes: manyNodes(5001)),
            message: "run request: field `nodes`: 5001 nodes, more than the limit of 5000"),
        Bad(name: "timeout too short", request: request(timeoutMs: 49), message: "run request: field `timeout_ms`: 49 is outside 50...60000"),
        Bad(name: "timeout too long", request: request(timeoutMs: 60_001), message: "run request: field `timeout_ms`: 60001 is outside 50...60000"),
        Bad(name: "timeout negative", request: request(timeoutMs: -1), message: "run request: field `timeout_ms`: -1 is outside 50...60000"),
        Bad(name: "no attempts", request: request(attempts: 0), message: "run request: field `attempts`: 0 is outside 1...10"),
        Bad(name: "too many attempts", request: request(attempts: 11), message: "run request: field `attempts`: 11 is outside 1...10"),
        Bad(
            name: "self address missing from the nodes",
            request: request(nodes: Array(nodes.dropFirst()), probes: [ProbeOrder(target: ip("10.0.0.2"), kind: .tcp2377)]),
            message: "run request: field `nodes`: this agent's address 10.0.0.1 is not in the node list"),
        Bad(
            name: "more probes than nodes x kinds",
            request: request(probes: (0..<13).map { _ in ProbeOrder(target: ip("10.0.0.2"), kind: .tcp2377) }),
            message: "run request: field `probes`: 13 probes, more than one per node and kind"),
    ]

    @Test("refuses a plan it must not carry out, with the exact message", arguments: bad)
    func refuses(_ bad: Bad) {
        let e = inputError { () throws(InputError) in try bad.request.validate(selfAddress: Self.selfAddress, kinds: Self.kinds) }
        #expect(e?.description == bad.message)
        #expect(e?.line == nil)
    }

    @Test("wire round trip, and decoding errors name the field")
    func json() throws {
        let r = Self.request()
        #expect(try WireCodec.decode(RunRequest.self, from: WireCodec.encode(r), source: "run request") == r)

        let missing = Array(#"{"run_id":"00","nodes":[],"probes":[],"attempts":1}"#.utf8)
        #expect(
            inputError { () throws(InputError) in try WireCodec.decode(RunRequest.self, from: missing, source: "run request") }?.description
                == "run request: field `timeout_ms` is missing")
        let badAddress = Array(#"{"run_id":"00","nodes":[{"name":"a","address":"10.0.0.300"}],"probes":[],"timeout_ms":1,"attempts":1}"#.utf8)
        #expect(
            inputError { () throws(InputError) in try WireCodec.decode(RunRequest.self, from: badAddress, source: "run request") }?.description
                == "run request: field `nodes[0].address`: not an IP address: 10.0.0.300")
        let wrongType = Array(#"{"run_id":"00","nodes":[],"probes":[],"timeout_ms":"soon","attempts":1}"#.utf8)
        #expect(
            inputError { () throws(InputError) in try WireCodec.decode(RunRequest.self, from: wrongType, source: "run request") }?.description
                == "run request: field `timeout_ms`: expected an integer")
        #expect(inputError { () throws(InputError) in try WireCodec.decode(RunRequest.self, from: Array("{".utf8), source: "run request") } != nil)
    }
}

@Suite("probe timing")
struct ProbeTimingTests {
    @Test("auto timeout: 4 x the round trip, held between 500 ms and 5 s")
    func autoTimeout() {
        #expect(ProbeTiming.timeoutMs(rttMicros: 0) == 500)
        #expect(ProbeTiming.timeoutMs(rttMicros: 2_000) == 500)
        #expect(ProbeTiming.timeoutMs(rttMicros: 125_000) == 500)
        #expect(ProbeTiming.timeoutMs(rttMicros: 200_000) == 800)
        #expect(ProbeTiming.timeoutMs(rttMicros: 200_001) == 801)
        #expect(ProbeTiming.timeoutMs(rttMicros: 3_000_000) == 5000)
        #expect(ProbeTiming.timeoutMs(rttMicros: -5) == 500)
    }

    @Test("the floor: 16 ms per peer within 200-500 ms for a sender with a capture tap, 500 ms without one")
    func floor() {
        #expect(ProbeTiming.floorMs(peers: 3, capture: true) == 200)
        #expect(ProbeTiming.floorMs(peers: 12, capture: true) == 200)
        #expect(ProbeTiming.floorMs(peers: 15, capture: true) == 240)
        #expect(ProbeTiming.floorMs(peers: 31, capture: true) == 496)
        #expect(ProbeTiming.floorMs(peers: 999, capture: true) == 500)
        #expect(ProbeTiming.floorMs(peers: 0, capture: true) == 200)
        for peers in [0, 3, 31, 999] { #expect(ProbeTiming.floorMs(peers: peers, capture: false) == 500) }
        #expect(ProbeTiming.timeoutMs(rttMicros: 2_000, floor: 200) == 200)
        #expect(ProbeTiming.timeoutMs(rttMicros: 100_000, floor: 200) == 400)
        #expect(ProbeTiming.timeoutMs(rttMicros: 3_000_000, floor: 200) == 5000)
    }

    @Test("tries leave evenly over the first three quarters of the timeout")
    func offsets() {
        let t: Int64 = 600_000_000
        #expect(
            (0..<6).map { ProbeTiming.offsetNanos(attempt: $0, of: 6, timeoutNanos: t) }
                == [0, 90_000_000, 180_000_000, 270_000_000, 360_000_000, 450_000_000])
        #expect(ProbeTiming.offsetNanos(attempt: 0, of: 1, timeoutNanos: t) == 0)
        #expect(ProbeTiming.offsetNanos(attempt: 1, of: 2, timeoutNanos: t) == 450_000_000)
        // Never past three quarters, whatever is asked.
        #expect(ProbeTiming.offsetNanos(attempt: 9, of: 2, timeoutNanos: t) == 450_000_000)
    }
}

@Suite("per-path timeouts in a plan")
struct PathTimeoutTests {
    let nodes = [PeerRef(name: "a", address: .v4(198, 18, 0, 10)), PeerRef(name: "b", address: .v4(198, 18, 0, 11))]
    let kind = KindID(proto: .udp, port: 7946)

    func request(probeTimeout: Int?, timeoutMs: Int = 1000) -> RunRequest {
        RunRequest(
            runID: String(repeating: "ab", count: 16), nodes: nodes,
            probes: [ProbeOrder(target: nodes[1].address, kind: kind, timeoutMs: probeTimeout)], timeoutMs: timeoutMs, attempts: 6)
    }

    @Test("a probe's own timeout must lie within 50 ms and the request's timeout")
    func validation() throws {
        try request(probeTimeout: nil).validate(selfAddress: nodes[0].address, kinds: [kind])
        try request(probeTimeout: 600).validate(selfAddress: nodes[0].address, kinds: [kind])
        try request(probeTimeout: 1000).validate(selfAddress: nodes[0].address, kinds: [kind])
        for bad in [49, 1001, -1] {
            #expect(throws: InputError.self) { try request(probeTimeout: bad).validate(selfAddress: nodes[0].address, kinds: [kind]) }
        }
        do {
            try request(probeTimeout: 1001).validate(selfAddress: nodes[0].address, kinds: [kind])
        } catch {
            #expect(error.description == "run request: field `probes[0].timeout_ms`: 1001 is outside 50...1000 (the request's timeout_ms)")
        }
    }

    @Test("a probe order without `observed` or `timeout_ms` takes the defaults: not observed, the plan's timeout")
    func orderDefaults() throws {
        let json = #"{"run_id":"00","nodes":[],"probes":[{"target":"198.18.0.11","kind":"7946/udp"}],"timeout_ms":500,"attempts":1}"#
        let order = try #require(try WireCodec.decode(RunRequest.self, from: Array(json.utf8), source: "run request").probes.first)
        #expect(order.timeoutMs == nil && !order.observed)
    }
}
