import Foundation
import SwarmProbeCore
import Testing

@testable import SwarmProbeAWS

/// `Fixtures/mesh`: m1 and w1 in subnet-a (the VPC's default ACL), w2 in subnet-b (acl-b: the swarm ports from the
/// VPC, TCP answers only on 32768-65535, and rule 90 denying VXLAN from w1 before rule 130 allows it), and one
/// security group whose VXLAN rule is TCP (plus a UDP rule for subnet-b only); gossip UDP comes through a prefix
/// list. w1's inventory address is its interface's secondary address; `gone` is a terminated instance.
@Suite struct MeshTests {
    static let audit: AWSAuditResult = {
        let dir = fixture("mesh")
        let inv = try! Inventory.parse(try! readInputFile(dir + "/inventory.yaml", what: "inventory"), source: "inventory.yaml")
        let snap = try! AWSSnapshot.load(directory: dir)
        return AWSAudit.evaluate(inventory: inv, profile: DefaultProfile.load(), snapshot: snap, style: AWSCommandStyle(region: "us-east-1"))
    }()

    static let sgFix =
        "aws ec2 authorize-security-group-ingress --group-id sg-swarm --ip-permissions 'IpProtocol=udp,FromPort=4789,ToPort=4789,UserIdGroupPairs=[{GroupId=sg-swarm}]' --region us-east-1"
    static let aclDenyFix =
        "aws ec2 create-network-acl-entry --network-acl-id acl-b --ingress --rule-number 89 --protocol udp --port-range From=4789,To=4789 --cidr-block 10.0.1.99/32 --rule-action allow --region us-east-1"
    static let returnFixM1 =
        "aws ec2 create-network-acl-entry --network-acl-id acl-b --ingress --rule-number 150 --protocol tcp --port-range From=1024,To=32767 --cidr-block 10.0.1.11/32 --rule-action allow --region us-east-1"
    static let returnFixW1 =
        "aws ec2 create-network-acl-entry --network-acl-id acl-b --ingress --rule-number 160 --protocol tcp --port-range From=1024,To=32767 --cidr-block 10.0.1.99/32 --rule-action allow --region us-east-1"

    func path(_ from: String, _ to: String, _ kind: String) -> AWSPathDecision {
        Self.audit.path(from: from, to: to, kind: KindID(kind)!)!
    }

    @Test func nodesMapToInstancesByPrivateAddress() {
        let a = Self.audit
        #expect(
            a.node("m1")
                == AWSNodeMatch(
                    node: "m1", address: IPAddress("10.0.1.11")!, instanceId: "i-m1", networkInterfaceId: "eni-m1",
                    subnetId: "subnet-a", vpcId: "vpc-1", securityGroups: ["sg-swarm", "sg-mgr"], networkAclId: "acl-default"))
        #expect(a.node("w1")?.instanceId == "i-w1")  // a secondary address of the interface
        #expect(a.node("w2")?.networkAclId == "acl-b")
        #expect(a.unmatchedNodes.map(\.node) == ["gone"])  // the instance that had 10.0.2.23 is terminated
        #expect(path("gone", "m1", "2377/tcp").verdict == .inconclusive)
        #expect(
            path("m1", "gone", "4789/udp").detail == "gone (10.0.2.23) matches no EC2 instance's private address; nothing is claimed about this path")
    }

    @Test func everyCheck() {
        var blocked: [String] = []
        for p in Self.audit.paths {
            if p.from == "gone" || p.to == "gone" {
                #expect(p.verdict == .inconclusive && p.layers.isEmpty && p.remediation.isEmpty)
                continue
            }
            if p.verdict != .open { blocked.append("\(p.from)->\(p.to) \(p.kindID) \(p.location!.rawValue)") }
        }
        #expect(
            blocked == [
                "w2->m1 2377/tcp return-path", "w2->w1 2377/tcp return-path",
                "w2->m1 7946/tcp return-path", "w2->w1 7946/tcp return-path",
                "m1->w1 4789/udp network", "m1->w2 4789/udp network", "w1->m1 4789/udp network", "w1->w2 4789/udp network",
            ])
    }

    @Test func vxlanAsTCPNamesTheRuleAndTheIssue() {
        let p = path("w1", "m1", "4789/udp")
        #expect(
            p.detail
                == "no inbound rule of sg-swarm (swarm), sg-mgr (managers) allows UDP 4789 from 10.0.1.99 (w1); sg-swarm allows TCP 4789 from sg-swarm; sg-swarm allows UDP 4789 from 10.0.2.0/24 only (VXLAN is UDP: a TCP rule for 4789 does not cover it (moby#25836))"
        )
        #expect(p.layers.map(\.layer) == [.sourceSecurityGroup, .sourceNACL, .targetNACL, .targetSecurityGroup])
        #expect(p.layers[1].outcome == .notApplicable)  // same subnet
        #expect(p.remediation == [Self.sgFix])
        // From subnet-b the UDP rule for 10.0.2.0/24 opens it.
        #expect(path("w2", "m1", "4789/udp").verdict == .open)
    }

    @Test func denyBeforeAllowAndTheGroupTogether() {
        let p = path("w1", "w2", "4789/udp")
        #expect(p.blockers.map(\.layer) == [.targetNACL, .targetSecurityGroup])
        #expect(p.blockers[0].detail == "acl-b (subnet-b of w2) inbound rule 90 denies UDP 4789 from 10.0.1.99 (w1)")
        #expect(p.blockers[0].rule == "90")
        #expect(p.remediation == [Self.sgFix, Self.aclDenyFix])
        // m1 is not denied by rule 90: rule 130 allows it; only the group blocks.
        #expect(path("m1", "w2", "4789/udp").blockers.map(\.layer) == [.targetSecurityGroup])
    }

    @Test func tcpAnswersOnEphemeralPorts() {
        let p = path("w2", "m1", "2377/tcp")
        #expect(p.verdict == .blocked && p.location == .returnPath)
        let back = p.blockers.first!
        #expect(back.layer == .returnSourceNACL && back.resource == "acl-b" && back.rule == "*")
        #expect(back.deniedPorts == [PortSpan(1024, 2376), PortSpan(2378, 7945), PortSpan(7947, 32767)])
        #expect(
            p.detail
                == "m1 gets 2377/tcp from w2, but its answers are dropped: acl-b (subnet-b of w2) inbound from 10.0.1.11 (m1) denies TCP ports 1024-2376, 2378-7945, 7947-32767 by rule * of 1024-65535, the answers to w2's ephemeral ports (allowed: 2377 by rule 100, 7946 by rule 110, 32768-65535 by rule 140)"
        )
        #expect(p.remediation == [Self.returnFixM1])
        #expect(path("w2", "w1", "7946/tcp").remediation == [Self.returnFixW1])
        // Not required (worker to worker on 2377): reported, never opened.
        let info = path("w2", "w1", "2377/tcp")
        #expect(!info.required && info.verdict == .blocked && info.remediation.isEmpty)
        // The other way the answers leave subnet-b by egress rule 100 and enter subnet-a freely.
        #expect(path("m1", "w2", "7946/tcp").verdict == .open)
    }

    @Test func udpNeedsNoAnswerButTheProbeEchoIsNoted() {
        let gossip = path("m1", "w2", "7946/udp")
        #expect(gossip.verdict == .open)
        #expect(
            gossip.detail
                == "allowed: sg-swarm outbound all traffic to 0.0.0.0/0; acl-default outbound rule 100; acl-b inbound rule 120; sg-swarm inbound UDP 7946 from pl-nodes; no answer is needed (swarm's traffic back is the check w2 -> m1)"
        )
        let vxlan = path("w2", "m1", "4789/udp")
        #expect(vxlan.verdict == .open)
        #expect(
            vxlan.detail.contains(
                "; note: a swarmprobe probe's echo would be dropped (acl-b (subnet-b of w2) inbound from 10.0.1.11 (m1) denies UDP ports 1024-4788, 4790-7945, 7947-65535 by rule * of 1024-65535, the echo of a swarmprobe probe (not swarm traffic) (allowed: 4789 by rule 130, 7946 by rule 120)), so `swarmprobe check` reports return-path here although swarm's own traffic passes"
            ))
        #expect(vxlan.layers.filter { !$0.decisive }.map(\.layer) == [.returnTargetNACL, .returnSourceNACL])
    }

    @Test func remediationOnceEachInPathOrder() {
        #expect(Self.audit.remediation == [Self.returnFixM1, Self.returnFixW1, Self.sgFix, Self.aclDenyFix])
    }

    @Test func resultsHaveTheCheckSchema() throws {
        let r = Self.audit.results(startedAt: "2026-01-01T00:00:00Z", durationMs: 5)
        #expect(r.checks.count == 48)
        #expect(r.summary.exitCode == 1)
        #expect(r.summary.blocked == 8)
        #expect(r.checks.map(\.detail) == Self.audit.paths.map(\.detail))
        #expect(r.checks.allSatisfy { $0.sender == nil && $0.receiver == nil })
        #expect(r.nodes.first?.agent == AgentHealth(.notContacted, "aws audit: i-m1 in subnet-a, sg-swarm, sg-mgr"))
        // The JSON: a results document that still decodes as one, with the audit under `aws`.
        let text = AWSAuditReport.json(
            results: String(decoding: try JSONDocument.encoder(pretty: true).encode(r), as: UTF8.self) + "\n", audit: Self.audit)
        let decoded = try JSONDecoder().decode(Results.self, from: Data(text.utf8))
        #expect(decoded == r)
        let top = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let aws = top["aws"] as! [String: Any]
        #expect(aws["remediation"] as? [String] == Self.audit.remediation)
        let back = try JSONDecoder().decode(AWSAuditResult.self, from: JSONSerialization.data(withJSONObject: aws))
        #expect(back.paths == Self.audit.paths)
    }

    @Test func commandsForCIDRPeersAndEgress() {
        #expect(
            AWSAudit.sgCommand(group: "sg-1", egress: false, proto: .udp, port: 7946, peerGroup: nil, peerCIDR: CIDR("10.0.1.11/32"))
                == "aws ec2 authorize-security-group-ingress --group-id sg-1 --protocol udp --port 7946 --cidr 10.0.1.11/32")
        #expect(
            AWSAudit.sgCommand(group: "sg-1", egress: false, proto: .esp, port: nil, peerGroup: nil, peerCIDR: CIDR("10.0.1.11/32"))
                == "aws ec2 authorize-security-group-ingress --group-id sg-1 --ip-permissions 'IpProtocol=50,FromPort=-1,ToPort=-1,IpRanges=[{CidrIp=10.0.1.11/32}]'"
        )
        #expect(
            AWSAudit.sgCommand(group: "sg-1", egress: true, proto: .tcp, port: 2377, peerGroup: "sg-2", peerCIDR: nil)
                == "aws ec2 authorize-security-group-egress --group-id sg-1 --ip-permissions 'IpProtocol=tcp,FromPort=2377,ToPort=2377,UserIdGroupPairs=[{GroupId=sg-2}]'"
        )
        #expect(
            AWSAudit.aclCommand(acl: "acl-1", egress: true, proto: 50, ports: nil, cidr: CIDR("10.0.1.11/32")!, number: 120)
                == "aws ec2 create-network-acl-entry --network-acl-id acl-1 --egress --rule-number 120 --protocol 50 --cidr-block 10.0.1.11/32 --rule-action allow"
        )
        #expect(AWSCommandStyle(region: "eu-west-1", profile: "my prof").suffix == " --region eu-west-1 --profile 'my prof'")
    }

    /// Without a group shared by every node, the source is the sender's own address.
    @Test func noSharedGroupMeansTheNodeAddress() throws {
        var snap = try AWSSnapshot.load(directory: fixture("mesh"))
        for i in snap.instances.indices where snap.instances[i].instanceId == "i-w2" {
            snap.instances[i].networkInterfaces[0].groups = [EC2GroupIdentifier(groupId: "sg-other")]
        }
        snap.securityGroups.append(SecurityGroup(groupId: "sg-other", groupName: "other"))
        let inv = Inventory(nodes: [
            Node(name: "m1", address: IPAddress("10.0.1.11")!, role: .manager),
            Node(name: "w2", address: IPAddress("10.0.2.22")!, role: .worker),
        ])
        let a = AWSAudit.evaluate(inventory: inv, profile: DefaultProfile.load(), snapshot: snap)
        let p = a.path(from: "m1", to: "w2", kind: KindID(proto: .tcp, port: 7946))!
        #expect(p.blockers.map(\.layer) == [.targetSecurityGroup])
        #expect(p.remediation == ["aws ec2 authorize-security-group-ingress --group-id sg-other --protocol tcp --port 7946 --cidr 10.0.1.11/32"])
        // sg-other has no egress rule at all: w2 cannot send anything; the fix names m1's address.
        let out = a.path(from: "w2", to: "m1", kind: KindID(proto: .udp, port: 4789))!
        #expect(out.blockers.first?.layer == .sourceSecurityGroup)
        #expect(
            out.remediation.first
                == "aws ec2 authorize-security-group-egress --group-id sg-other --ip-permissions 'IpProtocol=udp,FromPort=4789,ToPort=4789,IpRanges=[{CidrIp=10.0.1.11/32}]'"
        )
    }
}

@Suite struct SnapshotInputTests {
    @Test func motoOutputDecodes() throws {
        let inst = try AWSSnapshot.decode(
            DescribeInstancesOutput.self, Data(contentsOf: URL(fileURLWithPath: fixture("moto-describe-instances.json"))), source: "x")
        let i = inst.reservations[0].instances[0]
        #expect(i.privateIpAddress == "10.0.1.11" && i.state == "running")
        #expect(i.networkInterfaces[0].groups.map(\.groupId) == ["sg-89920c358a924696e"])
        let acls = try AWSSnapshot.decode(
            DescribeNetworkAclsOutput.self, Data(contentsOf: URL(fileURLWithPath: fixture("moto-describe-network-acls.json"))), source: "x")
        #expect(acls.networkAcls.map(\.isDefault) == [true, false])
        #expect(acls.networkAcls[1].entries[0].portRange == NetworkAclEntry.PortRange(from: 4789, to: 4789))
        let sgs = try AWSSnapshot.decode(
            DescribeSecurityGroupsOutput.self, Data(contentsOf: URL(fileURLWithPath: fixture("moto-describe-security-groups.json"))), source: "x")
        #expect(sgs.securityGroups[1].ipPermissions.map(\.ipProtocol) == ["tcp", "50", "-1"])
    }

    @Test(arguments: [
        ("describe-instances.json", "field `Reservations[0].Instances[0].InstanceId` is missing"),
        ("describe-security-groups.json", "field `SecurityGroups[0].IpPermissions[0].FromPort` has the wrong type"),
        ("describe-network-acls.json", "The given data was not valid JSON."),
    ])
    func invalidFilesNameFileAndField(_ file: String, _ message: String) throws {
        let path = fixture("invalid/" + file)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let error = #expect(throws: InputError.self) {
            switch file {
            case "describe-instances.json": _ = try AWSSnapshot.decode(DescribeInstancesOutput.self, data, source: path)
            case "describe-security-groups.json": _ = try AWSSnapshot.decode(DescribeSecurityGroupsOutput.self, data, source: path)
            default: _ = try AWSSnapshot.decode(DescribeNetworkAclsOutput.self, data, source: path)
            }
        }
        #expect(error?.description == "\(path): \(message)")
    }

    @Test func fromDirNamesTheFirstBadFileAndTheMissingOnes() {
        let dir = fixture("invalid")
        let bad = #expect(throws: InputError.self) { try AWSSnapshot.load(directory: dir) }
        #expect(bad?.description == "\(dir)/describe-instances.json: field `Reservations[0].Instances[0].InstanceId` is missing")
        let missing = #expect(throws: InputError.self) { try AWSSnapshot.load(directory: "/nonexistent") }
        #expect(
            missing?.description
                == "/nonexistent/describe-instances.json: --from-dir: missing; save it with `aws ec2 describe-instances --output json > /nonexistent/describe-instances.json`"
        )
    }
}
