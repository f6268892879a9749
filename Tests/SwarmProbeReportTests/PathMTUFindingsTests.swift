import Foundation
import SwarmProbeCore
import SwarmProbeReport
import Testing

@Suite("path MTU findings")
struct PathMTUFindingsTests {
    static let vxlan = TrafficKind(name: "vxlan", proto: .udp, port: 4789, dataPath: true)

    static func check(_ from: String, _ to: String, _ m: PathMTUResult?) -> CheckResult {
        var c = CheckResult(
            from: from, to: to, kind: vxlan, required: true, decision: Decision(.open, nil, .answered), detail: "", sender: nil,
            receiver: nil)
        c.pathMTU = m
        return c
    }

    @Test("one finding per sender and measured size, naming every peer it cannot reach in full; none for paths that fit")
    func grouped() throws {
        let hole = PathMTUResult(bytes: 1400, limit: .blackHole, below: 1410, needed: 1500)
        let holeOther = PathMTUResult(bytes: 1400, limit: .blackHole, below: 1450, needed: 1500)
        let routed = PathMTUResult(bytes: 1420, limit: .fragNeeded, below: 1430, needed: 1500)
        let fine = PathMTUResult(bytes: 1500, limit: nil, below: nil, needed: 1500)
        let findings = PathMTUFindings.findings([
            Self.check("m1", "w1", hole), Self.check("m1", "w2", holeOther), Self.check("m1", "w3", fine),
            Self.check("w2", "m1", routed), Self.check("w3", "m1", nil),
        ])
        #expect(findings.map(\.node) == ["m1", "w2"])
        let m1 = findings[0]
        #expect(m1.code == "path-mtu-below-overlay" && m1.required && m1.port == nil)
        // The first unarrived rung differs, the measured size does not: one finding.
        #expect(m1.peers == ["w1", "w2"])
        #expect(m1.detail.hasPrefix("m1 -> w1, w2: the data path (4789/udp) carries IP packets of at most 1400 bytes"))
        #expect(m1.detail.contains("black hole") && m1.detail.contains("the overlay needs 1500"))
        let fix = try #require(m1.fix)
        #expect(fix.contains("between m1 and those nodes to 1500 bytes"))
        #expect(fix.contains("-o com.docker.network.driver.mtu=1400 NAME") && fix.contains("Docker gives containers 1350"))
        #expect(fix.contains("docker network create --ingress"))
        #expect(findings[1].detail.contains("fragmentation needed") && findings[1].fix?.contains("between w2 and m1") == true)
    }

    @Test("a path that fits, or a check told no need, is no finding")
    func noNeed() {
        let unknown = PathMTUResult(bytes: 1400, limit: .blackHole, below: 1410, needed: nil)
        #expect(PathMTUFindings.findings([Self.check("a", "b", unknown)]).isEmpty)
        let fits = PathMTUResult(bytes: 1400, limit: .blackHole, below: 1410, needed: 1400)
        #expect(PathMTUFindings.findings([Self.check("a", "b", fits)]).isEmpty)
    }

    @Test("a node finding's peers are in the results JSON")
    func json() throws {
        let f = NodeFinding(node: "m1", code: PathMTUFindings.code, detail: "d", fix: "f", required: true, peers: ["w1", "w2"])
        let r = Results(
            toolVersion: "t", profile: "p", startedAt: "s", durationMs: 1, timeoutMs: 1, complete: true, nodes: [], checks: [],
            nodeFindings: [f])
        let text = JSONReport.render(r)
        #expect(text.contains("\"peers\""))
        #expect(try JSONDecoder().decode(Results.self, from: Data(text.utf8)).nodeFindings == [f])
    }
}
