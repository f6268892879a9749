import Foundation
import SwarmProbeCore

// The subset of the EC2 API's JSON (as `aws ec2 describe-* --output json` prints it) that the audit
// reads. Every field is optional unless the audit cannot work without it; unknown fields are ignored.

/// `aws ec2 describe-instances`.
public struct DescribeInstancesOutput: Codable, Sendable, Equatable {
    public var reservations: [Reservation]
    public init(reservations: [Reservation]) { self.reservations = reservations }
    enum CodingKeys: String, CodingKey { case reservations = "Reservations" }

    public struct Reservation: Codable, Sendable, Equatable {
        public var instances: [EC2Instance]
        public init(instances: [EC2Instance]) { self.instances = instances }
        enum CodingKeys: String, CodingKey { case instances = "Instances" }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            instances = try c.decodeIfPresent([EC2Instance].self, forKey: .instances) ?? []
        }
    }
}

public struct EC2GroupIdentifier: Codable, Sendable, Equatable, Hashable {
    public var groupId: String
    public var groupName: String?
    public init(groupId: String, groupName: String? = nil) {
        self.groupId = groupId
        self.groupName = groupName
    }
    enum CodingKeys: String, CodingKey { case groupId = "GroupId", groupName = "GroupName" }
}

public struct EC2Instance: Codable, Sendable, Equatable {
    public var instanceId: String
    public var privateIpAddress: String?
    public var subnetId: String?
    public var vpcId: String?
    public var networkInterfaces: [NetworkInterface]
    public var securityGroups: [EC2GroupIdentifier]
    /// `running`, `stopped`, ...
    public var state: String?

    public init(
        instanceId: String, privateIpAddress: String?, subnetId: String?, vpcId: String?,
        networkInterfaces: [NetworkInterface] = [], securityGroups: [EC2GroupIdentifier] = [], state: String? = nil
    ) {
        self.instanceId = instanceId
        self.privateIpAddress = privateIpAddress
        self.subnetId = subnetId
        self.vpcId = vpcId
        self.networkInterfaces = networkInterfaces
        self.securityGroups = securityGroups
        self.state = state
    }

    enum CodingKeys: String, CodingKey {
        case instanceId = "InstanceId", privateIpAddress = "PrivateIpAddress", subnetId = "SubnetId", vpcId = "VpcId"
        case networkInterfaces = "NetworkInterfaces", securityGroups = "SecurityGroups", state = "State"
    }
    struct State: Codable { var Name: String? }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        instanceId = try c.decode(String.self, forKey: .instanceId)
        privateIpAddress = try c.decodeIfPresent(String.self, forKey: .privateIpAddress)
        subnetId = try c.decodeIfPresent(String.self, forKey: .subnetId)
        vpcId = try c.decodeIfPresent(String.self, forKey: .vpcId)
        networkInterfaces = try c.decodeIfPresent([NetworkInterface].self, forKey: .networkInterfaces) ?? []
        securityGroups = try c.decodeIfPresent([EC2GroupIdentifier].self, forKey: .securityGroups) ?? []
        state = try c.decodeIfPresent(State.self, forKey: .state)?.Name
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(instanceId, forKey: .instanceId)
        try c.encodeIfPresent(privateIpAddress, forKey: .privateIpAddress)
        try c.encodeIfPresent(subnetId, forKey: .subnetId)
        try c.encodeIfPresent(vpcId, forKey: .vpcId)
        try c.encode(networkInterfaces, forKey: .networkInterfaces)
        try c.encode(securityGroups, forKey: .securityGroups)
        try c.encodeIfPresent(state.map { State(Name: $0) }, forKey: .state)
    }

    public struct NetworkInterface: Codable, Sendable, Equatable {
        public var networkInterfaceId: String?
        public var subnetId: String?
        public var vpcId: String?
        public var privateIpAddress: String?
        public var privateIpAddresses: [String]
        public var groups: [EC2GroupIdentifier]

        public init(
            networkInterfaceId: String?, subnetId: String?, vpcId: String?, privateIpAddress: String?,
            privateIpAddresses: [String] = [], groups: [EC2GroupIdentifier] = []
        ) {
            self.networkInterfaceId = networkInterfaceId
            self.subnetId = subnetId
            self.vpcId = vpcId
            self.privateIpAddress = privateIpAddress
            self.privateIpAddresses = privateIpAddresses
            self.groups = groups
        }

        enum CodingKeys: String, CodingKey {
            case networkInterfaceId = "NetworkInterfaceId", subnetId = "SubnetId", vpcId = "VpcId"
            case privateIpAddress = "PrivateIpAddress", privateIpAddresses = "PrivateIpAddresses", groups = "Groups"
        }
        struct Address: Codable { var PrivateIpAddress: String? }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            networkInterfaceId = try c.decodeIfPresent(String.self, forKey: .networkInterfaceId)
            subnetId = try c.decodeIfPresent(String.self, forKey: .subnetId)
            vpcId = try c.decodeIfPresent(String.self, forKey: .vpcId)
            privateIpAddress = try c.decodeIfPresent(String.self, forKey: .privateIpAddress)
            privateIpAddresses = try (c.decodeIfPresent([Address].self, forKey: .privateIpAddresses) ?? []).compactMap(\.PrivateIpAddress)
            groups = try c.decodeIfPresent([EC2GroupIdentifier].self, forKey: .groups) ?? []
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(networkInterfaceId, forKey: .networkInterfaceId)
            try c.encodeIfPresent(subnetId, forKey: .subnetId)
            try c.encodeIfPresent(vpcId, forKey: .vpcId)
            try c.encodeIfPresent(privateIpAddress, forKey: .privateIpAddress)
            try c.encode(privateIpAddresses.map { Address(PrivateIpAddress: $0) }, forKey: .privateIpAddresses)
            try c.encode(groups, forKey: .groups)
        }
    }
}

/// `aws ec2 describe-security-groups`.
public struct DescribeSecurityGroupsOutput: Codable, Sendable, Equatable {
    public var securityGroups: [SecurityGroup]
    public init(securityGroups: [SecurityGroup]) { self.securityGroups = securityGroups }
    enum CodingKeys: String, CodingKey { case securityGroups = "SecurityGroups" }
}

public struct SecurityGroup: Codable, Sendable, Equatable {
    public var groupId: String
    public var groupName: String?
    public var vpcId: String?
    public var ipPermissions: [IpPermission]
    public var ipPermissionsEgress: [IpPermission]

    public init(
        groupId: String, groupName: String? = nil, vpcId: String? = nil,
        ipPermissions: [IpPermission] = [], ipPermissionsEgress: [IpPermission] = []
    ) {
        self.groupId = groupId
        self.groupName = groupName
        self.vpcId = vpcId
        self.ipPermissions = ipPermissions
        self.ipPermissionsEgress = ipPermissionsEgress
    }

    enum CodingKeys: String, CodingKey {
        case groupId = "GroupId", groupName = "GroupName", vpcId = "VpcId"
        case ipPermissions = "IpPermissions", ipPermissionsEgress = "IpPermissionsEgress"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        groupId = try c.decode(String.self, forKey: .groupId)
        groupName = try c.decodeIfPresent(String.self, forKey: .groupName)
        vpcId = try c.decodeIfPresent(String.self, forKey: .vpcId)
        ipPermissions = try c.decodeIfPresent([IpPermission].self, forKey: .ipPermissions) ?? []
        ipPermissionsEgress = try c.decodeIfPresent([IpPermission].self, forKey: .ipPermissionsEgress) ?? []
    }

    /// `sg-0abc (swarm)`.
    public var label: String { groupName.map { "\(groupId) (\($0))" } ?? groupId }
}

public struct IpPermission: Codable, Sendable, Equatable {
    /// `-1` (all), `tcp`, `udp`, `icmp`, or an IP protocol number as text (`50`).
    public var ipProtocol: String
    /// Absent or -1: every port.
    public var fromPort: Int?
    public var toPort: Int?
    public var ipRanges: [String]
    public var ipv6Ranges: [String]
    public var groupPairs: [String]
    public var prefixListIds: [String]

    public init(
        ipProtocol: String, fromPort: Int? = nil, toPort: Int? = nil, ipRanges: [String] = [],
        ipv6Ranges: [String] = [], groupPairs: [String] = [], prefixListIds: [String] = []
    ) {
        self.ipProtocol = ipProtocol
        self.fromPort = fromPort
        self.toPort = toPort
        self.ipRanges = ipRanges
        self.ipv6Ranges = ipv6Ranges
        self.groupPairs = groupPairs
        self.prefixListIds = prefixListIds
    }

    enum CodingKeys: String, CodingKey {
        case ipProtocol = "IpProtocol", fromPort = "FromPort", toPort = "ToPort", ipRanges = "IpRanges"
        case ipv6Ranges = "Ipv6Ranges", groupPairs = "UserIdGroupPairs", prefixListIds = "PrefixListIds"
    }
    struct V4: Codable { var CidrIp: String? }
    struct V6: Codable { var CidrIpv6: String? }
    struct Pair: Codable { var GroupId: String? }
    struct PrefixList: Codable { var PrefixListId: String? }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipProtocol = try c.decode(String.self, forKey: .ipProtocol)
        fromPort = try c.decodeIfPresent(Int.self, forKey: .fromPort)
        toPort = try c.decodeIfPresent(Int.self, forKey: .toPort)
        ipRanges = try (c.decodeIfPresent([V4].self, forKey: .ipRanges) ?? []).compactMap(\.CidrIp)
        ipv6Ranges = try (c.decodeIfPresent([V6].self, forKey: .ipv6Ranges) ?? []).compactMap(\.CidrIpv6)
        groupPairs = try (c.decodeIfPresent([Pair].self, forKey: .groupPairs) ?? []).compactMap(\.GroupId)
        prefixListIds = try (c.decodeIfPresent([PrefixList].self, forKey: .prefixListIds) ?? []).compactMap(\.PrefixListId)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ipProtocol, forKey: .ipProtocol)
        try c.encodeIfPresent(fromPort, forKey: .fromPort)
        try c.encodeIfPresent(toPort, forKey: .toPort)
        try c.encode(ipRanges.map { V4(CidrIp: $0) }, forKey: .ipRanges)
        try c.encode(ipv6Ranges.map { V6(CidrIpv6: $0) }, forKey: .ipv6Ranges)
        try c.encode(groupPairs.map { Pair(GroupId: $0) }, forKey: .groupPairs)
        try c.encode(prefixListIds.map { PrefixList(PrefixListId: $0) }, forKey: .prefixListIds)
    }
}

/// `aws ec2 describe-network-acls`.
public struct DescribeNetworkAclsOutput: Codable, Sendable, Equatable {
    public var networkAcls: [NetworkAcl]
    public init(networkAcls: [NetworkAcl]) { self.networkAcls = networkAcls }
    enum CodingKeys: String, CodingKey { case networkAcls = "NetworkAcls" }
}

public struct NetworkAcl: Codable, Sendable, Equatable {
    public var networkAclId: String
    public var vpcId: String?
    public var isDefault: Bool
    public var subnetIds: [String]
    public var entries: [NetworkAclEntry]

    public init(networkAclId: String, vpcId: String?, isDefault: Bool, subnetIds: [String], entries: [NetworkAclEntry]) {
        self.networkAclId = networkAclId
        self.vpcId = vpcId
        self.isDefault = isDefault
        self.subnetIds = subnetIds
        self.entries = entries
    }

    enum CodingKeys: String, CodingKey {
        case networkAclId = "NetworkAclId", vpcId = "VpcId", isDefault = "IsDefault", subnetIds = "Associations", entries = "Entries"
    }
    struct Association: Codable { var SubnetId: String? }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        networkAclId = try c.decode(String.self, forKey: .networkAclId)
        vpcId = try c.decodeIfPresent(String.self, forKey: .vpcId)
        isDefault = try c.decodeIfPresent(Bool.self, forKey: .isDefault) ?? false
        subnetIds = try (c.decodeIfPresent([Association].self, forKey: .subnetIds) ?? []).compactMap(\.SubnetId)
        entries = try c.decodeIfPresent([NetworkAclEntry].self, forKey: .entries) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(networkAclId, forKey: .networkAclId)
        try c.encodeIfPresent(vpcId, forKey: .vpcId)
        try c.encode(isDefault, forKey: .isDefault)
        try c.encode(subnetIds.map { Association(SubnetId: $0) }, forKey: .subnetIds)
        try c.encode(entries, forKey: .entries)
    }
}

public struct NetworkAclEntry: Codable, Sendable, Equatable {
    public var ruleNumber: Int
    /// `-1` (all) or an IP protocol number as text (`6`, `17`, `50`).
    public var proto: String
    /// `allow` or `deny`.
    public var ruleAction: String
    public var egress: Bool
    public var cidrBlock: String?
    public var ipv6CidrBlock: String?
    public var portRange: PortRange?

    public init(
        ruleNumber: Int, proto: String, ruleAction: String, egress: Bool, cidrBlock: String?,
        ipv6CidrBlock: String? = nil, portRange: PortRange? = nil
    ) {
        self.ruleNumber = ruleNumber
        self.proto = proto
        self.ruleAction = ruleAction
        self.egress = egress
        self.cidrBlock = cidrBlock
        self.ipv6CidrBlock = ipv6CidrBlock
        self.portRange = portRange
    }

    enum CodingKeys: String, CodingKey {
        case ruleNumber = "RuleNumber", proto = "Protocol", ruleAction = "RuleAction", egress = "Egress"
        case cidrBlock = "CidrBlock", ipv6CidrBlock = "Ipv6CidrBlock", portRange = "PortRange"
    }

    public struct PortRange: Codable, Sendable, Equatable {
        public var from: Int?
        public var to: Int?
        public init(from: Int?, to: Int?) {
            self.from = from
            self.to = to
        }
        enum CodingKeys: String, CodingKey { case from = "From", to = "To" }
    }
}

/// `aws ec2 describe-subnets`.
public struct DescribeSubnetsOutput: Codable, Sendable, Equatable {
    public var subnets: [Subnet]
    public init(subnets: [Subnet]) { self.subnets = subnets }
    enum CodingKeys: String, CodingKey { case subnets = "Subnets" }
}

public struct Subnet: Codable, Sendable, Equatable {
    public var subnetId: String
    public var vpcId: String?
    public var cidrBlock: String?
    public init(subnetId: String, vpcId: String?, cidrBlock: String?) {
        self.subnetId = subnetId
        self.vpcId = vpcId
        self.cidrBlock = cidrBlock
    }
    enum CodingKeys: String, CodingKey { case subnetId = "SubnetId", vpcId = "VpcId", cidrBlock = "CidrBlock" }
}

/// `aws ec2 describe-network-interfaces` (for `--clients sg-...`: where the clients' group has interfaces).
public struct DescribeNetworkInterfacesOutput: Codable, Sendable, Equatable {
    public var networkInterfaces: [EC2Instance.NetworkInterface]
    public init(networkInterfaces: [EC2Instance.NetworkInterface]) { self.networkInterfaces = networkInterfaces }
    enum CodingKeys: String, CodingKey { case networkInterfaces = "NetworkInterfaces" }
}

/// `aws ec2 describe-vpcs` (for `--clients sg-...`: the VPC's CIDR when the group has no interface).
public struct DescribeVpcsOutput: Codable, Sendable, Equatable {
    public var vpcs: [Vpc]
    public init(vpcs: [Vpc]) { self.vpcs = vpcs }
    enum CodingKeys: String, CodingKey { case vpcs = "Vpcs" }
}

public struct Vpc: Codable, Sendable, Equatable {
    public var vpcId: String
    /// The primary IPv4 CIDR, then any other associated one.
    public var cidrBlocks: [String]

    public init(vpcId: String, cidrBlocks: [String]) {
        self.vpcId = vpcId
        self.cidrBlocks = cidrBlocks
    }

    enum CodingKeys: String, CodingKey { case vpcId = "VpcId", cidrBlock = "CidrBlock", associations = "CidrBlockAssociationSet" }
    struct Association: Codable {
        var CidrBlock: String?
        var CidrBlockState: State?
        struct State: Codable { var State: String? }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vpcId = try c.decode(String.self, forKey: .vpcId)
        var blocks = [try c.decodeIfPresent(String.self, forKey: .cidrBlock)].compactMap { $0 }
        for a in try c.decodeIfPresent([Association].self, forKey: .associations) ?? [] {
            guard let b = a.CidrBlock, !blocks.contains(b), (a.CidrBlockState?.State ?? "associated") == "associated" else { continue }
            blocks.append(b)
        }
        cidrBlocks = blocks
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vpcId, forKey: .vpcId)
        try c.encodeIfPresent(cidrBlocks.first, forKey: .cidrBlock)
        try c.encode(
            cidrBlocks.map { Association(CidrBlock: $0, CidrBlockState: Association.State(State: "associated")) }, forKey: .associations)
    }
}

/// `aws ec2 get-managed-prefix-list-entries --prefix-list-id pl-...`.
public struct PrefixListEntriesOutput: Codable, Sendable, Equatable {
    public var entries: [String]
    public init(entries: [String]) { self.entries = entries }
    enum CodingKeys: String, CodingKey { case entries = "Entries" }
    struct Entry: Codable { var Cidr: String }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        entries = try (c.decodeIfPresent([Entry].self, forKey: .entries) ?? []).map(\.Cidr)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(entries.map { Entry(Cidr: $0) }, forKey: .entries)
    }
}

/// Everything the audit reads from the account, however it was obtained.
public struct AWSSnapshot: Sendable, Equatable {
    public var instances: [EC2Instance]
    public var securityGroups: [SecurityGroup]
    public var networkAcls: [NetworkAcl]
    public var subnets: [Subnet]
    /// Managed prefix list id -> its CIDRs. A list referenced by a rule but absent here is unknown.
    public var prefixLists: [String: [String]]
    /// Network interfaces of the `--clients` security groups (a load balancer's), for the CIDRs they send from.
    public var networkInterfaces: [EC2Instance.NetworkInterface]
    /// The VPCs of the nodes and of the `--clients` groups, for their CIDRs.
    public var vpcs: [Vpc]

    public init(
        instances: [EC2Instance] = [], securityGroups: [SecurityGroup] = [], networkAcls: [NetworkAcl] = [],
        subnets: [Subnet] = [], prefixLists: [String: [String]] = [:], networkInterfaces: [EC2Instance.NetworkInterface] = [],
        vpcs: [Vpc] = []
    ) {
        self.instances = instances
        self.securityGroups = securityGroups
        self.networkAcls = networkAcls
        self.subnets = subnets
        self.prefixLists = prefixLists
        self.networkInterfaces = networkInterfaces
        self.vpcs = vpcs
    }

    /// Decodes one `aws ec2 ...` JSON document; errors name `source` and the field.
    public static func decode<T: Decodable>(_ type: T.Type, _ data: Data, source: String) throws(InputError) -> T {
        try JSONDocument.decode(type, from: [UInt8](data), source: source)
    }

    /// The files `--from-dir` reads, as `aws ec2 <command> --output json > DIR/<command>.json` writes them.
    public enum FileName {
        public static let instances = "describe-instances.json"
        public static let securityGroups = "describe-security-groups.json"
        public static let networkAcls = "describe-network-acls.json"
        public static let subnets = "describe-subnets.json"
        /// Optional, one per managed prefix list a rule references.
        public static func prefixList(_ id: String) -> String { "get-managed-prefix-list-entries-\(id).json" }
        /// Optional: the interfaces of the `--clients` security groups.
        public static let networkInterfaces = "describe-network-interfaces.json"
        /// Optional: the VPCs, for the `--clients` group's CIDR when it has no interface.
        public static let vpcs = "describe-vpcs.json"
    }

    /// Reads the saved `describe-*` files of `directory`. Prefix list, network interface and VPC files are optional.
    public static func load(directory: String) throws(InputError) -> AWSSnapshot {
        func read<T: Decodable>(_ name: String, _ type: T.Type, optional: Bool = false) throws(InputError) -> T? {
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else {
                if optional { return nil }
                throw InputError(
                    source: path,
                    "--from-dir: missing; save it with `aws ec2 \(name.replacingOccurrences(of: ".json", with: "")) --output json > \(path)`")
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw InputError(source: path, "--from-dir: cannot read the file")
            }
            return try decode(type, data, source: path)
        }
        var s = AWSSnapshot()
        s.instances = try read(FileName.instances, DescribeInstancesOutput.self)!.reservations.flatMap(\.instances)
        s.securityGroups = try read(FileName.securityGroups, DescribeSecurityGroupsOutput.self)!.securityGroups
        s.networkAcls = try read(FileName.networkAcls, DescribeNetworkAclsOutput.self)!.networkAcls
        s.subnets = try read(FileName.subnets, DescribeSubnetsOutput.self)!.subnets
        for id in s.referencedPrefixLists {
            if let out = try read(FileName.prefixList(id), PrefixListEntriesOutput.self, optional: true) {
                s.prefixLists[id] = out.entries
            }
        }
        s.networkInterfaces =
            try read(FileName.networkInterfaces, DescribeNetworkInterfacesOutput.self, optional: true)?.networkInterfaces ?? []
        s.vpcs = try read(FileName.vpcs, DescribeVpcsOutput.self, optional: true)?.vpcs ?? []
        return s
    }

    /// Every managed prefix list a rule of the snapshot's security groups references, sorted.
    public var referencedPrefixLists: [String] {
        let all = securityGroups.flatMap { $0.ipPermissions + $0.ipPermissionsEgress }.flatMap(\.prefixListIds)
        return Array(Set(all)).sorted()
    }
}
