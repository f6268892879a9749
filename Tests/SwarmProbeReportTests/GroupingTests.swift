import Foundation
import SwarmProbeBench
import SwarmProbeCore
import Testing

@testable import SwarmProbeCoordinator
@testable import SwarmProbeReport

@Suite("Node groups")
struct NodeGroupTests {
    func node(_ name: String, _ address: String, _ role: Role = .worker, group: String? = nil) -> NodeResult {
        NodeResult(node: Node(name: name, address: IPAddress(address)!, role: role, group: group), agent: .up)
    }

    @Test func inventoryGroupsWin() {
        let g = NodeGroups(nodes: [
            node("a", "10.0.1.1", group: "az-a"), node("b", "10.0.2.1", group: "az-b"),
            node("c", "10.0.1.2", group: "az-a"), node("d", "10.0.3.1"),
        ])
        #expect(g.basis == .group)
        #expect(g.names == ["az-a", "az-b", "ungrouped"])
        #expect(g.members == [[0, 2], [1], [3]])
        #expect(g.label(1) == "group az-b")
    }

    @Test func elseSubnets() {
        let g = NodeGroups(nodes: [node("a", "10.0.1.1"), node("b", "10.0.2.1"), node("c", "10.0.1.200"), node("d", "2001:db8:0:7::5")])
        #expect(g.basis == .subnet)
        #expect(g.names == ["10.0.1.0/24", "10.0.2.0/24", "2001:db8:0:7::/64"])
        #expect(g.groupOf == [0, 1, 0, 2])
    }

    @Test func elseRoles() {
        let g = NodeGroups(nodes: [node("m", "10.0.1.1", .manager), node("w1", "10.0.1.2"), node("w2", "10.0.1.3")])
        #expect(g.basis == .role)
        #expect(g.names == ["manager", "worker"])
        #expect(g.label(0) == "role manager")
    }
}

@Suite("Grouped findings")
struct GroupedFindingTests {
    /// Required blocked checks of one kind from two groups to a third: one cause, one pair per group pair,
    /// the first check as the sample; open checks only counted.
    @Test func groupsByCauseAndNodeGroup() {
        let r = Fixtures.grouped()
        let g = CheckGroups(r)
        #expect(g.counter.checks == 6240)
        let network = g.causes.filter { $0.verdict == .blocked && $0.location == .network }
        #expect(network.count == 1)
        #expect(network[0].kind == KindID(proto: .udp, port: 4789))
        #expect(network[0].checks == 100)
        #expect(network[0].pairs.count == 1)
        let pair = network[0].pairs[0]
        #expect(g.groupName(pair.fromGroup) == "az-a" && g.groupName(pair.toGroup) == "az-b")
        #expect(pair.senderCount == 10 && pair.targetCount == 10 && pair.checks == 100)
        #expect(pair.sample.from == "n-0001" && pair.sample.to == "n-0011")

        let firewall = g.causes.first { $0.location == .hostFirewall }
        #expect(firewall?.pairs.map { g.groupName($0.fromGroup) } == ["az-a", "az-b", "az-c", "az-d"])
        #expect(firewall?.pairs.allSatisfy { g.groupName($0.toGroup) == "az-c" && $0.targetCount == 3 } == true)
        // Causes in the order of the node-by-node report: network, host firewall, return path.
        #expect(g.causes.map { $0.location?.rawValue ?? $0.verdict.rawValue } == ["network", "host-firewall", "return-path", "return-path"])
        #expect(g.agents.map { r.nodes[$0.node].name } == ["n-0030", "n-0040"])
        #expect(g.agents.allSatisfy { $0.checks == 234 })
        #expect(g.information.allSatisfy { !$0.required })
        // n-0012's VXLAN arrives from a second address: open, and a finding of its own.
        #expect(g.sources.map { r.nodes[$0.sender].name } == ["n-0012"])
        #expect(g.sources.first?.addresses == [IPAddress("10.99.0.1")!])
        #expect(g.sources.first?.targetCount == 37)
    }

    @Test func theGroupedReportNamesEachCause() {
        let r = Fixtures.grouped()
        let text = TerminalReport.render(r, color: false)
        #expect(text.contains("4789/udp blocked in the network: group az-a -> group az-b, 10 x 10 paths (100 checks); sample:"))
        #expect(!text.contains("n-0040  -"))  // no node-by-node matrix
        let md = MarkdownReport.render(r)
        #expect(md.contains("## Matrices (node group x node group)"))
        #expect(md.contains(" NET 100 "))
    }

    @Test func cellsCountWhatIsNotOpen() {
        var counts = Array(repeating: 0, count: 16)
        #expect(GroupedReport.cellText(counts[...]) == ".")
        counts[0 * 2 + 1] = 5
        #expect(GroupedReport.cellText(counts[...]) == "ok")
        counts[1 * 2 + 1] = 3  // NET, required
        counts[5 * 2] = 2  // cl, not required
        #expect(GroupedReport.cellText(counts[...]) == "NET 3 (cl 2)")
        counts += [0, 0]
        counts[8 * 2 + 1] = 4  // OUT (the sender's own firewall), required
        #expect(GroupedReport.cellText(counts[...]) == "NET 3 OUT 4 (cl 2)")
    }
}
