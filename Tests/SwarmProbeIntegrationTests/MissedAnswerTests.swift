import Foundation
import SwarmProbeCore
import SwarmProbeLab
import Testing

/// An answer the prober never got, though the sender's own interface saw it arrive: late (the path is open
/// and slow: never "blocked"), or on time and dropped by the sender's own firewall (the return path, on
/// the sender: not "stateless ACL somewhere").
@Suite("answers the prober missed", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct MissedAnswerTests {
    let udp7946 = KindID(proto: .udp, port: 7946)
    let tcp2377 = KindID(proto: .tcp, port: 2377)
    let vxlan = KindID(proto: .udp, port: 4789)

    @Test("the sender's own firewall drops the answers: return path, on the sender, with the answer's timing")
    func senderFirewall() throws {
        let scenario = LabScenario(
            name: "senderfw",
            nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [
                .answersDroppedBySender(node: "w1", from: "m1", kind: udp7946),
                .answersDroppedBySender(node: "w1", from: "m1", kind: tcp2377),
                // A network return-path drop beside it: no sender capture sees those answers.
                .returnPathDrop(from: "w2", to: "m1", kind: vxlan),
            ])
        try withLab(scenario) { lab, token in
            let r = try runCheck(lab, token: token, timeout: "500ms")
            #expect(r.status == 1, "\(r.stderr)")
            expectMatches(r.results, scenario, capture: true)
            for c in r.results.checks where c.from == "w1" && c.to == "m1" && (c.kindID == udp7946 || c.kindID == tcp2377) {
                let missed = try #require(c.sender?.missedAnswerMs, "\(c.kindID): \(c.detail)")
                // The answer came within milliseconds of a try; the probe was called silent ~500 ms later.
                #expect(missed < -missedAnswerMarginMs, "\(c.kindID): \(missed) ms")
                #expect(c.detail.contains("w1's own firewall"), "\(c.kindID): \(c.detail)")
            }
            for c in r.results.checks where c.from == "w2" && c.to == "m1" && c.kindID == vxlan {
                #expect(c.sender?.missedAnswerMs == nil, "\(c.detail)")
                #expect(!c.detail.contains("own firewall"), "\(c.detail)")
            }
            // Open paths carry no such field.
            #expect(r.results.checks.filter { $0.verdict == .open }.allSatisfy { $0.sender?.missedAnswerMs == nil })
            #expect(r.results.checks.filter { $0.verdict == .open }.count == r.results.checks.count - 3)
        }
    }

    @Test("answers held back past the timeout (the target's agent stopped): open and slow, never blocked")
    func lateAnswers() throws {
        let scenario = LabScenario(name: "late", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)], faults: [])
        try withLab(scenario) { lab, token in
            // Probes to w2 over UDP are dropped at first, so none is answered before w2's agent is stopped.
            for from in ["m1", "w1"] {
                for kind in [udp7946, vxlan] { try lab.inject(.networkDrop(from: from, to: "w2", kind: kind)) }
            }
            let pid = try #require(lab.agentPID("w2"))
            defer { kill(pid, SIGCONT) }
            let (check, json, report) = try startCheck(lab, token: token, timeout: "1s", name: "late")
            defer { if check.isRunning { check.terminate() } }
            // Once m1 has its plan every agent has answered hello: stop w2's agent, then let the probes
            // through; they wait in w2's sockets until it runs again, well after the senders gave up.
            let began = Date()
            while !lab.agentLog("m1").contains("probes, timeout") {
                try #require(Date().timeIntervalSince(began) < 10, "m1 never started its run")
                usleep(1_000)
            }
            #expect(kill(pid, SIGSTOP) == 0)
            for from in ["m1", "w1"] {
                for kind in [udp7946, vxlan] { try lab.heal(networkDrop: from, to: "w2", kind: kind) }
            }
            usleep(2_500_000)
            #expect(kill(pid, SIGCONT) == 0)
            let exit = check.wait()
            let data = try #require(FileManager.default.contents(atPath: json))
            let r = try JSONDecoder().decode(Results.self, from: data)
            var late = 0
            for c in r.checks {
                #expect(c.verdict == .open, "\(c.from) -> \(c.to) \(c.kindID): \(c.verdict) \(c.detail)")
                if c.to == "w2" && c.kindID.proto == .udp {
                    let missed = try #require(c.sender?.missedAnswerMs, "\(c.from) -> w2 \(c.kindID): \(c.detail)")
                    #expect(missed > 0, "\(c.from) -> w2 \(c.kindID): \(missed) ms")
                    #expect(c.reason == .answerLate && c.detail.contains("open but slow"), "\(c.detail)")
                    late += 1
                }
            }
            #expect(late == 4)
            let md = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
            #expect(md.contains("4 open checks answered only after the probe was given up"), "\(md)")
            #expect(exit.status == 0)
        }
    }
}
