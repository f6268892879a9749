import Foundation
import SwarmProbeCore
import Testing

@testable import SwarmProbeAWS

func fixture(_ name: String) -> String {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

func ip(_ s: String) -> IPAddress { IPAddress(s)! }

@Suite struct CIDRTests {
    @Test(arguments: [
        ("10.0.0.0/16", "10.0.255.1", true),
        ("10.0.0.0/16", "10.1.0.1", false),
        ("10.0.1.11/32", "10.0.1.11", true),
        ("10.0.1.11/32", "10.0.1.12", false),
        ("0.0.0.0/0", "192.0.2.1", true),
        ("10.0.1.128/25", "10.0.1.127", false),
        ("10.0.1.128/25", "10.0.1.200", true),
        ("::/0", "10.0.0.1", false),
        ("0.0.0.0/0", "2001:db8::1", false),
        ("2001:db8::/32", "2001:db8:1::5", true),
        ("2001:db8::/33", "2001:db8:8000::1", false),
    ])
    func contains(_ cidr: String, _ address: String, _ expected: Bool) {
        #expect(CIDR(cidr)!.contains(ip(address)) == expected)
    }

    @Test func rejects() {
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/-1", "x/8", "::/129"] { #expect(CIDR(bad) == nil, "\(bad)") }
    }
}

@Suite struct SecurityGroupRuleTests {
    static let udp4789 = Traffic(kind: KindID(proto: .udp, port: 4789))
    static let tcp2377 = Traffic(kind: KindID(proto: .tcp, port: 2377))
    static let esp = Traffic(kind: KindID(proto: .esp, port: nil))

    @Test(arguments: [
        // protocol -1 matches everything, ports ignored
        (IpPermission(ipProtocol: "-1", ipRanges: ["10.0.0.0/8"]), udp4789, true),
        (IpPermission(ipProtocol: "-1", ipRanges: ["10.0.0.0/8"]), esp, true),
        // names and numbers are the same protocol
        (IpPermission(ipProtocol: "udp", fromPort: 4789, toPort: 4789, ipRanges: ["10.0.0.0/8"]), udp4789, true),
        (IpPermission(ipProtocol: "17", fromPort: 4789, toPort: 4789, ipRanges: ["10.0.0.0/8"]), udp4789, true),
        (IpPermission(ipProtocol: "tcp", fromPort: 4789, toPort: 4789, ipRanges: ["10.0.0.0/8"]), udp4789, false),
        (IpPermission(ipProtocol: "6", fromPort: 2377, toPort: 2377, ipRanges: ["10.0.0.0/8"]), tcp2377, true),
        // ports: a range, absent or -1 means all
        (IpPermission(ipProtocol: "udp", fromPort: 4000, toPort: 5000, ipRanges: ["10.0.0.0/8"]), udp4789, true),
        (IpPermission(ipProtocol: "udp", fromPort: 4790, toPort: 5000, ipRanges: ["10.0.0.0/8"]), udp4789, false),
        (IpPermission(ipProtocol: "udp", ipRanges: ["10.0.0.0/8"]), udp4789, true),
        (IpPermission(ipProtocol: "udp", fromPort: -1, toPort: -1, ipRanges: ["10.0.0.0/8"]), udp4789, true),
        // ESP is 50, and all-TCP/all-UDP do not cover it
        (IpPermission(ipProtocol: "50", fromPort: -1, toPort: -1, ipRanges: ["10.0.0.0/8"]), esp, true),
        (IpPermission(ipProtocol: "tcp", fromPort: 0, toPort: 65535, ipRanges: ["10.0.0.0/8"]), esp, false),
        // the source: CIDR, group reference, prefix list
        (IpPermission(ipProtocol: "udp", fromPort: 4789, toPort: 4789, ipRanges: ["10.0.2.0/24"]), udp4789, false),
        (IpPermission(ipProtocol: "udp", fromPort: 4789, toPort: 4789, groupPairs: ["sg-peer"]), udp4789, true),
        (IpPermission(ipProtocol: "udp", fromPort: 4789, toPort: 4789, groupPairs: ["sg-other"]), udp4789, false),
        (IpPermission(ipProtocol: "udp", fromPort: 4789, toPort: 4789, prefixListIds: ["pl-1"]), udp4789, true),
        (IpPermission(ipProtocol: "udp", fromPort: 4789, toPort: 4789, prefixListIds: ["pl-2"]), udp4789, false),
        (IpPermission(ipProtocol: "udp", fromPort: 4789, toPort: 4789, ipv6Ranges: ["::/0"]), udp4789, false),
    ])
    func inbound(_ rule: IpPermission, _ traffic: Traffic, _ allowed: Bool) {
        let snap = AWSSnapshot(
            securityGroups: [SecurityGroup(groupId: "sg-t", groupName: "t", ipPermissions: [rule])],
            prefixLists: ["pl-1": ["10.0.1.0/24"], "pl-2": ["10.9.0.0/16"]])
        let d = evaluateSecurityGroups(
            ["sg-t"], egress: false, traffic: traffic, peer: ip("10.0.1.11"), peerName: "a",
            peerGroups: ["sg-peer"], snapshot: snap, layer: .targetSecurityGroup)
        #expect(d.outcome == (allowed ? .allow : .deny), "\(d.detail)")
    }

    @Test func unknownPrefixListOrGroupIsUnknownNotDenied() {
        let rule = IpPermission(ipProtocol: "udp", fromPort: 4789, toPort: 4789, prefixListIds: ["pl-missing"])
        let snap = AWSSnapshot(securityGroups: [SecurityGroup(groupId: "sg-t", ipPermissions: [rule])])
        let d = evaluateSecurityGroups(
            ["sg-t"], egress: false, traffic: Self.udp4789, peer: ip("10.0.1.11"), peerName: "a",
            peerGroups: [], snapshot: snap, layer: .targetSecurityGroup)
        #expect(d.outcome == .unknown)
        #expect(
            d.detail
                == "cannot tell whether inbound UDP 4789 from 10.0.1.11 (a) is allowed: sg-t allows UDP 4789 from prefix list pl-missing, whose entries are unknown"
        )
        let missing = evaluateSecurityGroups(
            ["sg-gone"], egress: false, traffic: Self.udp4789, peer: ip("10.0.1.11"), peerName: "a",
            peerGroups: [], snapshot: snap, layer: .targetSecurityGroup)
        #expect(missing.outcome == .unknown)
        #expect(missing.detail.contains("security group sg-gone is not in the describe-security-groups data"))
    }

    @Test func denyNamesTheNearMiss() {
        let snap = AWSSnapshot(securityGroups: [
            SecurityGroup(
                groupId: "sg-x", groupName: "swarm",
                ipPermissions: [
                    IpPermission(ipProtocol: "tcp", fromPort: 4789, toPort: 4789, groupPairs: ["sg-x"])
                ])
        ])
        let d = evaluateSecurityGroups(
            ["sg-x"], egress: false, traffic: Self.udp4789, peer: ip("10.0.1.11"), peerName: "m1",
            peerGroups: ["sg-x"], snapshot: snap, layer: .targetSecurityGroup)
        #expect(d.outcome == .deny)
        #expect(d.resource == "sg-x")
        #expect(
            d.detail
                == "no inbound rule of sg-x (swarm) allows UDP 4789 from 10.0.1.11 (m1); sg-x allows TCP 4789 from sg-x (VXLAN is UDP: a TCP rule for 4789 does not cover it (moby#25836))"
        )
    }
}

@Suite struct NetworkACLTests {
    static func acl(_ entries: [NetworkAclEntry]) -> NetworkAcl {
        NetworkAcl(networkAclId: "acl-1", vpcId: "vpc-1", isDefault: false, subnetIds: ["subnet-1"], entries: entries)
    }
    static func entry(
        _ n: Int, _ proto: String, _ action: String, egress: Bool = false, _ cidr: String = "0.0.0.0/0", _ ports: (Int, Int)? = nil
    ) -> NetworkAclEntry {
        NetworkAclEntry(
            ruleNumber: n, proto: proto, ruleAction: action, egress: egress, cidrBlock: cidr,
            portRange: ports.map { NetworkAclEntry.PortRange(from: $0.0, to: $0.1) })
    }

    @Test func ruleNumberOrderFirstMatchWins() {
        // Listed allow first, but deny 90 comes first in rule-number order.
        let a = Self.acl([
            Self.entry(100, "17", "allow", "10.0.0.0/16", (4789, 4789)),
            Self.entry(90, "17", "deny", "10.0.1.0/24", (4789, 4789)),
        ])
        let t = Traffic(kind: KindID(proto: .udp, port: 4789))
        #expect(
            evaluateACL(a, egress: false, traffic: t, remote: ip("10.0.1.11")) == [ACLSpan(ports: PortSpan(4789, 4789), allow: false, ruleNumber: 90)]
        )
        #expect(
            evaluateACL(a, egress: false, traffic: t, remote: ip("10.0.2.11")) == [ACLSpan(ports: PortSpan(4789, 4789), allow: true, ruleNumber: 100)]
        )
        // Egress entries do not apply inbound; nothing matches: the final * deny.
        #expect(
            evaluateACL(a, egress: true, traffic: t, remote: ip("10.0.2.11")) == [ACLSpan(ports: PortSpan(4789, 4789), allow: false, ruleNumber: nil)]
        )
    }

    @Test func protocolAllAndNumbers() {
        let a = Self.acl([Self.entry(100, "-1", "allow")])
        #expect(evaluateACL(a, egress: false, traffic: Traffic(kind: KindID(proto: .esp, port: nil)), remote: ip("10.0.0.1")).allSatisfy { $0.allow })
        let tcpOnly = Self.acl([Self.entry(100, "6", "allow", "0.0.0.0/0", (0, 65535))])
        #expect(
            evaluateACL(tcpOnly, egress: false, traffic: Traffic(kind: KindID(proto: .udp, port: 4789)), remote: ip("10.0.0.1")).allSatisfy {
                !$0.allow
            })
        #expect(
            evaluateACL(tcpOnly, egress: false, traffic: Traffic(kind: KindID(proto: .esp, port: nil)), remote: ip("10.0.0.1")) == [
                ACLSpan(ports: nil, allow: false, ruleNumber: nil)
            ])
    }

    @Test func ephemeralRangeSplitsIntoSpans() {
        let a = Self.acl([
            Self.entry(100, "6", "allow", "10.0.0.0/16", (2377, 2377)),
            Self.entry(110, "6", "allow", "10.0.0.0/16", (32768, 65535)),
            Self.entry(105, "6", "deny", "10.0.0.0/16", (40000, 40010)),
        ])
        let spans = evaluateACL(a, egress: false, traffic: Traffic(proto: 6, ports: PortSpan(1024, 65535)), remote: ip("10.0.1.11"))
        #expect(
            spans == [
                ACLSpan(ports: PortSpan(1024, 2376), allow: false, ruleNumber: nil),
                ACLSpan(ports: PortSpan(2377, 2377), allow: true, ruleNumber: 100),
                ACLSpan(ports: PortSpan(2378, 32767), allow: false, ruleNumber: nil),
                ACLSpan(ports: PortSpan(32768, 39999), allow: true, ruleNumber: 110),
                ACLSpan(ports: PortSpan(40000, 40010), allow: false, ruleNumber: 105),
                ACLSpan(ports: PortSpan(40011, 65535), allow: true, ruleNumber: 110),
            ])
        let d = aclDecision(
            a, subnetText: "subnet-1 of m1", egress: false, traffic: Traffic(proto: 6, ports: PortSpan(1024, 65535)),
            remote: ip("10.0.2.22"), remoteName: "w2", layer: .returnSourceNACL)
        #expect(d.outcome == .deny)
        #expect(d.deniedPorts == [PortSpan(1024, 2376), PortSpan(2378, 32767), PortSpan(40000, 40010)])
        #expect(
            d.detail
                == "acl-1 (subnet-1 of m1) inbound from 10.0.2.22 (w2) denies TCP ports 1024-2376, 2378-32767 by rule *; 40000-40010 by rule 105 of 1024-65535 (allowed: 2377 by rule 100, 32768-39999 by rule 110, 40011-65535 by rule 110)"
        )
    }

    @Test func rule32767IsTheStar() {
        let a = Self.acl([Self.entry(32767, "-1", "deny")])
        let d = aclDecision(
            a, subnetText: "subnet-1 of w2", egress: false, traffic: Traffic(kind: KindID(proto: .udp, port: 7946)),
            remote: ip("10.0.1.11"), remoteName: "m1", layer: .targetNACL)
        #expect(d.rule == "*")
        #expect(d.detail == "acl-1 (subnet-1 of w2) has no inbound rule allowing UDP 7946 from 10.0.1.11 (m1): the final rule * denies it")
    }

    @Test func freeRuleNumbers() {
        #expect(AWSAudit.freeRuleNumber([90, 100, 32767], below: 100) == 99)
        #expect(AWSAudit.freeRuleNumber([98, 99, 100], below: 100) == 97)
        #expect(AWSAudit.freeRuleNumber([100, 110, 32767], below: nil) == 120)
        #expect(AWSAudit.freeRuleNumber([], below: nil) == 100)
        #expect(AWSAudit.freeRuleNumber([1], below: 2) == nil)
    }
}
