import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// End to end on namespace labs: real agents, a real check, faults at known pairs.
/// Needs root; each test builds its own uniquely named lab and removes it on every exit path.
@Suite("namespace lab", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct LabTests {
    let udp7946 = KindID(proto: .udp, port: 7946)
    let tcp7946 = KindID(proto: .tcp, port: 7946)
    let tcp2377 = KindID(proto: .tcp, port: 2377)
    let vxlan = KindID(proto: .udp, port: 4789)

    @Test("a healthy mesh: every check open, exit code 0")
    func healthy() throws {
        let scenario = LabScenario.healthy(nodes: 4, managers: 2)
        try withLab(scenario) { lab, token in
            let run = try runCheck(lab, token: token)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.results.checks.count == 4 * 3 * 4)
            #expect(run.results.checks.allSatisfy { $0.verdict == .open }, "\(run.results.checks.filter { $0.verdict != .open }.map(\.detail))")
            #expect(run.results.summary.status == "pass")
            #expect(run.results.complete)
            #expect(run.results.nodes.allSatisfy { $0.agent.isUp && $0.listeners.allSatisfy { $0.mode == .listening } })
            // As root both taps work in every node's namespace.
            #expect(run.results.nodes.allSatisfy { $0.taps.count == 2 && $0.taps.allSatisfy(\.active) }, "\(run.results.nodes.map(\.taps))")
            // worker -> worker on 2377 is checked but not required
            let ww = try #require(run.results.checks.first { $0.from == "w1" && $0.to == "w2" && $0.kindID == tcp2377 })
            #expect(!ww.required)
            #expect(run.markdown.contains("PASS"))
            // An answered TCP probe ends with the prober's reset: no TIME_WAIT on either end of a probe port (a
            // graceful close left one per probe on the prober for a minute).
            for node in lab.nodes {
                let waiting = try Program.run([
                    "ip", "netns", "exec", node.namespace, "ss", "-Htan", "state", "time-wait",
                    "( sport = :2377 or dport = :2377 or sport = :7946 or dport = :7946 )",
                ])
                #expect(waiting.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(node.name): \(waiting)")
            }
        }
    }

    @Test("the lean swarmprobe-agent binary serves a check exactly as `swarmprobe agent` does")
    func leanAgentBinary() throws {
        let scenario = LabScenario(
            name: "lean", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.hostFirewall(node: "w2", from: "m1", kind: udp7946, reject: false)])
        let lean = URL(fileURLWithPath: swarmprobeBinary()).deletingLastPathComponent().appendingPathComponent("swarmprobe-agent").path
        try withLab(scenario, startAgents: false) { lab, token in
            try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token, leanBinary: lean)
            #expect(lab.agentLog("m1").contains("swarmprobe agent ready on 198.18."), "\(lab.agentLog("m1"))")
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1, "\(run.stderr)")
            expectMatches(run.results, scenario, capture: true)
            #expect(run.results.nodes.allSatisfy { $0.agentVersion == SwarmProbeVersion.current && $0.taps.allSatisfy(\.active) })
        }
    }

    @Test("the demo's faults: network drop, host firewall reject, return path, answers dropped by the sender")
    func demoScenario() throws {
        let scenario = LabScenario.demo
        try withLab(scenario) { lab, token in
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1)
            expectMatches(run.results, scenario, capture: true)
            // Spot checks of what the issue names explicitly.
            let vx = try #require(run.results.checks.first { $0.from == "w1" && $0.to == "w2" && $0.kindID == vxlan })
            #expect(vx.verdict == .blocked && vx.location == .network, "capture on w2 never saw it: \(vx.detail)")
            let back = try #require(run.results.checks.first { $0.from == "w2" && $0.to == "w1" && $0.kindID == vxlan })
            #expect(back.verdict == .open, "the drop is one way")
            let fw = try #require(run.results.checks.first { $0.from == "w1" && $0.to == "m2" && $0.kindID == udp7946 })
            #expect(fw.verdict == .blocked && fw.location == .hostFirewall)
            let rst = try #require(run.results.checks.first { $0.from == "w2" && $0.to == "m2" && $0.kindID == tcp2377 })
            #expect(rst.verdict == .blocked && rst.location == .hostFirewall)
            let ret = try #require(run.results.checks.first { $0.from == "m1" && $0.to == "w1" && $0.kindID == udp7946 })
            #expect(ret.verdict == .blocked && ret.location == .returnPath)
            #expect((ret.receiver?.received ?? 0) > 0 && (ret.receiver?.answered ?? 0) > 0)
            #expect(!ret.detail.contains("own firewall"), "a network return path is not the sender's firewall: \(ret.detail)")
            let own = try #require(run.results.checks.first { $0.from == "w1" && $0.to == "m1" && $0.kindID == tcp2377 })
            #expect(own.verdict == .blocked && own.location == .returnPath && own.detail.contains("w1's own firewall"), "\(own.detail)")
            #expect(run.markdown.contains("w1's own firewall drops them"), "\(run.markdown)")
            #expect(run.results.summary.status == "fail")
            #expect(run.markdown.contains("FAIL"))
        }
    }

    @Test("silent drops, TCP network drops, a rejecting source, a lost SYN-ACK")
    func moreFaults() throws {
        let scenario = LabScenario(
            name: "more",
            nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker), ("w3", .worker)],
            faults: [
                .networkDrop(from: "w1", to: "m1", kind: tcp2377),
                .hostFirewall(node: "w2", from: nil, kind: tcp7946, reject: false),
                .hostFirewall(node: "w3", from: "m1", kind: vxlan, reject: true),
                .returnPathDrop(from: "w3", to: "w1", kind: tcp7946),
                .networkDrop(from: "m1", to: "w3", kind: udp7946),
            ])
        try withLab(scenario) { lab, token in
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1)
            expectMatches(run.results, scenario, capture: true)
        }
    }

    @Test("without capture taps a silent drop is blocked/unknown, never a guessed layer")
    func withoutCapture() throws {
        let scenario = LabScenario(
            name: "nocap",
            nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [
                .networkDrop(from: "w1", to: "w2", kind: vxlan),
                .hostFirewall(node: "m1", from: nil, kind: tcp7946, reject: false),
                .hostFirewall(node: "w1", from: "m1", kind: udp7946, reject: true),
            ])
        try withLab(scenario, agentArguments: ["--no-capture"]) { lab, token in
            let run = try runCheck(lab, token: token)
            #expect(run.results.nodes.allSatisfy { $0.taps.allSatisfy { !$0.active } })
            expectMatches(run.results, scenario, capture: false)
            // Nothing would see a late answer: the auto timeout keeps its 500 ms floor however small the mesh.
            let auto = try runCheck(lab, token: token, timeout: "auto")
            #expect(auto.results.timeoutPolicy == "auto" && auto.results.timeoutMs == ProbeTiming.floorMs)
            expectMatches(auto.results, scenario, capture: false)
        }
    }

    @Test("probes leaving from another address than the inventory's: open, and named as a finding")
    func sourceMismatch() throws {
        let scenario = LabScenario(
            name: "nat", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.sourceNAT(node: "w1", kind: udp7946)])
        try withLab(scenario) { lab, token in
            let run = try runCheck(lab, token: token)
            expectMatches(run.results, scenario, capture: true)
            let nat = lab.natAddress("w1")
            for c in run.results.checks {
                let expected: [IPAddress] = (c.from == "w1" && c.kindID == udp7946) ? [nat] : []
                #expect(c.unexpectedSources == expected, "\(c.from) -> \(c.to) \(c.kindID): \(c.unexpectedSources)")
            }
            #expect(run.markdown.contains("Unexpected source address"), "\(run.markdown)")
            #expect(run.markdown.contains(nat.description))
        }
    }

    @Test("agents without capture privileges say so, and silent drops stay where: unknown")
    func unprivileged() throws {
        let scenario = LabScenario(
            name: "nopriv", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [
                .networkDrop(from: "w1", to: "w2", kind: vxlan),
                .hostFirewall(node: "m1", from: nil, kind: tcp7946, reject: false),
                .hostFirewall(node: "w2", from: "m1", kind: udp7946, reject: true),
            ])
        let lab = try Lab(nodes: scenario.nodes)
        defer { lab.destroy() }
        let token = try lab.write("token", ClusterToken.generate() + "\n")
        try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token, user: "nobody")
        for f in scenario.faults { try lab.inject(f) }
        let run = try runCheck(lab, token: token)
        for n in run.results.nodes {
            #expect(n.taps.count == 2 && n.taps.allSatisfy { !$0.active && $0.detail != nil }, "\(n.name): \(n.taps)")
            // Said once, clearly, in the agent's own log.
            #expect(lab.agentLog(n.name).components(separatedBy: "capture taps unavailable").count == 2, "\(lab.agentLog(n.name))")
        }
        expectMatches(run.results, scenario, capture: false)
    }

    @Test("the nflog tap's nftables table is removed on stop and replaced after a kill")
    func tapTableLifecycle() throws {
        let scenario = LabScenario.healthy(nodes: 2, managers: 1)
        try withLab(scenario) { lab, token in
            func tables(_ node: String) throws -> String {
                try Program.run(["ip", "netns", "exec", lab.node(node).namespace, "nft", "list", "tables"])
            }
            #expect(try tables("w1").contains("swarmprobe_tap_7950"))
            lab.killAgent("w1")  // SIGKILL: no chance to clean up
            #expect(try tables("w1").contains("swarmprobe_tap_7950"))
            try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token, only: ["w1"])
            #expect(try tables("w1").components(separatedBy: "swarmprobe_tap_7950").count == 2, "one table, not two")
            let run = try runCheck(lab, token: token)
            #expect(run.status == 0)
            lab.stopAgents()  // SIGTERM: the agent removes its table
            #expect(try !tables("w1").contains("swarmprobe_tap"))
            #expect(try !tables("m1").contains("swarmprobe_tap"))
        }
    }

    @Test("an agent killed before the check: its checks are agent-down, never blocked")
    func agentDown() throws {
        let scenario = LabScenario.healthy(nodes: 4, managers: 1)
        try withLab(scenario) { lab, token in
            lab.killAgent("w2")
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1)
            for c in run.results.checks {
                if c.from == "w2" || c.to == "w2" {
                    #expect(c.verdict == .agentDown, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict)")
                } else {
                    #expect(c.verdict == .open, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.detail)")
                }
            }
            let node = try #require(run.results.nodes.first { $0.name == "w2" })
            #expect(node.agent.status == .down)
            #expect(node.agent.detail?.contains("refused") == true, "\(node.agent.detail ?? "")")
        }
    }

    @Test("a node whose link is down: agent-down, and the check still ends on time")
    func nodeDown() throws {
        let scenario = LabScenario.healthy(nodes: 3, managers: 1)
        try withLab(scenario) { lab, token in
            try lab.takeDown("w2")
            let run = try runCheck(lab, token: token)
            #expect(run.status == 1)
            #expect(run.results.checks.filter { $0.from == "w2" || $0.to == "w2" }.allSatisfy { $0.verdict == .agentDown })
            #expect(run.results.checks.filter { $0.from != "w2" && $0.to != "w2" }.allSatisfy { $0.verdict == .open })
            // Hello waits at most the control timeout (3 s); the probes one timeout.
            #expect(run.results.durationMs < 15_000)
        }
    }

    @Test("an agent with another token: authentication failed, not a blocked path")
    func wrongToken() throws {
        let scenario = LabScenario.healthy(nodes: 3, managers: 1)
        let lab = try Lab(nodes: scenario.nodes)
        defer { lab.destroy() }
        let token = try lab.write("token", ClusterToken.generate() + "\n")
        let other = try lab.write("other-token", ClusterToken.generate() + "\n")
        try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token, only: ["m1", "w1"])
        try lab.startAgents(binary: swarmprobeBinary(), tokenFile: other, only: ["w2"])
        let run = try runCheck(lab, token: token)
        #expect(run.status == 1)
        let node = try #require(run.results.nodes.first { $0.name == "w2" })
        #expect(node.agent.status == .authFailed)
        // Each layer says its part once: the agent why, the coordinator where.
        #expect(node.agent.detail == "the signature does not match (at \(node.control))", "\(node.agent.detail ?? "")")
        // Nothing can be asked of w2's agent; what is sent to it is agent-down, except a TCP handshake,
        // which proves the path open by itself.
        #expect(run.results.checks.filter { $0.from == "w2" }.allSatisfy { $0.verdict == .agentDown })
        for c in run.results.checks where c.to == "w2" {
            #expect(c.verdict == (c.proto == .tcp ? .open : .agentDown), "\(c.from) -> w2 \(c.kindID): \(c.verdict) \(c.detail)")
        }
        #expect(!run.results.checks.contains { $0.verdict == .blocked })
        #expect(run.markdown.contains("Authentication failed: w2 ("))
        #expect(
            run.markdown.contains("refused the coordinator's authentication (the signature does not match (at \(node.control)))"), "\(run.markdown)")
        for c in run.results.checks where c.from == "w2" {
            #expect(c.detail == "the agent on w2 rejected our authentication: the signature does not match (at \(node.control)); nothing was probed")
        }
    }

    @Test("--data-path-port 7789: VXLAN probed on 7789, and a drop there is found")
    func dataPathPort() throws {
        let moved = KindID(proto: .udp, port: 7789)
        let scenario = LabScenario(
            name: "dpp", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.networkDrop(from: "w2", to: "m1", kind: moved)])
        try withLab(scenario, agentArguments: ["--data-path-port", "7789"]) { lab, token in
            let run = try runCheck(lab, token: token, extra: ["--data-path-port", "7789"])
            #expect(!run.results.checks.contains { $0.kindID == vxlan })
            #expect(run.results.checks.contains { $0.kindID == moved })
            expectMatches(run.results, scenario, capture: true)
        }
    }

    @Test("ESP on an encrypted-overlay profile: probed over a raw socket, a drop found")
    func esp() throws {
        let espKind = KindID(proto: .esp, port: nil)
        let profile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("probes/swarm-encrypted.yaml").path
        let scenario = LabScenario(
            name: "esp", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.networkDrop(from: "w1", to: "w2", kind: espKind)])
        try withLab(scenario, agentArguments: ["--profile", profile]) { lab, token in
            let run = try runCheck(lab, token: token, extra: ["--profile", profile])
            let esps = run.results.checks.filter { $0.kindID == espKind }
            #expect(esps.count == 6)
            #expect(esps.allSatisfy { $0.port == nil && $0.proto == .esp })
            expectMatches(run.results, scenario, capture: true)
        }
    }

    @Test("the demo command runs end to end and its verdicts match what it injected")
    func demoCommand() throws {
        func namespaces() throws -> Set<String> {
            Set(try Program.run(["ip", "netns", "list"]).split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        }
        let before = try namespaces()
        let r = try Program.capture([swarmprobeBinary(), "demo", "--timeout", "1s"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("verdicts match the faults the lab injected"))
        // Only the demo's own namespaces (sp....-*) count: other labs may be running beside it.
        let left = try namespaces().subtracting(before).filter { $0.hasPrefix("sp") }
        #expect(left.isEmpty, "namespaces left behind: \(left)")
    }
}
