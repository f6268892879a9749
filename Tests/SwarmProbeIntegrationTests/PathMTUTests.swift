import Foundation
import SwarmProbeCore
import SwarmProbeLab
import Testing

/// The data path's path MTU on the namespace lab: a switch rule that silently drops VXLAN packets over 1400 bytes
/// (a black hole), and a router whose next hop carries 1420 bytes and says so ("fragmentation needed"). Every
/// data-path check gets `path_mtu`; the two cut paths are findings naming both nodes, and the check fails.
@Suite("path MTU", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct PathMTUTests {
    static let vxlan = KindID(proto: .udp, port: 4789)

    @Test("black hole and frag-needed: measured size, how it dies, one finding each, exit 1")
    func blackHoleAndFragNeeded() throws {
        let scenario = LabScenario(
            name: "pmtu", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [
                .bigPacketDrop(from: "m1", to: "w1", kind: Self.vxlan, above: 1400),
                .routedHop(from: "w2", to: "m1", mtu: 1420),
            ])
        try withLab(scenario) { lab, token in
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1, "\(run.stderr)")
            // The sender behind the router learns of "fragmentation needed" without a socket error: it carries on.
            let log = (try? String(contentsOf: lab.directory.appendingPathComponent("agent-w2.log"), encoding: .utf8)) ?? ""
            #expect(!log.contains("Fatal error") && !log.contains("Assertion failed") && log.contains("probes done"), "\(log.suffix(3000))")
            let r = run.results
            // The small probes all pass: the ports are open everywhere.
            #expect(r.checks.allSatisfy { $0.verdict == .open }, "\(r.checks.filter { $0.verdict != .open }.map(\.detail))")
            let dataPath = Dictionary(uniqueKeysWithValues: r.checks.filter { $0.kindID == Self.vxlan }.map { ("\($0.from)->\($0.to)", $0) })
            #expect(dataPath.count == 6)

            let hole = try #require(dataPath["m1->w1"]?.pathMTU)
            #expect(hole.bytes == 1400 && hole.limit == .blackHole && hole.below == 1440 && hole.needed == 1500, "\(hole)")
            let routed = try #require(dataPath["w2->m1"]?.pathMTU)
            #expect(
                routed.bytes == 1420 && routed.limit == .fragNeeded && routed.needed == 1500,
                "\(routed) \(String(describing: dataPath["w2->m1"]?.sender?.mtu))")
            for (path, c) in dataPath where path != "m1->w1" && path != "w2->m1" {
                #expect(c.pathMTU == PathMTUResult(bytes: 1500, limit: nil, below: nil, needed: 1500), "\(path): \(String(describing: c.pathMTU))")
            }
            // The rungs are in the evidence, each with its nonce and how it ended at the sender.
            let rungs = try #require(dataPath["m1->w1"]?.sender?.mtu?.rungs)
            #expect(rungs.filter { $0.size <= 1400 }.allSatisfy { $0.outcome == .answered })
            #expect(rungs.filter { $0.size > 1400 }.allSatisfy { $0.outcome == .silent })

            let findings = r.nodeFindings.filter { $0.code == "path-mtu-below-overlay" }
            #expect(findings.count == 2, "\(r.nodeFindings)")
            let m1 = try #require(findings.first { $0.node == "m1" })
            #expect(m1.peers == ["w1"] && m1.required)
            #expect(m1.detail.contains("at most 1400 bytes") && m1.detail.contains("black hole") && m1.detail.contains("needs 1500"))
            #expect(m1.fix?.contains("com.docker.network.driver.mtu=1400") == true)
            let w2 = try #require(findings.first { $0.node == "w2" })
            #expect(w2.peers == ["m1"] && w2.detail.contains("fragmentation needed") && w2.detail.contains("at most 1420 bytes"))
            #expect(r.summary.requiredNodeFindings == 2)
            #expect(run.markdown.contains("`path-mtu-below-overlay`"))
        }
    }

    @Test("--overlay-mtu sets what the paths must carry; off measures nothing")
    func overlayMTUOption() throws {
        let scenario = LabScenario(
            name: "pmtuopt", nodes: [("m1", .manager), ("w1", .worker)],
            faults: [.bigPacketDrop(from: "m1", to: "w1", kind: Self.vxlan, above: 1400)])
        try withLab(scenario) { lab, token in
            // Containers at 1350 need 1400-byte packets: the path carries them.
            let fits = try runCheck(lab, token: token, extra: ["--overlay-mtu", "1350"])
            #expect(fits.status == 0, "\(fits.results.nodeFindings)")
            let hole = fits.results.checks.first { $0.from == "m1" && $0.to == "w1" && $0.kindID == Self.vxlan }?.pathMTU
            #expect(hole?.bytes == 1400 && hole?.needed == 1400)

            let off = try runCheck(lab, token: token, extra: ["--overlay-mtu", "off"])
            #expect(off.status == 0)
            #expect(off.results.checks.allSatisfy { $0.pathMTU == nil && $0.sender?.mtu == nil })

            let inventory = try lab.write("inventory.yaml", lab.inventoryYAML())
            let bad = try lab.runInSwitch(
                binary: swarmprobeBinary(), ["check", "--inventory", inventory, "--token-file", token, "--overlay-mtu", "big"])
            #expect(bad.status == 2 && bad.stderr.contains("--overlay-mtu"), "\(bad.stderr)")
        }
    }
}
