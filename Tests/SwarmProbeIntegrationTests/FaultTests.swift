import Foundation
import SwarmProbeCore
import SwarmProbeLab
import Testing

/// Faults in the middle of a check: an agent killed, a node going down, the user pressing Ctrl-C.
/// Nothing already gathered may be lost, and the check ends within its time budget.
@Suite("faults during a check", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct FaultTests {
    func results(_ path: String) throws -> Results {
        let data = try #require(FileManager.default.contents(atPath: path))
        return try JSONDecoder().decode(Results.self, from: data)
    }

    @Test("an agent killed during the check: its checks are agent-down, the rest stand, on time")
    func agentKilledMidRun() throws {
        // A silent drop makes every agent wait the whole timeout, so the kill lands mid-run.
        let scenario = LabScenario(
            name: "kill", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.networkDrop(from: "m1", to: "w1", kind: KindID(proto: .udp, port: 4789))])
        try withLab(scenario) { lab, token in
            let started = Date()
            let (check, json, _) = try startCheck(lab, token: token, timeout: "3s")
            usleep(1_200_000)
            lab.killAgent("w2")
            let exit = check.wait()
            let elapsed = Date().timeIntervalSince(started)
            #expect(exit.status == 1)
            let r = try results(json)
            #expect(r.complete)
            for c in r.checks {
                if c.from == "w2" {
                    // w2's own results died with it.
                    #expect(c.verdict == .agentDown, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.detail)")
                } else if c.to == "w2" {
                    // Probes w2 answered before it died prove their paths; the rest are agent-down. Never blocked.
                    #expect(c.verdict == .open || c.verdict == .agentDown, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.detail)")
                } else {
                    let (v, w) = scenario.expected(from: c.from, to: c.to, kind: c.kindID, capture: true)
                    #expect(c.verdict == v && c.location == w, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.detail)")
                }
            }
            // Not a timing target (the machine may be slow): only a check that hung on the dead agent gets near this.
            #expect(elapsed < 60, "took \(elapsed) s")
        }
    }

    @Test("a node going down during the check: agent-down, on time")
    func nodeDownMidRun() throws {
        // The silent drop keeps every agent busy for the whole timeout, so the link goes down mid-run.
        let scenario = LabScenario(
            name: "down", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.networkDrop(from: "m1", to: "w1", kind: KindID(proto: .udp, port: 4789))])
        try withLab(scenario) { lab, token in
            let started = Date()
            let (check, json, _) = try startCheck(lab, token: token, timeout: "2s")
            usleep(800_000)
            try lab.takeDown("w2")
            let exit = check.wait()
            let elapsed = Date().timeIntervalSince(started)
            #expect(exit.status == 1)
            let r = try results(json)
            // w2 may have answered hello before its link went down: whatever it had not reported is agent-down.
            for c in r.checks where c.from == "w2" || c.to == "w2" {
                #expect(c.verdict == .agentDown || c.verdict == .open, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.detail)")
                #expect(c.verdict != .blocked)
            }
            for c in r.checks where c.from != "w2" && c.to != "w2" {
                let (v, w) = scenario.expected(from: c.from, to: c.to, kind: c.kindID, capture: true)
                #expect(c.verdict == v && c.location == w, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.detail)")
            }
            #expect(r.checks.filter { $0.from == "w2" }.allSatisfy { $0.verdict == .agentDown })
            // Not a timing target (the machine may be slow): only a check that hung on the lost node gets near this.
            #expect(elapsed < 60, "took \(elapsed) s")
        }
    }

    @Test("Ctrl-C once the fast paths answered: they are decided open, only the silent one is undecided (interrupted)")
    func interruptedKeepsWhatItKnows() throws {
        let silent = KindID(proto: .tcp, port: 7946)
        let scenario = LabScenario(
            name: "keep", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.networkDrop(from: "w1", to: "w2", kind: silent)])
        try withLab(scenario) { lab, token in
            // A timeout far longer than the test: the dropped path is still out when the check is interrupted.
            let (check, json, report) = try startCheck(lab, token: token, timeout: "60s", name: "keep")
            defer { check.terminate(grace: 1) }
            // Every agent has its plan; the paths that work answer within milliseconds of that.
            while check.isRunning && !lab.nodes.allSatisfy({ lab.agentLog($0.name).contains("probes, timeout") }) { usleep(50_000) }
            usleep(1_000_000)
            check.signal(SIGINT)
            let exit = check.wait()
            #expect(exit.status == 1)
            let r = try results(json)
            #expect(!r.complete)
            #expect(r.summary.status == "incomplete")
            #expect(r.checks.count == 3 * 2 * 4, "every planned check is listed")
            #expect(r.nodes.allSatisfy { $0.agent.isUp }, "\(r.nodes.map(\.agent))")
            for c in r.checks {
                if c.from == "w1" && c.to == "w2" && c.kindID == silent {
                    #expect(c.verdict == .inconclusive && c.reason == .interrupted, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.detail)")
                } else {
                    // Decided from what the agents handed over after the interrupt, as a complete check decides it.
                    #expect(c.verdict == .open, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.reason) \(c.detail)")
                }
            }
            #expect(r.summary.undecided == 1 && r.summary.requiredUndecided == 1)
            let headline = "INCOMPLETE: interrupted: 1 of 24 paths undecided; every decided required path open"
            let md = try String(contentsOfFile: report, encoding: .utf8)
            #expect(md.contains("**\(headline)**"), "\(md.prefix(600))")
            // The agents were told to stop: the silent probe does not keep them busy for its minute.
            #expect(lab.agentLog("w1").contains("stopped by the coordinator"), "\(lab.agentLog("w1"))")
            let again = try runCheck(lab, token: token)
            #expect(again.results.complete && again.results.nodes.allSatisfy { $0.agent.isUp }, "\(again.results.nodes.map(\.agent))")
            expectMatches(again.results, scenario, capture: true)
        }
    }

    @Test("Ctrl-C during the check: partial JSON and report, marked incomplete, exit non-zero")
    func interrupted() throws {
        let scenario = LabScenario(
            name: "int", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.networkDrop(from: "w1", to: "w2", kind: KindID(proto: .tcp, port: 7946))])
        try withLab(scenario) { lab, token in
            let started = Date()
            let (check, json, report) = try startCheck(lab, token: token, timeout: "60s")
            usleep(1_500_000)  // hello done, probes out, waiting on the silent drop
            check.signal(SIGINT)
            let exit = check.wait()
            #expect(Date().timeIntervalSince(started) < 40, "Ctrl-C must not wait for the 60 s timeout")
            #expect(exit.status != 0)
            let r = try results(json)
            #expect(!r.complete)
            #expect(r.summary.status == "incomplete")
            #expect(r.checks.count == 3 * 2 * 4, "every planned check is listed")
            // What was gathered is kept: every node answered hello.
            #expect(r.nodes.allSatisfy { $0.agent.isUp && !$0.listeners.isEmpty }, "\(r.nodes.map(\.agent))")
            #expect(!r.checks.contains { $0.verdict == .agentDown }, "an interruption is not an agent failure")
            let md = try String(contentsOfFile: report, encoding: .utf8)
            #expect(md.contains("INCOMPLETE"))
        }
    }
}
