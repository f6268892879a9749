import Foundation
import SwarmProbeCore
import Testing

@testable import SwarmProbeAWS

/// `Fixtures/published`: m1 and w1 in subnet-a (the default ACL, everything allowed), w2 in subnet-b (acl-b: rule 90
/// denies TCP 8080 from 10.0.4.0/24 before rule 100 allows the VPC; outbound only to subnet-a, so no answer reaches
/// the load balancer's subnets). sg-swarm, on every node, opens 8080 only from sg-admin; sg-web, on w1 alone,
/// opens 8080 from sg-lb. The load balancer's group sg-lb has interfaces in subnet-lb1 (10.0.3.0/24) and
/// subnet-lb2 (10.0.4.0/24); sg-admin has none (its VPC's CIDR, 10.0.0.0/16, is assumed).
@Suite struct PublishedTests {
    static let inventory = try! Inventory.parse(
        try! readInputFile(fixture("published") + "/inventory.yaml", what: "inventory"), source: "inventory.yaml")
    static let snapshot = try! AWSSnapshot.load(directory: fixture("published"))
    static let port8080 = KindID("8080/tcp")!, port9090 = KindID("9090/tcp")!
    static let style = AWSCommandStyle(region: "us-east-1")

    static func audit(_ ports: [KindID], _ clients: [String]) -> AWSAuditResult {
        AWSAudit.evaluate(
            inventory: inventory, profile: DefaultProfile.load(), snapshot: snapshot, published: ports,
            clients: clients.map { AWSClients($0)! }, style: style)
    }
    static let lbAudit = audit([port8080, port9090], ["sg-lb"])

    static let sgFixLB =
        "aws ec2 authorize-security-group-ingress --group-id sg-swarm --ip-permissions 'IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{GroupId=sg-lb}]' --region us-east-1"
    static let lbSubnet1 = "10.0.3.0/24 (assumed for sg-lb: a subnet of its network interfaces)"
    static let lbSubnet2 = "10.0.4.0/24 (assumed for sg-lb: a subnet of its network interfaces)"
    static let otherGroup = "sg-swarm (swarm) allows TCP 8080 only from sg-admin (admin): the client group sg-lb (lb) is not one of them"

    func lb(_ node: String, _ port: KindID = PublishedTests.port8080) -> AWSPathDecision { Self.lbAudit.published(port, on: node, from: "sg-lb")! }

    @Test func theGroupsCIDRsAreItsInterfacesSubnets() {
        #expect(
            Self.lbAudit.clients == [
                AWSClientAddresses(
                    clients: "sg-lb", group: "sg-lb (lb)", cidrs: [CIDR("10.0.3.0/24")!, CIDR("10.0.4.0/24")!], source: .networkInterfaces,
                    detail: "10.0.3.0/24, 10.0.4.0/24, the subnets of sg-lb's network interfaces (subnet-lb1, subnet-lb2)")
            ])
        // Port, then client, then node; the paths between nodes are all open and stay as they were.
        #expect(
            Self.lbAudit.published.map { "\($0.kindID) \($0.to)" } == [
                "8080/tcp m1", "8080/tcp w1", "8080/tcp w2", "9090/tcp m1", "9090/tcp w1", "9090/tcp w2",
            ])
        #expect(Self.lbAudit.paths.allSatisfy { $0.verdict == .open && $0.causes == nil })
    }

    @Test func allowedOnlyFromAnotherGroup() {
        let p = lb("m1")
        #expect(p.verdict == .blocked && p.location == .network && !p.admitted)
        #expect(p.causes == [.allowedFromOtherSource])
        #expect(p.detail == "m1 does not admit 8080/tcp from sg-lb: \(Self.otherGroup)")
        #expect(p.blockers.map(\.layer) == [.targetSecurityGroup])
        #expect(p.remediation == [Self.sgFixLB])
    }

    @Test func admittedThroughAnotherOfTheNodesGroups() {
        let p = lb("w1")
        #expect(p.admitted && p.causes == [] && p.remediation.isEmpty)
        #expect(
            p.detail
                == "w1 admits 8080/tcp from sg-lb: sg-lb outbound all traffic to 0.0.0.0/0; acl-default inbound rule 100; sg-web inbound TCP 8080 from sg-lb; answers: acl-default outbound rule 100"
        )
    }

    @Test func portMissingEverywhereNamesTheNearMiss() {
        #expect(
            lb("m1", Self.port9090).detail
                == "m1 does not admit 9090/tcp from sg-lb: TCP 9090 is not open at all in m1's security groups sg-swarm (swarm): no inbound rule allows it from any source, so the client group sg-lb (lb) cannot reach the published port"
        )
        let w1 = lb("w1", Self.port9090)
        #expect(w1.causes == [.portNotInSecurityGroups])
        #expect(w1.detail.hasSuffix("cannot reach the published port (sg-web lets them in on TCP 8080 only)"))
        #expect(
            w1.remediation == [
                "aws ec2 authorize-security-group-ingress --group-id sg-swarm --ip-permissions 'IpProtocol=tcp,FromPort=9090,ToPort=9090,UserIdGroupPairs=[{GroupId=sg-lb}]' --region us-east-1"
            ])
    }

    static let w2Remediation = [
        sgFixLB,
        "aws ec2 create-network-acl-entry --network-acl-id acl-b --ingress --rule-number 89 --protocol tcp --port-range From=8080,To=8080 --cidr-block 10.0.4.0/24 --rule-action allow --region us-east-1",
        "aws ec2 create-network-acl-entry --network-acl-id acl-b --egress --rule-number 110 --protocol tcp --port-range From=1024,To=65535 --cidr-block 10.0.3.0/24 --rule-action allow --region us-east-1",
        "aws ec2 create-network-acl-entry --network-acl-id acl-b --egress --rule-number 120 --protocol tcp --port-range From=1024,To=65535 --cidr-block 10.0.4.0/24 --rule-action allow --region us-east-1",
    ]

    @Test func naclDenyAndNoReturnPath() {
        let p = lb("w2")
        #expect(p.verdict == .blocked && p.location == .network)
        #expect(p.causes == [.naclInboundDenied, .allowedFromOtherSource, .naclReturnDenied])
        #expect(
            p.detail
                == "w2 does not admit 8080/tcp from sg-lb: acl-b (subnet-b of w2) inbound rule 90 denies TCP 8080 from \(Self.lbSubnet2); \(Self.otherGroup); "
                + "and on the way back: acl-b (subnet-b of w2) has no outbound rule allowing TCP 1024-65535 to \(Self.lbSubnet1), the answers to the clients' ephemeral ports: the final rule * denies it; "
                + "acl-b (subnet-b of w2) has no outbound rule allowing TCP 1024-65535 to \(Self.lbSubnet2), the answers to the clients' ephemeral ports: the final rule * denies it"
        )
        // The ingress entry goes below the deny that matches; the egress ones take free numbers.
        #expect(p.remediation == Self.w2Remediation)
        // Inbound from subnet-lb1 passes: rule 90 is for subnet-lb2 only.
        #expect(p.layers.filter { $0.layer == .targetNACL }.map(\.outcome) == [.allow, .deny])
        // 9090 has no deny rule: what is left is the security group and the return path; numbers are not reused.
        let p9090 = lb("w2", Self.port9090)
        #expect(p9090.causes == [.portNotInSecurityGroups, .naclReturnDenied])
        #expect(p9090.remediation.count == 3 && p9090.remediation[1] == Self.w2Remediation[2])
        #expect(Self.lbAudit.remediation.count == 5)
    }

    @Test func onlyTheReturnPathMissingIsReturnPath() {
        var snap = Self.snapshot
        for i in snap.securityGroups.indices where snap.securityGroups[i].groupId == "sg-swarm" {
            snap.securityGroups[i].ipPermissions.append(IpPermission(ipProtocol: "tcp", fromPort: 8080, toPort: 8080, ipRanges: ["10.0.0.0/16"]))
        }
        let w2 = Self.inventory.nodes[2]
        let p = AWSAudit.publishedPort(Self.port8080, on: w2, from: .cidr(CIDR("10.0.3.0/24")!), snapshot: snap)
        #expect(p.verdict == .blocked && p.location == .returnPath)
        #expect(p.causes == [.naclReturnDenied])
        #expect(
            p.detail
                == "w2 gets 8080/tcp from 10.0.3.0/24, but its answers are dropped (network ACLs are stateless): acl-b (subnet-b of w2) has no outbound rule allowing TCP 1024-65535 to 10.0.3.0/24 (the clients), the answers to the clients' ephemeral ports: the final rule * denies it"
        )
        #expect(
            p.remediation == [
                "aws ec2 create-network-acl-entry --network-acl-id acl-b --egress --rule-number 110 --protocol tcp --port-range From=1024,To=65535 --cidr-block 10.0.3.0/24 --rule-action allow"
            ])
    }

    @Test func cidrClientsGetIpRanges() {
        let a = Self.audit([Self.port8080], ["203.0.113.0/24"])
        #expect(a.clients.map(\.detail) == ["203.0.113.0/24, as given"])
        let m1 = a.published(Self.port8080, on: "m1", from: "203.0.113.0/24")!
        #expect(
            m1.detail
                == "m1 does not admit 8080/tcp from 203.0.113.0/24: sg-swarm (swarm) allows TCP 8080 only from sg-admin (admin): the clients 203.0.113.0/24 are not within them"
        )
        let sgFix =
            "aws ec2 authorize-security-group-ingress --group-id sg-swarm --ip-permissions 'IpProtocol=tcp,FromPort=8080,ToPort=8080,IpRanges=[{CidrIp=203.0.113.0/24}]' --region us-east-1"
        #expect(m1.remediation == [sgFix])
        // w1's sg-web admits sg-lb only: a group reference never admits addresses.
        #expect(a.published(Self.port8080, on: "w1", from: "203.0.113.0/24")!.detail.contains("sg-web (web) allows TCP 8080 only from sg-lb (lb)"))
        // acl-b admits the VPC only: the final rule denies the clients both ways.
        let w2 = a.published(Self.port8080, on: "w2", from: "203.0.113.0/24")!
        #expect(w2.causes == [.naclInboundDenied, .allowedFromOtherSource, .naclReturnDenied])
        #expect(
            w2.remediation == [
                sgFix,
                "aws ec2 create-network-acl-entry --network-acl-id acl-b --ingress --rule-number 110 --protocol tcp --port-range From=8080,To=8080 --cidr-block 203.0.113.0/24 --rule-action allow --region us-east-1",
                "aws ec2 create-network-acl-entry --network-acl-id acl-b --egress --rule-number 110 --protocol tcp --port-range From=1024,To=65535 --cidr-block 203.0.113.0/24 --rule-action allow --region us-east-1",
            ])
    }

    @Test func aGroupWithoutInterfacesIsTakenAsItsVPC() {
        let a = Self.audit([Self.port8080], ["sg-admin"])
        #expect(a.clients.map(\.detail) == ["10.0.0.0/16, the CIDR of vpc-1 (no network interface of sg-admin in the data)"])
        #expect(a.clients.map(\.source) == [.vpc])
        #expect(a.published(Self.port8080, on: "m1", from: "sg-admin")!.admitted)
        // Rule 90 denies part of the VPC: some of the clients, so not admitted.
        let w2 = a.published(Self.port8080, on: "w2", from: "sg-admin")!
        #expect(
            w2.blockers.first?.detail
                == "acl-b (subnet-b of w2) inbound rule 90 denies TCP 8080 from 10.0.0.0/16 (assumed for sg-admin: its VPC's CIDR)")
        // Without the VPC either, the ACLs cannot be evaluated: inconclusive, not guessed.
        var snap = Self.snapshot
        snap.vpcs = []
        let unknown = AWSAudit.publishedPort(Self.port8080, on: Self.inventory.nodes[0], from: .group("sg-admin"), snapshot: snap)
        #expect(unknown.verdict == .inconclusive && unknown.remediation.isEmpty)
        #expect(
            unknown.detail.hasPrefix(
                "cannot tell which addresses sg-admin sends from (no network interface of sg-admin in the data, and no VPC CIDR either); "))
    }

    /// The API `check --aws` calls per node and port: the same decision the audit makes.
    @Test func publishedPortForOneNode() {
        let w2 = Self.inventory.nodes.first { $0.name == "w2" }!
        let p = AWSAudit.publishedPort(
            Self.port8080, on: w2, from: .group("sg-lb"), snapshot: Self.snapshot, cluster: Self.inventory.nodes, style: Self.style)
        #expect(!p.admitted)
        #expect(p == lb("w2"))
        #expect(p.remediation == Self.w2Remediation)
        let w1 = AWSAudit.publishedPort(Self.port8080, on: Self.inventory.nodes[1], from: .group("sg-lb"), snapshot: Self.snapshot)
        #expect(w1.admitted && w1.detail.hasPrefix("w1 admits 8080/tcp from sg-lb: "))
        // A node no instance holds: nothing claimed.
        let ghost = Node(name: "ghost", address: IPAddress("10.0.9.9")!, role: .worker)
        let g = AWSAudit.publishedPort(Self.port8080, on: ghost, from: .group("sg-lb"), snapshot: Self.snapshot)
        #expect(g.verdict == .inconclusive && g.detail.hasPrefix("ghost (10.0.9.9) matches no EC2 instance's private address"))
    }

    @Test func clientsInTheNodesOwnSubnetPassNoACL() {
        let w2 = Self.inventory.nodes[2]
        let p = AWSAudit.publishedPort(Self.port9090, on: w2, from: .cidr(CIDR("10.0.2.0/25")!), snapshot: Self.snapshot)
        #expect(p.layers.filter(\.layer.isNACL).allSatisfy { $0.outcome == .notApplicable })
        #expect(p.causes == [.portNotInSecurityGroups])
    }

    @Test func resultsCountPublishedPortsAsChecks() throws {
        let r = Self.lbAudit.results(startedAt: "2026-01-01T00:00:00Z", durationMs: 1)
        let published = r.checks.filter { $0.kind == "published" }
        #expect(published.count == 6)
        #expect(published.map(\.reason) == [.awsDenied, .awsAllowed, .awsDenied, .awsDenied, .awsDenied, .awsDenied])
        #expect(published.allSatisfy { $0.from == "sg-lb" && $0.required })
        #expect(r.summary.requiredNotOpen == 5 && r.summary.exitCode == 1)
        let matrices = Self.lbAudit.results(startedAt: "2026-01-01T00:00:00Z", durationMs: 1, includingPublished: false)
        #expect(matrices.checks.count == r.checks.count - 6 && matrices.summary.exitCode == 0)

        let text = AWSAuditReport.json(
            results: String(decoding: try JSONDocument.encoder(pretty: true).encode(r), as: UTF8.self), audit: Self.lbAudit)
        #expect(try JSONDecoder().decode(Results.self, from: Data(text.utf8)) == r)
        let aws = (try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any])["aws"] as! [String: Any]
        let first = (aws["published"] as! [[String: Any]])[0]
        #expect(first["causes"] as? [String] == ["allowed-from-other-source"])
        #expect(first["from"] as? String == "sg-lb" && first["to"] as? String == "m1" && first["kind_id"] as? String == "8080/tcp")
        let back = try JSONDecoder().decode(AWSAuditResult.self, from: JSONSerialization.data(withJSONObject: aws))
        #expect(back.published == Self.lbAudit.published && back.clients == Self.lbAudit.clients)
        // Without --published the document has neither field (and node paths no `causes`).
        let plain = AWSAudit.evaluate(inventory: Self.inventory, profile: DefaultProfile.load(), snapshot: Self.snapshot)
        let plainText = String(decoding: try JSONDocument.encoder(pretty: true).encode(plain), as: UTF8.self)
        #expect(!plainText.contains("\"published\"") && !plainText.contains("\"clients\"") && !plainText.contains("\"causes\""))
    }

    @Test func reportsNameTheAssumptionAndEveryNode() {
        let t = AWSAuditReport.terminal(Self.lbAudit)
        #expect(
            t.contains(
                "Published ports (security groups and network ACLs between the clients and each node)\n"
                    + "  sg-lb (lb): network ACLs evaluated for 10.0.3.0/24, 10.0.4.0/24, the subnets of sg-lb's network interfaces (subnet-lb1, subnet-lb2)\n"
                    + "  8080/tcp from sg-lb: admitted by 1 of 3 nodes\n"
                    + "    m1 (10.0.1.11): NOT ADMITTED: m1 does not admit 8080/tcp from sg-lb: \(Self.otherGroup)\n"
                    + "    w1 (10.0.1.21): admitted: w1 admits"))
        let md = AWSAuditReport.markdown(Self.lbAudit)
        #expect(md.contains("\n## Published ports\n\n- Clients sg-lb (lb): network ACLs evaluated for 10.0.3.0/24, 10.0.4.0/24"))
        #expect(
            md.contains(
                "| 8080/tcp | sg-lb | m1 (10.0.1.11) | NOT ADMITTED (`allowed-from-other-source`) | m1 does not admit 8080/tcp from sg-lb: \(Self.otherGroup) |"
            ))
        #expect(md.contains("and admit every published port from the clients' group or CIDR"))
        #expect(md.contains("```sh\n\(Self.lbAudit.remediation.joined(separator: "\n"))\n```"))
    }

    @Test(arguments: [
        ("nonsense", "--clients: `nonsense` is neither a CIDR (203.0.113.0/24) nor a security group id (sg-0123abcd)"),
        ("sg-", "--clients: `sg-` is neither a CIDR (203.0.113.0/24) nor a security group id (sg-0123abcd)"),
        ("sg-ABC", "--clients: `sg-ABC` is neither a CIDR (203.0.113.0/24) nor a security group id (sg-0123abcd)"),
        ("10.0.3.5/24", "--clients: `10.0.3.5/24` has host bits set: the prefix is 10.0.3.0/24"),
        ("10.0.3.5", "--clients: `10.0.3.5` is an address, not a CIDR: write 10.0.3.5/32 for one address"),
        ("10.0.0.0/33", "--clients: `10.0.0.0/33` is neither a CIDR (203.0.113.0/24) nor a security group id (sg-0123abcd)"),
    ])
    func badClients(_ value: String, _ message: String) {
        let e = #expect(throws: InputError.self) { try AWSClients.parse([value]) }
        #expect(e?.description == message)
    }

    @Test func goodFlagValues() throws {
        #expect(
            try AWSClients.parse(["sg-0abc123,203.0.113.0/24", "2001:db8::/64"]) == [
                .group("sg-0abc123"), .cidr(CIDR("203.0.113.0/24")!), .cidr(CIDR("2001:db8::/64")!),
            ])
    }

    /// Network ACL entries against a range of clients: an allow must hold them all, a deny touching any matches.
    @Test func aclEntriesAgainstARange() {
        let acl = NetworkACLTests.acl([
            NetworkACLTests.entry(90, "6", "deny", "10.0.4.128/25", (8080, 8080)),
            NetworkACLTests.entry(100, "-1", "allow", "10.0.4.0/25"),
            NetworkACLTests.entry(110, "-1", "allow", "10.0.0.0/16"),
        ])
        let t = Traffic(kind: Self.port8080)
        #expect(
            evaluateACL(acl, egress: false, traffic: t, remote: CIDR("10.0.4.0/24")!) == [
                ACLSpan(ports: PortSpan(8080, 8080), allow: false, ruleNumber: 90)
            ])
        #expect(
            evaluateACL(acl, egress: false, traffic: t, remote: CIDR("10.0.4.0/26")!) == [
                ACLSpan(ports: PortSpan(8080, 8080), allow: true, ruleNumber: 100)
            ])
        #expect(
            evaluateACL(acl, egress: false, traffic: t, remote: CIDR("10.0.0.0/8")!) == [
                ACLSpan(ports: PortSpan(8080, 8080), allow: false, ruleNumber: 90)
            ])
        #expect(
            evaluateACL(acl, egress: false, traffic: t, remote: CIDR("10.0.8.0/24")!) == [
                ACLSpan(ports: PortSpan(8080, 8080), allow: true, ruleNumber: 110)
            ])
    }
}
