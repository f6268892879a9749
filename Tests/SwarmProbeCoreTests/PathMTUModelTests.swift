import Foundation
import SwarmProbeCore
import Testing

@Suite("path MTU model")
struct PathMTUModelTests {
    @Test("what an overlay needs, and the containers' MTU Docker derives from the driver option (libnetwork's maxMTU)")
    func overhead() {
        #expect(PathMTU.needed(overlayMTU: 1450, encrypted: false) == 1500)
        #expect(PathMTU.needed(overlayMTU: 1424, encrypted: true) == 1500)
        #expect(PathMTU.overlayMTU(driverOption: 1500, encrypted: false) == 1450)
        #expect(PathMTU.overlayMTU(driverOption: 1500, encrypted: true) == 1424)
        #expect(PathMTU.overlayMTU(driverOption: 9001, encrypted: false) == 8951)
    }

    @Test("the ladder: what is needed, seven sizes below it down to 1280, the interface when larger; never above it")
    func ladder() {
        #expect(PathMTU.ladder(interfaceMTU: 1500, needed: 1500) == [1280, 1350, 1400, 1440, 1460, 1480, 1490, 1500])
        #expect(PathMTU.ladder(interfaceMTU: 1450, needed: 1500) == [1280, 1350, 1400, 1440, 1450])
        #expect(PathMTU.ladder(interfaceMTU: 9001, needed: 1500).suffix(2) == [1500, 9001])
        #expect(PathMTU.ladder(interfaceMTU: 9001, needed: 9001) == [1280, 8851, 8901, 8941, 8961, 8981, 8991, 9001])
        #expect(PathMTU.ladder(interfaceMTU: 65_535, needed: nil).last == PathMTU.largestProbe)
        // Every rung fits a probe, over IPv4 and IPv6.
        let v6 = IPAddress("2001:db8::1")!
        #expect(PathMTU.largestProbe - PathMTU.headers(toward: v6) <= ProbePacket.maximumSize)
    }

    static func ladder(_ outcomes: [(Int, MTURungOutcome)], reported: Int? = nil) -> MTULadder {
        MTULadder(rungs: outcomes.map { MTURung(size: $0.0, nonce: "n\($0.0)", outcome: $0.1) }, reportedMTU: reported)
    }

    @Test(
        "measure: the largest rung that arrived, and how the next one died",
        arguments: [
            // answered up to 1400, silence above: a black hole between 1400 and 1410
            ([(1400, MTURungOutcome.answered), (1410, .silent), (1500, .silent)], nil, Set<String>(), 1400, PathMTULimit.blackHole, 1410),
            // a router named 1420: exact, and frag-needed
            ([(1400, .answered), (1410, .answered), (1430, .fragNeeded), (1500, .fragNeeded)], 1420, [], 1420, .fragNeeded, 1430),
            // every rung answered: no limit up to the interface
            ([(1400, .answered), (1500, .answered)], nil, [], 1500, nil, nil),
            // a live swarm: nothing answers, the target's taps saw the rungs up to 1450
            ([(1400, .silent), (1450, .silent), (1500, .silent)], nil, ["n1400", "n1450"], 1450, .blackHole, 1500),
            // a lost small rung below one that arrived does not lower the result
            ([(1280, .silent), (1400, .answered), (1500, .silent)], nil, [], 1400, .blackHole, 1500),
        ] as [([(Int, MTURungOutcome)], Int?, Set<String>, Int, PathMTULimit?, Int?)])
    func measure(
        rungs: [(Int, MTURungOutcome)], reported: Int?, seen: Set<String>, bytes: Int, limit: PathMTULimit?, below: Int?
    ) throws {
        let m = try #require(Self.ladder(rungs, reported: reported).measure(needed: 1500) { seen.contains($0) })
        #expect(m.bytes == bytes && m.limit == limit && m.below == below && m.needed == 1500)
        #expect(m.tooSmall == (bytes < 1500))
    }

    @Test("measure: nothing arrived at all is no measurement (the small probe's verdict says why)")
    func nothingArrived() {
        #expect(Self.ladder([(1400, .silent), (1500, .sendFailed)]).measure(needed: 1500) { _ in false } == nil)
        // A ladder that could not send its larger rungs says nothing about why.
        let m = Self.ladder([(1400, .answered), (1500, .sendFailed)]).measure(needed: 1500) { _ in false }
        #expect(m?.bytes == 1400 && m?.limit == nil && m?.below == 1500)
    }

    @Test("a rung outcome this build does not know (a newer agent's) is no claim about that rung, not a lost report")
    func unknownOutcome() throws {
        let text = #"{"rungs":[{"size":1400,"nonce":"ab","outcome":"answered"},{"size":1500,"nonce":"cd","outcome":"later"}]}"#
        let ladder = try WireCodec.decode(MTULadder.self, from: Array(text.utf8), source: "test")
        #expect(ladder.rungs.map(\.outcome) == [.answered, .sendFailed])
        let m = ladder.measure(needed: 1500) { _ in false }
        #expect(m?.bytes == 1400 && m?.limit == nil)
    }

    @Test("the ladder and the request field travel on the control wire and come back the same")
    func wire() throws {
        let e = SenderEvidence(
            outcome: .answered, attempts: 1, rttMicros: 300, nonces: ["00112233445566778899aabbccddeeff"],
            mtu: Self.ladder([(1400, .answered), (1500, .fragNeeded)], reported: 1450))
        let back = try WireCodec.decode(SenderEvidence.self, from: WireCodec.encode(e), source: "test")
        #expect(back == e)
        let json = try JSONDecoder().decode(SenderEvidence.self, from: JSONEncoder().encode(e))
        #expect(json == e)

        let request = RunRequest(
            runID: String(repeating: "ab", count: 16), nodes: [PeerRef(name: "a", address: IPAddress("198.18.0.1")!)], probes: [],
            timeoutMs: 500, attempts: 3, pathMTUNeeded: 1500)
        #expect(try WireCodec.decode(RunRequest.self, from: WireCodec.encode(request), source: "test").pathMTUNeeded == 1500)
        var bad = request
        bad.pathMTUNeeded = 70_000
        #expect(throws: InputError.self) { try bad.validate(selfAddress: IPAddress("198.18.0.1")!, kinds: []) }
        do {
            try bad.validate(selfAddress: IPAddress("198.18.0.1")!, kinds: [])
        } catch {
            #expect(error.description.contains("path_mtu_needed"))
        }
    }

    @Test("a path MTU probe: its trailer after the authenticated part, never echoed, and a 512-byte capture still authenticates it")
    func trailer() throws {
        let key = ClusterToken(secret: Array(repeating: 9, count: 32)).probeAuthenticator
        let p = ProbePacket(
            type: .probe, proto: .udp, targetPort: 4789, replyPort: 40000, timeMs: 1, nonce: Array(repeating: 7, count: 16),
            runID: Array(repeating: 1, count: 16), sender: IPAddress("198.18.0.1")!, target: IPAddress("198.18.0.2")!, trailer: 1300)
        let bytes = p.encode(auth: key)
        #expect(bytes.count == ProbePacket.minimumSize + 1300)
        let decoded = try ProbePacket.decode(bytes, auth: key).get()
        #expect(decoded.trailer == 1300 && decoded.padding == 0)
        #expect(decoded.echo(timeMs: 2).encode(auth: key).count == ProbePacket.minimumSize)
        // What a tap keeping 512 bytes of the frame hands over: the authenticated part and some of the trailer.
        #expect(try ProbePacket.decode(bytes.prefix(440), auth: key).get().nonce == p.nonce)
        // Without the flag, extra bytes are refused as before; a tampered authenticated part is refused with it.
        var unflagged = bytes
        unflagged[7] = 0
        #expect(throws: ProbePacket.DecodeError.self) { try ProbePacket.decode(unflagged, auth: key).get() }
        var tampered = bytes
        tampered[30] ^= 1
        #expect(throws: ProbePacket.DecodeError.self) { try ProbePacket.decode(tampered, auth: key).get() }
    }

    @Test("a check's path MTU in the results: flat keys, read back the same")
    func results() throws {
        var c = CheckResult(
            from: "m1", to: "w1", kind: TrafficKind(name: "vxlan", proto: .udp, port: 4789, dataPath: true), required: true,
            decision: Decision(.open, nil, .answered), detail: "", sender: nil, receiver: nil)
        c.pathMTU = PathMTUResult(bytes: 1400, limit: .blackHole, below: 1410, needed: 1500)
        let data = try JSONEncoder().encode(c)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["path_mtu"] as? Int == 1400 && object["path_mtu_limit"] as? String == "black-hole")
        #expect(object["path_mtu_below"] as? Int == 1410 && object["path_mtu_needed"] as? Int == 1500)
        #expect(try JSONDecoder().decode(CheckResult.self, from: data) == c)
    }
}
