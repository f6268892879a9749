import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// Reads the account through the AWS CLI the user already has: their credentials, profile, SSO session and
/// region work as they do for `aws` itself. Only `describe-*`/`get-*` calls: nothing in the account changes.
public struct AWSCLI: Sendable {
    public var executable: String
    public var region: String?
    public var profile: String?
    public var endpointURL: String?

    public init(executable: String = "aws", region: String? = nil, profile: String? = nil, endpointURL: String? = nil) {
        self.executable = executable
        self.region = region
        self.profile = profile
        self.endpointURL = endpointURL
    }

    /// The JSON documents the snapshot was made of, by `AWSSnapshot.FileName`, to save beside the report.
    public struct Fetched: Sendable {
        public var snapshot: AWSSnapshot
        public var documents: [String: Data]
    }

    /// Instances holding the inventory's addresses, their security groups, the prefix lists those reference,
    /// their subnets, and the network ACLs of their VPCs. With `clientGroups` (`--clients sg-...`): those groups
    /// too, their network interfaces, the subnets those are in, and the VPCs (for their CIDRs).
    public func snapshot(addresses: [IPAddress], clientGroups: [String] = []) throws(InputError) -> Fetched {
        var docs: [String: Data] = [:]
        var s = AWSSnapshot()
        let ips = addresses.map(\.description).joined(separator: ",")
        let (instData, instCmd) = try run(["describe-instances", "--filters", "Name=private-ip-address,Values=\(ips)"])
        docs[AWSSnapshot.FileName.instances] = instData
        s.instances = try AWSSnapshot.decode(DescribeInstancesOutput.self, instData, source: instCmd).reservations.flatMap(\.instances)

        let groups = orderedUnique(
            s.instances.flatMap { i in i.securityGroups.map(\.groupId) + i.networkInterfaces.flatMap { $0.groups.map(\.groupId) } }
                + clientGroups)
        if groups.isEmpty {
            docs[AWSSnapshot.FileName.securityGroups] = Data(#"{"SecurityGroups": []}"#.utf8)
        } else {
            let (d, cmd) = try run(["describe-security-groups", "--group-ids"] + groups)
            docs[AWSSnapshot.FileName.securityGroups] = d
            s.securityGroups = try AWSSnapshot.decode(DescribeSecurityGroupsOutput.self, d, source: cmd).securityGroups
        }
        for id in s.referencedPrefixLists {
            let (d, cmd) = try run(["get-managed-prefix-list-entries", "--prefix-list-id", id])
            docs[AWSSnapshot.FileName.prefixList(id)] = d
            s.prefixLists[id] = try AWSSnapshot.decode(PrefixListEntriesOutput.self, d, source: cmd).entries
        }

        if !clientGroups.isEmpty {
            let (d, cmd) = try run(["describe-network-interfaces", "--filters", "Name=group-id,Values=\(clientGroups.joined(separator: ","))"])
            docs[AWSSnapshot.FileName.networkInterfaces] = d
            s.networkInterfaces = try AWSSnapshot.decode(DescribeNetworkInterfacesOutput.self, d, source: cmd).networkInterfaces
        }
        let subnets = orderedUnique(
            s.instances.flatMap { i in [i.subnetId].compactMap { $0 } + i.networkInterfaces.compactMap(\.subnetId) }
                + s.networkInterfaces.compactMap(\.subnetId))
        if subnets.isEmpty {
            docs[AWSSnapshot.FileName.subnets] = Data(#"{"Subnets": []}"#.utf8)
        } else {
            let (d, cmd) = try run(["describe-subnets", "--subnet-ids"] + subnets)
            docs[AWSSnapshot.FileName.subnets] = d
            s.subnets = try AWSSnapshot.decode(DescribeSubnetsOutput.self, d, source: cmd).subnets
        }
        let vpcs = orderedUnique(
            s.instances.flatMap { i in [i.vpcId].compactMap { $0 } + i.networkInterfaces.compactMap(\.vpcId) } + s.subnets.compactMap(\.vpcId)
                + s.securityGroups.filter { clientGroups.contains($0.groupId) }.compactMap(\.vpcId))
        if !clientGroups.isEmpty && !vpcs.isEmpty {
            let (d, cmd) = try run(["describe-vpcs", "--vpc-ids"] + vpcs)
            docs[AWSSnapshot.FileName.vpcs] = d
            s.vpcs = try AWSSnapshot.decode(DescribeVpcsOutput.self, d, source: cmd).vpcs
        }
        if vpcs.isEmpty {
            docs[AWSSnapshot.FileName.networkAcls] = Data(#"{"NetworkAcls": []}"#.utf8)
        } else {
            let (d, cmd) = try run(["describe-network-acls", "--filters", "Name=vpc-id,Values=\(vpcs.joined(separator: ","))"])
            docs[AWSSnapshot.FileName.networkAcls] = d
            s.networkAcls = try AWSSnapshot.decode(DescribeNetworkAclsOutput.self, d, source: cmd).networkAcls
        }
        return Fetched(snapshot: s, documents: docs)
    }

    /// Runs `aws ec2 ARGS --output json` and returns its stdout, and the command as error messages name it.
    func run(_ args: [String]) throws(InputError) -> (Data, String) {
        var full = ["ec2"] + args + ["--output", "json"]
        if let region { full += ["--region", region] }
        if let profile { full += ["--profile", profile] }
        if let endpointURL { full += ["--endpoint-url", endpointURL] }
        let name = "aws ec2 \(args[0])"
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_PAGER"] = ""  // CLI v2 would otherwise start a pager
        let out: ProgramOutput
        do {
            out = try Program.capture([executable] + full, environment: environment)
        } catch {
            throw InputError(
                source: name, "cannot run the AWS CLI: \(error.message); install it, or save the describe-* output elsewhere and use --from-dir")
        }
        guard out.status == 0 else {
            let message = out.stderr
                .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let line = message.last(where: { $0.contains("rror") }) ?? message.last ?? "no message"
            throw InputError(source: name, "failed (exit \(out.status)): \(line)")
        }
        return (Data(out.stdout.utf8), name)
    }
}

func orderedUnique(_ items: [String]) -> [String] {
    var seen = Set<String>()
    return items.filter { seen.insert($0).inserted }
}
