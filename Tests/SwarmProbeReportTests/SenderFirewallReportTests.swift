import Foundation
import SwarmProbeCore
import Testing

@testable import SwarmProbeReport

@Suite("The sender's own firewall, in the reports")
struct SenderFirewallReportTests {
    /// w1's output rules keep its 7946/udp probes to m1 and w2 in (one refused, one never seen leaving); w2's
    /// own input firewall drops m1's 7946/udp.
    static func run() -> Results {
        var b = RunBuilder([("m1", "198.18.1.11", .manager), ("w1", "198.18.1.13", .worker), ("w2", "198.18.1.14", .worker)])
        let k = Kinds.gossipUDP
        for n in b.nodes { b.listeners[n.name] = [ListenerState(kind: k.kindID, mode: .listening)] }
        for a in b.nodes {
            for t in b.nodes where t.name != a.name {
                switch (a.name, t.name) {
                case ("w1", "m1"):
                    b.add(
                        a.name, t.name, k,
                        SenderEvidence(outcome: .sendFailed, attempts: 1, detail: "Operation not permitted", egressBlocked: .sendRefused),
                        b.seen(t.name, k))
                case ("w1", "w2"):
                    b.add(
                        a.name, t.name, k, SenderEvidence(outcome: .timeout, attempts: 3, egressBlocked: .notSeenLeaving),
                        b.seen(t.name, k, capture: CaptureEvidence(seenAtInterface: false, seenPastFirewall: false)))
                case ("m1", "w2"):
                    b.add(a.name, t.name, k, timedOut(), b.seen(t.name, k, capture: CaptureEvidence(seenAtInterface: true, seenPastFirewall: false)))
                default:
                    b.add(a.name, t.name, k, answered(300), b.seen(t.name, k, received: 1, answered: 1, from: a.name))
                }
            }
        }
        return b.results(startedAt: "2026-12-08T01:00:00Z", durationMs: 900, timeoutMs: 500)
    }

    @Test("one finding for w1 with its output-rule fix, apart from w2's input-firewall finding")
    func markdown() throws {
        let r = Self.run()
        let held = r.checks.filter { $0.from == "w1" && $0.to != "w1" && $0.verdict != .open }
        #expect(held.count == 2 && held.allSatisfy { $0.location == .senderFirewall && $0.reason == .droppedBySenderFirewall })
        let md = MarkdownReport.render(r)
        let section = try #require(md.components(separatedBy: "Blocked by the sender's own firewall: 7946/udp").dropFirst().first)
        let finding = try #require(section.components(separatedBy: "\n### ").first)
        #expect(finding.contains("**From w1 (198.18.1.13), to m1, w2.**"), "\(finding)")
        #expect(finding.contains("On w1 (198.18.1.13) (not on m1, w2), accept outgoing UDP 7946"), "\(finding)")
        #expect(finding.contains("`nft insert rule inet filter output ip daddr { 198.18.1.11, 198.18.1.14 } udp dport 7946 accept`"), "\(finding)")
        #expect(finding.contains("`iptables -I OUTPUT -d 198.18.1.11,198.18.1.14 -p udp --dport 7946 -j ACCEPT`"), "\(finding)")
        #expect(finding.contains("`ufw allow out 7946/udp`"), "\(finding)")
        #expect(finding.contains("Decided by: w1's kernel refused to send the probe (Operation not permitted)"), "\(finding)")
        #expect(!finding.contains("inet filter input"), "no target-firewall fix: \(finding)")
        // w2's own (input) firewall: a finding of its own, fixed on w2.
        let target = try #require(md.components(separatedBy: "Blocked by the target's own firewall: 7946/udp").dropFirst().first)
        #expect(target.contains("**To w2 (198.18.1.14), from m1.**"), "\(target)")
        #expect(!target.prefix(while: { $0 != "#" }).contains("w1"), "\(target)")
    }

    @Test("terminal, matrix symbol and the grouped report say the sender's firewall too")
    func otherRenderers() {
        let r = Self.run()
        let text = TerminalReport.render(r, color: false).replacingOccurrences(of: "\n      ", with: " ")
        #expect(text.contains("Blocked by the sender's own firewall: 7946/udp"), "\(text)")
        #expect(text.contains("From w1 (198.18.1.13), to m1, w2"), "\(text)")
        #expect(MarkdownReport.render(r).contains("OUT"))
        let g = CheckGroups(r)
        let grouped = MarkdownReport.render(head: r, groups: g)
        #expect(grouped.contains("7946/udp blocked by the sender's own firewall"), "\(grouped)")
        #expect(grouped.contains("`nft insert rule inet filter output udp dport 7946 accept`"), "\(grouped)")
    }

    @Test("the JSON says where: sender-firewall, with the evidence, and reads back")
    func json() throws {
        let r = Self.run()
        let c = try #require(r.checks.first { $0.from == "w1" && $0.to == "w2" })
        let data = try JSONEncoder().encode(c)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""where":"sender-firewall""#) && text.contains(#""reason":"dropped-by-sender-firewall""#), "\(text)")
        #expect(text.contains(#""egress_blocked":"not-seen-leaving""#), "\(text)")
        #expect(try JSONDecoder().decode(CheckResult.self, from: data) == c)
    }
}
