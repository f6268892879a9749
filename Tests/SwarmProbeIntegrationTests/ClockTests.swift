import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// Why the clock tests cannot run here, or nil when they can.
let clockUnavailable: String? =
    labUnavailable ?? ((try? Program.path("faketime")) == nil ? "faketime is not installed (apt-get install faketime)" : nil)

/// Agents whose clocks are off, through libfaketime: a few seconds (the hello passes, the offset is measured) and
/// two minutes (past the 60 s a signed request may be off by: the agent refuses the hello and sends its clock).
/// Both must come out as the node's clock finding with its offset, not as a path problem or a bare auth failure.
@Suite("clocks", .serialized, .enabled(if: clockUnavailable == nil, "\(clockUnavailable ?? "")"))
struct ClockTests {
    @Test("5 s ahead and 2 min behind: clock findings with their offsets; the rest unaffected")
    func offsets() throws {
        let scenario = LabScenario(name: "clock", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)], faults: [])
        try withLab(scenario, startAgents: false) { lab, token in
            try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token, clockAhead: ["w1": 5, "w2": -120])
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1, "\(run.stderr)")
            let findings = Dictionary(run.results.nodeFindings.map { ($0.node, $0) }, uniquingKeysWith: { a, _ in a })
            #expect(Set(findings.keys) == ["w1", "w2"], "\(run.results.nodeFindings)")
            let w1 = try #require(findings["w1"]), w2 = try #require(findings["w2"])
            #expect(w1.code == "clock-offset" && w1.required && w1.detail.contains(" s ahead of"), "\(w1.detail)")
            #expect(w2.code == "clock-offset" && w2.detail.contains("2 min") && w2.detail.contains("behind"), "\(w2.detail)")
            let offset = try #require(run.results.nodes.first { $0.name == "w1" }?.clockOffsetMs)
            #expect((4000...6000).contains(offset), "\(offset)")
            // w2 refused the hello for its time: auth-failed, and the refusal says by how much.
            let node = try #require(run.results.nodes.first { $0.name == "w2" })
            #expect(node.agent.status == .authFailed && (node.agent.detail ?? "").contains("2 min"), "\(node.agent)")
            #expect((-125_000 ... -115_000).contains(node.clockOffsetMs ?? 0), "\(String(describing: node.clockOffsetMs))")
            // Paths between the two healthy clocks are open; w1's 5 s are inside the probes' window too.
            #expect(run.results.checks.filter { $0.from != "w2" && $0.to != "w2" }.allSatisfy { $0.verdict == .open })
        }
    }
}
