import Foundation
import SwarmProbeCore
import SwarmProbeLab
import Testing

/// A node whose own firewall drops what it sends (an nftables output rule, as a hardened image's OUTPUT
/// policy of DROP or ufw's `default deny outgoing`): blocked at the sender (`sender-firewall`), never "in the
/// network", and the finding and its fix are the sender's.
@Suite("the sender's own firewall", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct SenderFirewallTests {
    let tcp7946 = KindID(proto: .tcp, port: 7946)
    let udp7946 = KindID(proto: .udp, port: 7946)
    let vxlan = KindID(proto: .udp, port: 4789)

    func scenario(_ name: String) -> LabScenario {
        LabScenario(
            name: name, nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [
                .senderFirewall(node: "w1", to: "m1", kind: tcp7946),
                .senderFirewall(node: "w1", to: "m1", kind: udp7946),
                .senderFirewall(node: "w1", to: "m1", kind: vxlan),
                // The target's own firewall beside it, on the same kind: a finding of its own.
                .hostFirewall(node: "w2", from: "m1", kind: udp7946, reject: false),
            ])
    }

    @Test("w1's output rule drops its probes to m1: blocked at w1 (sender-firewall), m1 -> w1 and the rest untouched")
    func outputDrop() throws {
        let scenario = scenario("egress")
        try withLab(scenario) { lab, token in
            let r = try runCheck(lab, token: token, timeout: "800ms")
            #expect(r.status == 1, "\(r.stderr)")
            expectMatches(r.results, scenario, capture: true)
            let held = r.results.checks.filter { $0.from == "w1" && $0.to == "m1" && [tcp7946, udp7946, vxlan].contains($0.kindID) }
            #expect(held.count == 3)
            for c in held {
                #expect(c.verdict == .blocked && c.location == .senderFirewall && c.reason == .droppedBySenderFirewall, "\(c.kindID): \(c.detail)")
                #expect(c.detail.contains("output rule on w1"), "\(c.kindID): \(c.detail)")
                // TCP: the kernel drops the SYN silently, only w1's interface tap can tell; UDP: it refuses the send (EPERM).
                #expect(c.sender?.egressBlocked == (c.kindID.proto == .tcp ? .notSeenLeaving : .sendRefused), "\(c.detail)")
            }
            // The reverse direction and every other path: as expected (open, but m1 -> w2 on 7946/udp).
            for c in r.results.checks where c.from == "m1" && c.to == "w1" {
                #expect(c.verdict == .open, "\(c.kindID): \(c.detail)")
            }
            let target = try #require(r.results.checks.first { $0.from == "m1" && $0.to == "w2" && $0.kindID == udp7946 })
            #expect(target.location == .hostFirewall && target.reason == .droppedByTargetFirewall, "\(target.detail)")
            #expect(r.results.checks.count { $0.verdict != .open } == 4)
            #expect(r.results.checks.filter { $0.location == .senderFirewall }.allSatisfy { $0.from == "w1" })

            // The report: w1's finding, its output-rule fix, apart from w2's own (input) firewall.
            let md = r.markdown
            let w1 = lab.node("w1").address, m1 = lab.node("m1").address
            #expect(md.contains("Blocked by the sender's own firewall: 7946/udp"), "\(md)")
            #expect(md.contains("**From w1 (\(w1)), to m1.**"), "\(md)")
            #expect(md.contains("On w1 (\(w1)) (not on m1), accept outgoing UDP 7946"), "\(md)")
            #expect(md.contains("`nft insert rule inet filter output ip daddr \(m1) udp dport 7946 accept`"), "\(md)")
            #expect(md.contains("`iptables -I OUTPUT -d \(m1) -p tcp --dport 7946 -j ACCEPT`"), "\(md)")
            #expect(md.contains("`ufw allow out to \(m1) port 4789 proto udp`"), "\(md)")
            #expect(md.contains("Blocked by the target's own firewall: 7946/udp"), "\(md)")
            #expect(md.contains("**To w2 (\(lab.node("w2").address)), from m1.**"), "\(md)")
            #expect(!md.contains("To m1 ("), "no finding sends the reader to m1: \(md)")
        }
    }

    @Test("without capture taps: UDP still blamed on w1 (the refused send), TCP claims nothing it cannot see")
    func withoutTaps() throws {
        let scenario = scenario("egress-nocap")
        try withLab(scenario, agentArguments: ["--no-capture"]) { lab, token in
            let r = try runCheck(lab, token: token, timeout: "800ms")
            #expect(r.status == 1, "\(r.stderr)")
            expectMatches(r.results, scenario, capture: false)
            for c in r.results.checks where c.from == "w1" && c.to == "m1" && c.kindID.proto == .udp {
                #expect(
                    c.reason == .droppedBySenderFirewall && c.sender?.egressBlocked == .sendRefused,
                    "\(c.kindID): \(c.detail) \(String(describing: c.sender))")
            }
            let tcp = try #require(r.results.checks.first { $0.from == "w1" && $0.to == "m1" && $0.kindID == tcp7946 })
            #expect(tcp.sender?.egressBlocked == nil && tcp.location == .unknown, "\(tcp.detail)")
        }
    }
}
