import Foundation
import SwarmProbeCore

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
    /// their subnets, and the network ACLs of their VPCs.
    public func snapshot(addresses: [IPAddress]) throws(InputError) -> Fetched {
        var docs: [String: Data] = [:]
        var s = AWSSnapshot()
        let ips = addresses.map(\.description).joined(separator: ",")
        let (instData, instCmd) = try run(["describe-instances", "--filters", "Name=private-ip-address,Values=\(ips)"])
        docs[AWSSnapshot.FileName.instances] = instData
        s.instances = try AWSSnapshot.decode(DescribeInstancesOutput.self, instData, source: instCmd).reservations.flatMap(\.instances)

        let groups = orderedUnique(s.instances.flatMap { i in i.securityGroups.map(\.groupId) + i.networkInterfaces.flatMap { $0.groups.map(\.groupId) } })
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

        let subnets = orderedUnique(s.instances.flatMap { i in [i.subnetId].compactMap { $0 } + i.networkInterfaces.compactMap(\.subnetId) })
        if subnets.isEmpty {
            docs[AWSSnapshot.FileName.subnets] = Data(#"{"Subnets": []}"#.utf8)
        } else {
            let (d, cmd) = try run(["describe-subnets", "--subnet-ids"] + subnets)
            docs[AWSSnapshot.FileName.subnets] = d
            s.subnets = try AWSSnapshot.decode(DescribeSubnetsOutput.self, d, source: cmd).subnets
        }
        let vpcs = orderedUnique(s.instances.flatMap { i in [i.vpcId].compactMap { $0 } + i.networkInterfaces.compactMap(\.vpcId) } + s.subnets.compactMap(\.vpcId))
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
        let out: ProcessOutput
        do {
            out = try runProcess(executable, full)
        } catch {
            throw InputError(source: name, "cannot run the AWS CLI `\(executable)` (\(error)); install it, or save the describe-* output elsewhere and use --from-dir")
        }
        guard out.status == 0 else {
            let message = String(decoding: out.stderr, as: UTF8.self)
                .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let line = message.last(where: { $0.contains("rror") }) ?? message.last ?? "no message"
            throw InputError(source: name, "failed (exit \(out.status)): \(line)")
        }
        return (out.stdout, name)
    }
}

struct ProcessOutput {
    var status: Int32
    var stdout: Data
    var stderr: Data
}

enum ProcessFailure: Error, CustomStringConvertible {
    case notFound(String)
    var description: String {
        switch self {
        case let .notFound(e): return "\(e) not found on PATH"
        }
    }
}

/// Runs a program to its end; stdout and stderr go through temporary files so neither pipe can fill up.
func runProcess(_ executable: String, _ arguments: [String]) throws -> ProcessOutput {
    guard let path = findExecutable(executable) else { throw ProcessFailure.notFound(executable) }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swarmprobe-aws-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["AWS_PAGER"] = ""  // CLI v2 would otherwise start a pager
    p.environment = env
    p.standardOutput = outHandle
    p.standardError = errHandle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    try? outHandle.close()
    try? errHandle.close()
    return ProcessOutput(status: p.terminationStatus,
                         stdout: (try? Data(contentsOf: outURL)) ?? Data(),
                         stderr: (try? Data(contentsOf: errURL)) ?? Data())
}

func findExecutable(_ name: String) -> String? {
    if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

func orderedUnique(_ items: [String]) -> [String] {
    var seen = Set<String>()
    return items.filter { seen.insert($0).inserted }
}
