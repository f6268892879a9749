import SwarmProbeTestSupport
import Testing

@testable import SwarmProbeCore

@Suite("decide(_:)")
struct VerdictTests {
    @Test("the verdict table", arguments: verdictTable)
    func table(_ c: VerdictCase) {
        let d = decide(c.input)
        #expect(d.verdict == c.verdict)
        #expect(d.location == c.location)
        #expect(d.reason == c.reason)
        // Only rows whose receiver saw another source address report one.
        let other = (c.input.receiver?.sourceAddresses ?? []).filter { $0 != c.input.expectedSource }
        #expect(d.unexpectedSources == Array(Set(other)).sorted { $0.description < $1.description })
    }

    @Test("location is set exactly when the verdict is blocked", arguments: verdictTable)
    func locationIffBlocked(_ c: VerdictCase) {
        let d = decide(c.input)
        #expect((d.location != nil) == (d.verdict == .blocked))
    }

    @Test("the table reaches every verdict, every location, and every reason the probes can give")
    func tableCoversEverything() {
        let decisions = verdictTable.map { decide($0.input) }
        #expect(Set(decisions.map(\.verdict)) == Set(Verdict.allCases))
        #expect(Set(decisions.compactMap(\.location)) == Set(Where.allCases))
        // Not from `decide` on evidence: an interrupted check, an agent of another version (below), and the AWS audit's.
        let elsewhere: Set<Reason> = [.interrupted, .agentIncompatible, .awsAllowed, .awsDenied, .awsReturnDenied, .awsUnknown]
        #expect(Set(decisions.map(\.reason)) == Set(Reason.allCases).subtracting(elsewhere))
    }

    @Test("an agent of another protocol version is neither down nor blocked: inconclusive, whichever end it is")
    func incompatibleAgent() {
        let old = AgentHealth(.incompatible, "protocol 1, coordinator 2")
        for (senderAgent, receiverAgent) in [(old, AgentHealth.up), (.up, old)] {
            let input = VerdictInput(
                kind: .udp4789, fromName: "m1", toName: "w1", expectedSource: ip("10.0.0.1"),
                senderAgent: senderAgent, receiverAgent: receiverAgent,
                sender: senderAgent.isUp ? sent(.timeout) : nil, receiver: nil)
            #expect(decide(input) == Decision(.inconclusive, nil, .agentIncompatible))
        }
    }

    @Test("reason codes are kebab case and unique")
    func reasonCodes() {
        for r in Reason.allCases {
            #expect(r.rawValue.allSatisfy { $0.isLowercase || $0 == "-" } && !r.rawValue.hasPrefix("-") && !r.rawValue.hasSuffix("-"), "\(r)")
        }
        #expect(Set(Reason.allCases.map(\.rawValue)).count == Reason.allCases.count)
    }

    @Test("docs/results.md lists every reason code, and no other")
    func reasonsDocumented() throws {
        let doc = try String(contentsOf: Repo.root.appendingPathComponent("docs/results.md"), encoding: .utf8)
        let section = try #require(doc.components(separatedBy: "## Reason codes").dropFirst().first?.components(separatedBy: "\n## ").first)
        let listed = section.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { return nil }
            return String(line.dropFirst(3)[..<end])
        }
        #expect(listed.count == Set(listed).count, "listed twice: \(listed)")
        #expect(Set(listed) == Set(Reason.allCases.map(\.rawValue)))
    }

    @Test(
        "probes arriving from another address are reported, once each, sorted",
        arguments: [
            sent(.answered, attempts: 1), sent(.timeout), sent(.refused),
        ])
    func unexpectedSources(evidence: SenderEvidence) {
        let receiver = got(
            .listening, received: 4, answered: 4,
            from: [ip("10.0.0.1"), ip("192.168.1.5"), ip("172.16.0.9"), ip("192.168.1.5")])
        let input = VerdictInput(
            kind: .udp4789, fromName: "m1", toName: "w1", expectedSource: ip("10.0.0.1"),
            senderAgent: .up, receiverAgent: .up, sender: evidence, receiver: receiver)
        #expect(decide(input).unexpectedSources == [ip("172.16.0.9"), ip("192.168.1.5")])
    }

    @Test("no unexpected sources when every probe came from the inventory address, or nothing was received")
    func noUnexpectedSources() {
        for sources in [[ip("10.0.0.1"), ip("10.0.0.1")], []] {
            let input = VerdictInput(
                kind: .tcp7946, fromName: "m1", toName: "w1", expectedSource: ip("10.0.0.1"),
                senderAgent: .up, receiverAgent: .up, sender: sent(.answered),
                receiver: got(.listening, received: sources.count, answered: sources.count, from: sources))
            #expect(decide(input).unexpectedSources.isEmpty)
        }
        let noReceiver = VerdictInput(
            kind: .tcp7946, fromName: "m1", toName: "w1", expectedSource: ip("10.0.0.1"),
            senderAgent: .up, receiverAgent: .up, sender: sent(.answered), receiver: nil)
        #expect(decide(noReceiver).unexpectedSources.isEmpty)
    }

    @Test("an IPv6 sender seen on its own address is not unexpected")
    func ipv6Sources() {
        let input = VerdictInput(
            kind: .udp4789, fromName: "m1", toName: "w1", expectedSource: ip("2001:db8::1"),
            senderAgent: .up, receiverAgent: .up, sender: sent(.timeout),
            receiver: got(.listening, received: 1, answered: 1, from: [ip("2001:DB8:0::1"), ip("fe80::1")]))
        #expect(decide(input).unexpectedSources == [ip("fe80::1")])
    }

    @Test("verdicts order from best to worst as declared")
    func order() {
        #expect(Verdict.allCases.sorted() == [.open, .blocked, .closed, .agentDown, .inconclusive])
        #expect(Verdict.agentDown.rawValue == "agent-down")
        #expect(Where.hostFirewall.rawValue == "host-firewall")
        #expect(Where.returnPath.rawValue == "return-path")
    }
}

extension VerdictCase: CustomTestStringConvertible {
    public var testDescription: String { name }
}
