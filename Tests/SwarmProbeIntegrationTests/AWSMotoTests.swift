import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// `swarmprobe aws audit` against a real EC2 API: moto's server on 127.0.0.1, driven by the AWS CLI with dummy
// credentials. Each scenario builds its own VPC (10.N.0.0/16, so addresses never collide between scenarios),
// runs the built binary, asserts every check's verdict and every suggested command, then runs the suggested
// commands against moto and audits again: the fix must open every required path.
// CI: `pip install "moto[server]==5.2.1" "awscli==1.45.11"`.

/// Why the moto tests cannot run here, or nil when they can.
let motoUnavailable: String? = {
    for tool in ["moto_server", "aws"] where which(tool) == nil {
        return "`\(tool)` is not on PATH (pip install \"moto[server]\" awscli)"
    }
    if !FileManager.default.isExecutableFile(atPath: swarmprobeBinary()) {
        return "swarmprobe binary not built at \(swarmprobeBinary()) (run `swift build` first)"
    }
    return nil
}()

private func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// A moto server on a free port of 127.0.0.1, stopped by `stop()` (call it in a `defer`).
final class MotoServer {
    let port: Int
    private var process: ChildProcess!
    let directory: URL
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Dummy credentials and region, and no user config: nothing can reach a real account.
    static let environment: [String: String] = {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("AWS_") { env[key] = nil }
        env["AWS_ACCESS_KEY_ID"] = "test"
        env["AWS_SECRET_ACCESS_KEY"] = "test"
        env["AWS_DEFAULT_REGION"] = "us-east-1"
        env["AWS_CONFIG_FILE"] = "/nonexistent/aws-config"
        env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/aws-credentials"
        env["AWS_PAGER"] = ""
        return env
    }()

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swarmprobe-moto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freePort()
        let log = directory.appendingPathComponent("moto.log").path
        process = try ChildProcess(
            ["moto_server", "-H", "127.0.0.1", "-p", String(port)], stdout: .file(log), stderr: .file(log),
            environment: MotoServer.environment)
        let deadline = Date().addingTimeInterval(30)
        while !canConnect(port) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw MotoError(message: "moto_server did not start on port \(port)")
            }
            usleep(100_000)
        }
    }

    /// moto_server ignores SIGTERM: SIGINT first, SIGKILL if it is still there after 5 s.
    func stop() {
        guard let process, process.isRunning else { return }
        process.signal(SIGINT)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        process.signal(SIGKILL)
        process.wait()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs a program with the dummy AWS environment.
    func run(_ executable: String, _ args: [String]) throws -> ProgramOutput {
        try Program.capture([executable] + args, environment: MotoServer.environment)
    }

    /// `aws ec2 ARGS` against moto; the JSON it prints.
    @discardableResult
    func ec2(_ args: String...) throws -> [String: Any] { try ec2(args) }

    @discardableResult
    func ec2(_ args: [String]) throws -> [String: Any] {
        let r = try run(which("aws")!, ["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json", "ec2"] + args)
        guard r.status == 0 else { throw MotoError(message: "aws ec2 \(args.joined(separator: " ")): \(r.stderr)") }
        if r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return [:] }
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// Runs a suggested command (a shell line starting with `aws ec2`) against moto.
    func apply(_ command: String) throws {
        let r = try run("/bin/sh", ["-c", "aws --endpoint-url \(endpoint) " + command.dropFirst("aws ".count)])
        guard r.status == 0 else { throw MotoError(message: "\(command): \(r.stderr)") }
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

struct MotoError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

private func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw MotoError(message: "socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw MotoError(message: "bind failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

private func canConnect(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

// MARK: - Building a cluster in moto

struct MotoNode {
    var name: String
    var role: Role
    var subnet: Int
    var address: String
    var instance = true
}

/// One VPC with subnets, the cluster's security group and instances.
struct MotoCluster {
    var vpc: String
    var subnets: [String]
    var group: String
    var nodes: [MotoNode]
    var inventory: String

    /// Rules of a correct swarm group, all from the group itself (`ESP` adds IP protocol 50).
    static func swarmRules(_ sg: String, esp: Bool = false, skip: Set<String> = [], replace: [String: String] = [:]) -> [String] {
        var rules = [
            ("tcp2377", "IpProtocol=tcp,FromPort=2377,ToPort=2377"), ("tcp7946", "IpProtocol=tcp,FromPort=7946,ToPort=7946"),
            ("udp7946", "IpProtocol=udp,FromPort=7946,ToPort=7946"), ("udp4789", "IpProtocol=udp,FromPort=4789,ToPort=4789"),
        ]
        if esp { rules.append(("esp", "IpProtocol=50,FromPort=-1,ToPort=-1")) }
        return rules.filter { !skip.contains($0.0) }.map { "\(replace[$0.0] ?? $0.1),UserIdGroupPairs=[{GroupId=\(sg)}]" }
    }

    /// `prefix`: the VPC's first two octets (default `10.<net>`); `198.18` matches a namespace lab's addresses.
    static func make(
        _ moto: MotoServer, net: Int, subnets: Int, nodes: [MotoNode], prefix: String? = nil,
        rules: (String) -> [String]
    ) throws -> MotoCluster {
        let p = prefix ?? "10.\(net)"
        let vpc = try moto.ec2("create-vpc", "--cidr-block", "\(p).0.0/16")["Vpc"].flatMap { ($0 as? [String: Any])?["VpcId"] as? String }!
        var subnetIds: [String] = []
        for i in 1...subnets {
            let s = try moto.ec2("create-subnet", "--vpc-id", vpc, "--cidr-block", "\(p).\(i).0/24")
            subnetIds.append((s["Subnet"] as! [String: Any])["SubnetId"] as! String)
        }
        let sg =
            try moto.ec2("create-security-group", "--group-name", "swarm-\(net)", "--description", "swarm nodes", "--vpc-id", vpc)["GroupId"]
            as! String
        let permissions = rules(sg)
        if !permissions.isEmpty {
            try moto.ec2(["authorize-security-group-ingress", "--group-id", sg, "--ip-permissions"] + permissions)
        }
        let images = try moto.ec2("describe-images")["Images"] as! [[String: Any]]
        let ami = images[0]["ImageId"] as! String
        for n in nodes where n.instance {
            _ = try moto.ec2(
                "run-instances", "--image-id", ami, "--instance-type", "t3.micro", "--subnet-id", subnetIds[n.subnet],
                "--private-ip-address", n.address, "--security-group-ids", sg)
        }
        var yaml = "nodes:\n"
        for n in nodes { yaml += "  - name: \(n.name)\n    address: \(n.address)\n    role: \(n.role.rawValue)\n" }
        let inventory = try moto.write("inventory-\(net).yaml", yaml)
        return MotoCluster(vpc: vpc, subnets: subnetIds, group: sg, nodes: nodes, inventory: inventory)
    }

    /// A new network ACL with `entries` (`--ingress|--egress`, rule, protocol, ports, cidr, action), associated with `subnet`.
    func customACL(_ moto: MotoServer, subnet: Int, entries: [[String]]) throws -> String {
        let acl = (try moto.ec2("create-network-acl", "--vpc-id", vpc)["NetworkAcl"] as! [String: Any])["NetworkAclId"] as! String
        for e in entries { try moto.ec2(["create-network-acl-entry", "--network-acl-id", acl] + e) }
        let acls =
            try moto.ec2("describe-network-acls", "--filters", "Name=association.subnet-id,Values=\(subnets[subnet])")["NetworkAcls"]
            as! [[String: Any]]
        let assoc =
            (acls[0]["Associations"] as! [[String: Any]]).first { $0["SubnetId"] as? String == subnets[subnet] }!["NetworkAclAssociationId"]
            as! String
        try moto.ec2("replace-network-acl-association", "--association-id", assoc, "--network-acl-id", acl)
        return acl
    }
}

extension MotoCluster {
    /// A load balancer's security group (EC2's default: every outbound allowed, nothing inbound) with a network
    /// interface in `subnet`, as an NLB or ALB has in each of its subnets; the group and the subnet's id.
    func loadBalancer(_ moto: MotoServer, subnet: Int, name: String) throws -> (group: String, subnet: String) {
        let sg = try moto.ec2("create-security-group", "--group-name", name, "--description", "load balancer", "--vpc-id", vpc)["GroupId"] as! String
        try moto.ec2("create-network-interface", "--subnet-id", subnets[subnet], "--groups", sg, "--description", "ELB \(name)")
        return (sg, subnets[subnet])
    }
}

struct AuditRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var results: Results
    var remediation: [String]
    var markdown: String
    /// `aws.published`: one object per port, client and node.
    var published: [[String: Any]] = []

    /// The published-port checks (`kind` `published`) of the results.
    var publishedChecks: [CheckResult] { results.checks.filter { $0.kind == "published" } }
}

func audit(_ moto: MotoServer, _ cluster: MotoCluster, extra: [String] = [], live: Bool = true) throws -> AuditRun {
    let json = moto.directory.appendingPathComponent("results-\(UUID().uuidString).json").path
    let report = moto.directory.appendingPathComponent("report-\(UUID().uuidString).md").path
    var args = ["aws", "audit", "--inventory", cluster.inventory, "--json", json, "--report", report, "--no-color"]
    if live { args += ["--endpoint-url", moto.endpoint, "--region", "us-east-1"] }
    let r = try moto.run(swarmprobeBinary(), args + extra)
    guard let data = FileManager.default.contents(atPath: json) else {
        throw MotoError(message: "swarmprobe aws audit wrote no JSON (exit \(r.status)): \(r.stderr)")
    }
    let results = try JSONDecoder().decode(Results.self, from: data)
    let top = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    let remediation = (top["aws"] as! [String: Any])["remediation"] as! [String]
    return AuditRun(
        status: r.status, stdout: r.stdout, stderr: r.stderr, results: results, remediation: remediation,
        markdown: (try? String(contentsOfFile: report, encoding: .utf8)) ?? "",
        published: (top["aws"] as! [String: Any])["published"] as? [[String: Any]] ?? [])
}

/// Every check against `expected(from, to, kind)`: verdict, where, and a piece of the detail when given.
func expectEvery(
    _ run: AuditRun, count: Int, sourceLocation: SourceLocation = #_sourceLocation,
    _ expected: (String, String, KindID) -> (Verdict, Where?, String?)
) {
    #expect(run.results.checks.count == count, sourceLocation: sourceLocation)
    for c in run.results.checks {
        let (v, w, detail) = expected(c.from, c.to, c.kindID)
        #expect(
            c.verdict == v && c.location == w,
            "\(c.from) -> \(c.to) \(c.kindID): expected \(v)/\(w?.rawValue ?? "-"), got \(c.verdict)/\(c.location?.rawValue ?? "-"): \(c.detail)",
            sourceLocation: sourceLocation)
        if let detail {
            #expect(c.detail.contains(detail), "\(c.from) -> \(c.to) \(c.kindID): \(c.detail)", sourceLocation: sourceLocation)
        }
    }
}

let encryptedProfile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("probes/swarm-encrypted.yaml").path

func threeNodes(_ net: Int) -> [MotoNode] {
    [
        MotoNode(name: "m1", role: .manager, subnet: 0, address: "10.\(net).1.11"),
        MotoNode(name: "w1", role: .worker, subnet: 0, address: "10.\(net).1.21"),
        MotoNode(name: "w2", role: .worker, subnet: 0, address: "10.\(net).1.22"),
    ]
}

let udp4789 = KindID(proto: .udp, port: 4789), udp7946 = KindID(proto: .udp, port: 7946)
let tcp2377 = KindID(proto: .tcp, port: 2377), tcp7946 = KindID(proto: .tcp, port: 7946), esp = KindID(proto: .esp, port: nil)

/// Default profile: 2377 is required only towards the manager m1.
func requiredDefault(_ from: String, _ to: String, _ k: KindID) -> Bool { k != tcp2377 || to == "m1" }

@Suite(.serialized, .enabled(if: motoUnavailable == nil, Comment(rawValue: motoUnavailable ?? "")))
struct AWSMotoTests {
    @Test func vxlanOpenedAsTCP() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let c = try MotoCluster.make(moto, net: 11, subnets: 1, nodes: threeNodes(11)) {
            MotoCluster.swarmRules($0, replace: ["udp4789": "IpProtocol=tcp,FromPort=4789,ToPort=4789"])
        }
        let run = try audit(moto, c)
        #expect(run.status == 1)
        expectEvery(run, count: 24) { _, _, k in
            k == udp4789
                ? (.blocked, .network, "no inbound rule of \(c.group) (swarm-11) allows UDP 4789 from 10.11.1.")
                : (.open, nil, "same subnet, no network ACL")
        }
        for ch in run.results.checks where ch.kindID == udp4789 {
            #expect(
                ch.detail.hasSuffix("; \(c.group) allows TCP 4789 from \(c.group) (VXLAN is UDP: a TCP rule for 4789 does not cover it (moby#25836))")
            )
        }
        let fix =
            "aws ec2 authorize-security-group-ingress --group-id \(c.group) --ip-permissions 'IpProtocol=udp,FromPort=4789,ToPort=4789,UserIdGroupPairs=[{GroupId=\(c.group)}]' --region us-east-1"
        #expect(run.remediation == [fix])
        #expect(run.stdout.contains("Remediation (nothing was changed in the account; these commands open every blocked path):\n  \(fix)\n"))
        #expect(run.markdown.contains("## Remediation\n") && run.markdown.contains("```sh\n\(fix)\n```"))

        for command in run.remediation { try moto.apply(command) }
        let fixed = try audit(moto, c)
        #expect(fixed.status == 0)
        expectEvery(fixed, count: 24) { _, _, _ in (.open, nil, nil) }
        #expect(fixed.remediation.isEmpty)
    }

    @Test func gossipUDPMissingAndAnUnmatchedNode() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        var nodes = threeNodes(12)
        nodes.append(MotoNode(name: "ghost", role: .worker, subnet: 0, address: "10.12.1.99", instance: false))
        let c = try MotoCluster.make(moto, net: 12, subnets: 1, nodes: nodes) { MotoCluster.swarmRules($0, skip: ["udp7946"]) }
        let run = try audit(moto, c)
        #expect(run.status == 1)
        expectEvery(run, count: 48) { from, to, k in
            if from == "ghost" || to == "ghost" {
                return (.inconclusive, nil, "ghost (10.12.1.99) matches no EC2 instance's private address; nothing is claimed about this path")
            }
            if k == udp7946 {
                return (.blocked, .network, "allows UDP 7946 from 10.12.1.")
            }
            return (.open, nil, nil)
        }
        for ch in run.results.checks where ch.kindID == udp7946 && ch.verdict == .blocked {
            #expect(
                ch.detail.hasSuffix("; \(c.group) allows TCP 7946 from \(c.group) (gossip needs UDP 7946 as well as TCP 7946 (docker/for-aws#166))"))
        }
        #expect(
            run.remediation == [
                "aws ec2 authorize-security-group-ingress --group-id \(c.group) --ip-permissions 'IpProtocol=udp,FromPort=7946,ToPort=7946,UserIdGroupPairs=[{GroupId=\(c.group)}]' --region us-east-1"
            ])
        #expect(
            run.stdout.contains("ghost (10.12.1.99): NOT FOUND: no EC2 instance in the describe-instances data has the private address 10.12.1.99"))
        for command in run.remediation { try moto.apply(command) }
        let fixed = try audit(moto, c)
        expectEvery(fixed, count: 48) { from, to, _ in from == "ghost" || to == "ghost" ? (.inconclusive, nil, nil) : (.open, nil, nil) }
    }

    @Test func espMissingOnAnEncryptedProfile() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let c = try MotoCluster.make(moto, net: 13, subnets: 1, nodes: threeNodes(13)) { MotoCluster.swarmRules($0) }
        let run = try audit(moto, c, extra: ["--swarm-profile", encryptedProfile])
        #expect(run.status == 1)
        expectEvery(run, count: 30) { _, _, k in
            k == esp ? (.blocked, .network, "allows ESP (IP protocol 50) from 10.13.1.") : (.open, nil, nil)
        }
        for ch in run.results.checks where ch.kindID == esp {
            #expect(ch.detail.hasSuffix("(ESP is IP protocol 50, not TCP or UDP: it needs a rule of its own (moby#27425))"))
        }
        let fix =
            "aws ec2 authorize-security-group-ingress --group-id \(c.group) --ip-permissions 'IpProtocol=50,FromPort=-1,ToPort=-1,UserIdGroupPairs=[{GroupId=\(c.group)}]' --region us-east-1"
        #expect(run.remediation == [fix])
        // Without the encrypted profile ESP is not checked: everything is open.
        let plain = try audit(moto, c)
        #expect(plain.status == 0)
        expectEvery(plain, count: 24) { _, _, _ in (.open, nil, nil) }

        for command in run.remediation { try moto.apply(command) }
        let fixed = try audit(moto, c, extra: ["--swarm-profile", encryptedProfile])
        #expect(fixed.status == 0)
        expectEvery(fixed, count: 30) { _, _, _ in (.open, nil, nil) }
    }

    /// A custom ACL on w1's subnet allows the swarm ports both ways, but not the TCP answers on ephemeral ports.
    @Test func naclWithoutEphemeralReturnRules() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let nodes = [
            MotoNode(name: "m1", role: .manager, subnet: 0, address: "10.14.1.11"),
            MotoNode(name: "w1", role: .worker, subnet: 1, address: "10.14.2.21"),
        ]
        let c = try MotoCluster.make(moto, net: 14, subnets: 2, nodes: nodes) { MotoCluster.swarmRules($0) }
        var entries: [[String]] = []
        for direction in ["--ingress", "--egress"] {
            for (n, proto, port) in [(100, "tcp", 2377), (110, "tcp", 7946), (120, "udp", 7946), (130, "udp", 4789)] {
                entries.append([
                    direction, "--rule-number", String(n), "--protocol", proto, "--port-range", "From=\(port),To=\(port)",
                    "--cidr-block", "10.14.0.0/16", "--rule-action", "allow",
                ])
            }
        }
        let acl = try c.customACL(moto, subnet: 1, entries: entries)
        let run = try audit(moto, c)
        #expect(run.status == 1)
        expectEvery(run, count: 8) { from, _, k in
            switch (k.proto, from) {
            case (.tcp, "m1"):
                return (
                    .blocked, .returnPath,
                    "\(acl) (\(c.subnets[1]) of w1) outbound to 10.14.1.11 (m1) denies TCP ports 1024-2376, 2378-7945, 7947-65535 by rule * of 1024-65535, the answers to m1's ephemeral ports"
                )
            case (.tcp, _):
                return (
                    .blocked, .returnPath,
                    "\(acl) (\(c.subnets[1]) of w1) inbound from 10.14.1.11 (m1) denies TCP ports 1024-2376, 2378-7945, 7947-65535 by rule * of 1024-65535, the answers to w1's ephemeral ports"
                )
            default:
                // UDP needs no answer; the probe echo note says `check` would see return-path on 4789.
                return (.open, nil, k == udp4789 ? "note: a swarmprobe probe's echo would be dropped" : "no answer is needed")
            }
        }
        // m1 -> w1 2377 is not required (w1 is a worker): information, no command for it.
        #expect(
            run.remediation == [
                "aws ec2 create-network-acl-entry --network-acl-id \(acl) --ingress --rule-number 140 --protocol tcp --port-range From=1024,To=65535 --cidr-block 10.14.1.11/32 --rule-action allow --region us-east-1",
                "aws ec2 create-network-acl-entry --network-acl-id \(acl) --egress --rule-number 140 --protocol tcp --port-range From=1024,To=65535 --cidr-block 10.14.1.11/32 --rule-action allow --region us-east-1",
            ])

        // The same data saved with the AWS CLI as a user would, read with --from-dir: the same checks.
        let dir = moto.directory.appendingPathComponent("saved").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for command in ["describe-instances", "describe-security-groups", "describe-network-acls", "describe-subnets"] {
            let out = try moto.run(which("aws")!, ["--endpoint-url", moto.endpoint, "--region", "us-east-1", "--output", "json", "ec2", command])
            try out.stdout.write(toFile: "\(dir)/\(command).json", atomically: true, encoding: .utf8)
        }
        let saved = try audit(moto, c, extra: ["--from-dir", dir], live: false)
        #expect(saved.status == 1)
        #expect(saved.results.checks == run.results.checks)
        #expect(saved.remediation == run.remediation.map { $0.replacingOccurrences(of: " --region us-east-1", with: "") })
        #expect(saved.stdout.contains("saved AWS data in \(dir)"))

        for command in run.remediation { try moto.apply(command) }
        let fixed = try audit(moto, c)
        #expect(fixed.status == 0)
        expectEvery(fixed, count: 8) { _, _, _ in (.open, nil, nil) }
    }

    /// Rule 90 denies VXLAN from m1 before rule 100 allows everything from the VPC.
    @Test func denyOrderedBeforeAllow() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let nodes = [
            MotoNode(name: "m1", role: .manager, subnet: 0, address: "10.15.1.11"),
            MotoNode(name: "w1", role: .worker, subnet: 1, address: "10.15.2.21"),
        ]
        let c = try MotoCluster.make(moto, net: 15, subnets: 2, nodes: nodes) { MotoCluster.swarmRules($0) }
        let acl = try c.customACL(
            moto, subnet: 1,
            entries: [
                ["--ingress", "--rule-number", "100", "--protocol", "-1", "--cidr-block", "10.15.0.0/16", "--rule-action", "allow"],
                [
                    "--ingress", "--rule-number", "90", "--protocol", "udp", "--port-range", "From=4789,To=4789", "--cidr-block", "10.15.1.11/32",
                    "--rule-action", "deny",
                ],
                ["--egress", "--rule-number", "100", "--protocol", "-1", "--cidr-block", "10.15.0.0/16", "--rule-action", "allow"],
            ])
        let run = try audit(moto, c)
        #expect(run.status == 1)
        expectEvery(run, count: 8) { from, _, k in
            if k == udp4789 && from == "m1" {
                return (.blocked, .network, "\(acl) (\(c.subnets[1]) of w1) inbound rule 90 denies UDP 4789 from 10.15.1.11 (m1)")
            }
            return (.open, nil, nil)
        }
        #expect(
            run.remediation == [
                "aws ec2 create-network-acl-entry --network-acl-id \(acl) --ingress --rule-number 89 --protocol udp --port-range From=4789,To=4789 --cidr-block 10.15.1.11/32 --rule-action allow --region us-east-1"
            ])
        for command in run.remediation { try moto.apply(command) }
        let fixed = try audit(moto, c)
        #expect(fixed.status == 0)
        expectEvery(fixed, count: 8) { _, _, _ in (.open, nil, nil) }
    }

    /// Every rule from the group itself, ESP included, nodes across two subnets with the default ACL: all open.
    @Test func selfReferencingGroupWorks() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let nodes = [
            MotoNode(name: "m1", role: .manager, subnet: 0, address: "10.16.1.11"),
            MotoNode(name: "m2", role: .manager, subnet: 1, address: "10.16.2.12"),
            MotoNode(name: "w1", role: .worker, subnet: 1, address: "10.16.2.21"),
        ]
        let c = try MotoCluster.make(moto, net: 16, subnets: 2, nodes: nodes) { MotoCluster.swarmRules($0, esp: true) }
        let run = try audit(moto, c, extra: ["--swarm-profile", encryptedProfile])
        #expect(run.status == 0, "\(run.stderr)")
        expectEvery(run, count: 30) { from, to, k in
            if k == tcp2377 && to == "w1" { return (.open, nil, nil) }  // not required, open anyway
            let viaGroup = "\(c.group) inbound \(k == esp ? "ESP" : "\(k.proto.rawValue.uppercased()) \(k.port!)") from \(c.group)"
            return (.open, nil, viaGroup)
        }
        #expect(run.remediation.isEmpty)
        #expect(run.stdout.contains("Remediation: nothing to change"))
        #expect(run.stdout.hasSuffix("PASS: all 28 required paths open\n"))
    }

    @Test func awsCLIFailureIsOneLineAndExit2() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let endpoint = moto.endpoint
        let inv = try moto.write("inv.yaml", "nodes:\n  - name: m1\n    address: 10.17.1.11\n    role: manager\n")
        moto.stop()  // nothing listens there any more
        let r = try moto.run(swarmprobeBinary(), ["aws", "audit", "--inventory", inv, "--endpoint-url", endpoint, "--region", "us-east-1"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("swarmprobe: aws ec2 describe-instances: failed (exit "))
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }

    // MARK: - Published ports (`--published`, `--clients`)

    /// A published port the nodes' security group does not open at all: every node refuses the load balancer.
    @Test func publishedPortMissingFromTheSecurityGroup() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let c = try MotoCluster.make(moto, net: 21, subnets: 2, nodes: threeNodes(21)) { MotoCluster.swarmRules($0) }
        let (lb, lbSubnet) = try c.loadBalancer(moto, subnet: 1, name: "lb-21")
        let saved = moto.directory.appendingPathComponent("saved-21").path
        let run = try audit(moto, c, extra: ["--published", "8080/tcp", "--clients", lb, "--save-dir", saved])
        #expect(run.status == 1, "\(run.stderr)")
        expectEvery(run, count: 27) { _, _, k in
            k == KindID(proto: .tcp, port: 8080)
                ? (.blocked, .network, "TCP 8080 is not open at all in ") : (.open, nil, nil)
        }
        for ch in run.publishedChecks {
            #expect(ch.from == lb && ch.reason == .awsDenied)
            #expect(
                ch.detail
                    == "\(ch.to) does not admit 8080/tcp from \(lb): TCP 8080 is not open at all in \(ch.to)'s security groups \(c.group) (swarm-21): no inbound rule allows it from any source, so the client group \(lb) (lb-21) cannot reach the published port"
            )
        }
        #expect(run.published.map { $0["causes"] as? [String] } == Array(repeating: ["port-not-in-security-groups"], count: 3))
        let fix =
            "aws ec2 authorize-security-group-ingress --group-id \(c.group) --ip-permissions 'IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{GroupId=\(lb)}]' --region us-east-1"
        #expect(run.remediation == [fix])
        #expect(
            run.stdout.contains(
                "  \(lb) (lb-21): network ACLs evaluated for 10.21.2.0/24, the subnet of \(lb)'s network interfaces (\(lbSubnet))\n"
                    + "  8080/tcp from \(lb): admitted by 0 of 3 nodes\n    m1 (10.21.1.11): NOT ADMITTED: m1 does not admit 8080/tcp"),
            "\(run.stdout)")
        #expect(run.stdout.hasSuffix("FAIL: 3 of 23 required paths not open\n"), "\(run.stdout)")
        #expect(run.markdown.contains("**FAIL: 3 of 23 required paths not open**"))
        #expect(run.markdown.contains("| 8080/tcp | \(lb) | w2 (10.21.1.22) | NOT ADMITTED (`port-not-in-security-groups`) |"))

        // The files --save-dir wrote (the group's interfaces and the VPC included) give the same checks.
        let fromDir = try audit(moto, c, extra: ["--published", "8080/tcp", "--clients", lb, "--from-dir", saved], live: false)
        #expect(fromDir.results.checks == run.results.checks)

        for command in run.remediation { try moto.apply(command) }
        let fixed = try audit(moto, c, extra: ["--published", "8080/tcp", "--clients", lb])
        #expect(fixed.status == 0, "\(fixed.stdout)")
        expectEvery(fixed, count: 27) { _, _, _ in (.open, nil, nil) }
        #expect(fixed.publishedChecks.allSatisfy { $0.detail.contains("\(c.group) inbound TCP 8080 from \(lb)") })
        #expect(fixed.remediation.isEmpty)
    }

    /// The port is open, but from an admin group, not from the load balancer's. (The admin group is named by its
    /// id: the audit describes the nodes' and the clients' groups only.)
    @Test func publishedPortAllowedOnlyFromTheWrongGroup() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let c = try MotoCluster.make(moto, net: 22, subnets: 2, nodes: threeNodes(22)) { MotoCluster.swarmRules($0) }
        let (lb, _) = try c.loadBalancer(moto, subnet: 1, name: "lb-22")
        let admin =
            try moto.ec2("create-security-group", "--group-name", "admin-22", "--description", "admins", "--vpc-id", c.vpc)["GroupId"] as! String
        try moto.ec2(
            "authorize-security-group-ingress", "--group-id", c.group, "--ip-permissions",
            "IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{GroupId=\(admin)}]")
        let run = try audit(moto, c, extra: ["--published", "8080/tcp", "--clients", lb])
        #expect(run.status == 1)
        #expect(run.publishedChecks.count == 3)
        for ch in run.publishedChecks {
            #expect(ch.verdict == .blocked && ch.location == .network)
            #expect(
                ch.detail
                    == "\(ch.to) does not admit 8080/tcp from \(lb): \(c.group) (swarm-22) allows TCP 8080 only from \(admin): the client group \(lb) (lb-22) is not one of them"
            )
        }
        #expect(run.published.map { $0["causes"] as? [String] } == Array(repeating: ["allowed-from-other-source"], count: 3))
        let fix =
            "aws ec2 authorize-security-group-ingress --group-id \(c.group) --ip-permissions 'IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{GroupId=\(lb)}]' --region us-east-1"
        #expect(run.remediation == [fix])

        for command in run.remediation { try moto.apply(command) }
        let fixed = try audit(moto, c, extra: ["--published", "8080/tcp", "--clients", lb])
        #expect(fixed.status == 0)
        #expect(fixed.publishedChecks.count == 3 && fixed.publishedChecks.allSatisfy { $0.verdict == .open })
    }

    /// The nodes' subnet ACL lets 8080 in and mirrors it outbound, but not the answers to the ephemeral ports.
    @Test func publishedPortWithoutTheNACLReturnPath() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let c = try MotoCluster.make(moto, net: 23, subnets: 2, nodes: threeNodes(23)) { MotoCluster.swarmRules($0) }
        let (lb, _) = try c.loadBalancer(moto, subnet: 1, name: "lb-23")
        try moto.ec2(
            "authorize-security-group-ingress", "--group-id", c.group, "--ip-permissions",
            "IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{GroupId=\(lb)}]")
        let acl = try c.customACL(
            moto, subnet: 0,
            entries: [
                ["--ingress", "--rule-number", "100", "--protocol", "-1", "--cidr-block", "10.23.0.0/16", "--rule-action", "allow"],
                [
                    "--egress", "--rule-number", "100", "--protocol", "tcp", "--port-range", "From=8080,To=8080", "--cidr-block", "10.23.0.0/16",
                    "--rule-action", "allow",
                ],
            ])
        let run = try audit(moto, c, extra: ["--published", "8080/tcp", "--clients", lb])
        #expect(run.status == 1)
        #expect(run.publishedChecks.count == 3)
        for ch in run.publishedChecks {
            #expect(ch.verdict == .blocked && ch.location == .returnPath && ch.reason == .awsReturnDenied)
            #expect(
                ch.detail
                    == "\(ch.to) gets 8080/tcp from \(lb), but its answers are dropped (network ACLs are stateless): \(acl) (\(c.subnets[0]) of \(ch.to)) outbound to 10.23.2.0/24 (assumed for \(lb): a subnet of its network interfaces) denies TCP ports 1024-8079, 8081-65535 by rule * of 1024-65535, the answers to the clients' ephemeral ports (allowed: 8080 by rule 100)"
            )
        }
        #expect(run.published.map { $0["causes"] as? [String] } == Array(repeating: ["nacl-return-denied"], count: 3))
        #expect(
            run.remediation == [
                "aws ec2 create-network-acl-entry --network-acl-id \(acl) --egress --rule-number 110 --protocol tcp --port-range From=1024,To=65535 --cidr-block 10.23.2.0/24 --rule-action allow --region us-east-1"
            ])

        for command in run.remediation { try moto.apply(command) }
        let fixed = try audit(moto, c, extra: ["--published", "8080/tcp", "--clients", lb])
        #expect(fixed.status == 0, "\(fixed.stdout)")
        #expect(fixed.publishedChecks.count == 3 && fixed.publishedChecks.allSatisfy { $0.verdict == .open })
        #expect(fixed.publishedChecks.allSatisfy { $0.detail.contains("answers: \(acl) outbound rule 100, 110") })
    }

    /// Bad `--published`/`--clients` values: one line naming the flag, exit 2, before anything is read.
    @Test(arguments: [
        (["--published", "8080"], "swarmprobe: --published: \"8080\" is not a published port (PORT/tcp or PORT/udp, e.g. 8080/tcp)"),
        (
            ["--published", "8080/tcp", "--clients", "nonsense"],
            "swarmprobe: --clients: `nonsense` is neither a CIDR (203.0.113.0/24) nor a security group id (sg-0123abcd)"
        ),
        (["--clients", "sg-0abc"], "swarmprobe: --clients: needs --published PORT/PROTO (the published ports the clients reach, 8080/tcp)"),
        (
            ["--published", "8080/tcp"],
            "swarmprobe: --published: needs --clients CIDR|sg-ID (who reaches the published ports: a load balancer's group or CIDRs)"
        ),
    ])
    func publishedFlagErrors(_ args: [String], _ message: String) throws {
        let r = try Program.capture([swarmprobeBinary(), "aws", "audit", "--inventory", "/nonexistent/inventory.yaml"] + args)
        #expect(r.status == 2)
        #expect(r.stderr == message + "\n")
        #expect(r.stdout.isEmpty)
    }

    /// `check --aws`: probes in a namespace lab next to moto's configuration of the same addresses.
    /// The probes find 4789/udp blocked everywhere and a silent host-firewall drop; AWS names the missing
    /// security group rule for the first and allows the second, which the check then says is not in AWS.
    @Test(.enabled(if: labUnavailable == nil, Comment(rawValue: labUnavailable ?? "")))
    func checkWithAWS() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let names: [(String, Role)] = [("m1", .manager), ("w1", .worker), ("w2", .worker)]
        let lab = try Lab(nodes: names.map { (name: $0.0, role: $0.1) })
        defer { lab.destroy() }
        let nodes = lab.nodes.map { MotoNode(name: $0.name, role: $0.role, subnet: 0, address: $0.address.description) }
        let cluster = try MotoCluster.make(moto, net: 0, subnets: 1, nodes: nodes, prefix: "198.18") {
            MotoCluster.swarmRules($0, skip: ["udp4789"])
        }
        // What a user without AWS access where the check runs does: save the configuration, check with it.
        let saved = moto.directory.appendingPathComponent("saved").path
        let save = try moto.run(
            swarmprobeBinary(),
            [
                "aws", "audit", "--inventory", cluster.inventory, "--endpoint-url", moto.endpoint,
                "--region", "us-east-1", "--save-dir", saved, "--quiet",
            ])
        #expect(save.status == 1, "\(save.stderr)")

        let token = try lab.write("token", ClusterToken.generate() + "\n")
        try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token)
        let vxlan = KindID(proto: .udp, port: 4789), gossip = KindID(proto: .tcp, port: 7946)
        for a in names.map(\.0) { for b in names.map(\.0) where a != b { try lab.inject(.networkDrop(from: a, to: b, kind: vxlan)) } }
        try lab.inject(.hostFirewall(node: "w2", from: "m1", kind: gossip, reject: false))

        let run = try runCheck(lab, token: token, extra: ["--aws", "--aws-from-dir", saved])
        #expect(run.status == 1)
        for c in run.results.checks {
            if c.kindID == vxlan {
                #expect(c.verdict == .blocked && c.location == .network, "\(c.from) -> \(c.to): \(c.detail)")
                #expect(c.detail.contains("AWS agrees") && c.detail.contains(cluster.group), "\(c.detail)")
            } else if c.from == "m1" && c.to == "w2" && c.kindID == gossip {
                #expect(c.verdict == .blocked && c.location == .hostFirewall, "\(c.detail)")
                #expect(c.detail.contains("not in AWS's configuration"), "\(c.detail)")
            } else {
                #expect(c.verdict == .open, "\(c.from) -> \(c.to) \(c.kindID): \(c.detail)")
            }
        }
        // The AWS remediation is in the report: the missing rule, from the cluster's own group.
        #expect(run.markdown.contains("aws ec2 authorize-security-group-ingress --group-id \(cluster.group)"), "\(run.markdown)")
        #expect(run.markdown.contains("IpProtocol=udp,FromPort=4789,ToPort=4789"))
    }

    /// `check --aws --published`: the probes find 8080/tcp never reaching w1; the security groups, which admit it
    /// from nowhere, name the missing rule for the node's finding, with the command that admits it from the
    /// host the check ran on.
    @Test(.enabled(if: labUnavailable == nil, Comment(rawValue: labUnavailable ?? "")))
    func checkWithAWSPublished() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let names: [(String, Role)] = [("m1", .manager), ("w1", .worker)]
        let lab = try Lab(nodes: names.map { (name: $0.0, role: $0.1) })
        defer { lab.destroy() }
        let nodes = lab.nodes.map { MotoNode(name: $0.name, role: $0.role, subnet: 0, address: $0.address.description) }
        let cluster = try MotoCluster.make(moto, net: 0, subnets: 1, nodes: nodes, prefix: "198.18") { MotoCluster.swarmRules($0) }
        let saved = moto.directory.appendingPathComponent("saved").path
        let save = try moto.run(
            swarmprobeBinary(),
            [
                "aws", "audit", "--inventory", cluster.inventory, "--endpoint-url", moto.endpoint, "--region", "us-east-1", "--save-dir", saved,
                "--quiet",
            ])
        #expect(save.status == 0, "\(save.stderr)")

        let token = try lab.write("token", ClusterToken.generate() + "\n")
        try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token, extraArguments: ["--published", "8080/tcp"])
        let web = KindID(proto: .tcp, port: 8080)
        try lab.inject(.networkDrop(from: Lab.coordinator, to: "w1", kind: web))

        let run = try runCheck(
            lab, token: token, extra: ["--aws", "--aws-from-dir", saved, "--published", "8080/tcp", "--client-name", Lab.coordinator])
        #expect(run.status == 1, "\(run.stderr)")
        let w1 = run.results.checks.first { $0.published != nil && $0.to == "w1" }
        #expect(w1?.verdict == .blocked && w1?.location == .network, "\(String(describing: w1))")
        let finding = try #require(run.results.nodeFindings.first { $0.node == "w1" && $0.port == web }, "\(run.results.nodeFindings)")
        #expect(finding.code == "published-port-network")
        #expect(finding.detail.contains(cluster.group), "\(finding.detail)")
        #expect(
            finding.fix?.contains(
                "aws ec2 authorize-security-group-ingress --group-id \(cluster.group) --ip-permissions 'IpProtocol=tcp,FromPort=8080,ToPort=8080,IpRanges=[{CidrIp=198.18.0.1/32}]'"
            ) == true, "\(finding.fix ?? "no fix")")
    }

}
