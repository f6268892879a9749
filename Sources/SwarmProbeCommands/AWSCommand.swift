import ArgumentParser
import Foundation
import SwarmProbeAWS
import SwarmProbeAgentCLI
import SwarmProbeCore
import SwarmProbeReport

struct AWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws",
        abstract: "Check what AWS security groups and network ACLs do to the swarm's traffic.",
        subcommands: [AWSAuditCommand.self]
    )
}

struct AWSAuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Evaluate every node pair and traffic kind against the security groups and network ACLs, as AWS does.",
        discussion: """
            Reads the instances holding the inventory's addresses, their security groups, the managed prefix lists \
            those reference, their subnets and their VPCs' network ACLs with the AWS CLI (read-only describe-* and \
            get-* calls; your credentials, profile, SSO session and region work as for `aws` itself), and decides every \
            check as AWS would: security groups (stateful) and network ACLs (stateless, rule-number order, the answers \
            of TCP on the ephemeral ports 1024-65535). Nothing in the account is changed; the report ends with the \
            exact commands that would open each blocked path.

            Where the AWS CLI cannot run, save its output and use --from-dir DIR. The files, each the JSON of \
            `aws ec2 <command> --output json`:
              DIR/describe-instances.json        (describe-instances)
              DIR/describe-security-groups.json  (describe-security-groups)
              DIR/describe-network-acls.json     (describe-network-acls)
              DIR/describe-subnets.json          (describe-subnets)
              DIR/get-managed-prefix-list-entries-<pl-id>.json   (optional, one per prefix list a rule references)
              DIR/describe-network-interfaces.json  (optional; with --clients sg-...: the group's interfaces)
              DIR/describe-vpcs.json              (optional; with --clients sg-...: the VPC CIDR fallback)
            --save-dir DIR writes exactly these files from a live run.

            Published ports (the routing mesh): --published 8080/tcp[,PORT/PROTO...] --clients CIDR|sg-ID[,...] also \
            checks that every node admits each port from the clients (a load balancer's security group, or CIDRs): the \
            node's security groups inbound, the network ACL of its subnet inbound on the port and outbound to the \
            clients' ephemeral ports 1024-65535 (ACLs are stateless), and a client group's own outbound rules. ACL \
            rules are CIDRs: for a group, the subnets of its network interfaces (else its VPC's CIDR) are assumed, \
            and the output says which.

            The results JSON (--json) is swarmprobe.results/v1 like `check`, plus a top-level field `aws`: nodes \
            (instance, subnet, groups, ACL per node), paths (per check: every layer's decision and the deciding group \
            or rule) and remediation (every suggested command once). Exit code: 0 every required path open, \
            1 a required path is not open, 2 bad input or an AWS CLI failure.
            """
    )

    @Option(help: ArgumentHelp("Inventory YAML: `nodes:` with name, address (the instance's private address), role.", valueName: "file"))
    var inventory: String

    @Option(help: ArgumentHelp("AWS region (passed to the AWS CLI).", valueName: "region"))
    var region: String?

    @Option(help: ArgumentHelp("AWS CLI profile (passed to the AWS CLI).", valueName: "profile"))
    var profile: String?

    @Option(help: ArgumentHelp("EC2 endpoint (passed to the AWS CLI), e.g. a local test server.", valueName: "url"))
    var endpointURL: String?

    @Option(help: ArgumentHelp("Read saved `aws ec2 describe-*` JSON files from this directory instead of running the AWS CLI.", valueName: "dir"))
    var fromDir: String?

    @Option(help: ArgumentHelp("Save the AWS CLI's JSON here, in the files --from-dir reads.", valueName: "dir"))
    var saveDir: String?

    @Option(
        help: ArgumentHelp(
            "swarmprobe profile YAML (default: the built-in probes/swarm.yaml; probes/swarm-encrypted.yaml adds ESP).", valueName: "file"))
    var swarmProfile: String?

    @Option(help: ArgumentHelp("The VXLAN port the swarm was created with (`docker swarm init --data-path-port`).", valueName: "port"))
    var dataPathPort: Int?

    @Option(
        help: ArgumentHelp(
            "Published ports to check on every node from --clients: 8080/tcp[,443/tcp,...] (repeatable).", valueName: "port/proto,..."))
    var published: [String] = []

    @Option(
        help: ArgumentHelp(
            "Who reaches the published ports: the load balancer's security group (sg-...) or CIDRs, comma-separated (repeatable).",
            valueName: "cidr|sg-id,..."))
    var clients: [String] = []

    /// `--json` here also carries the top-level `aws` field.
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if fromDir != nil && (endpointURL != nil || saveDir != nil) {
            throw ValidationError("--from-dir reads saved files: it cannot be combined with \(endpointURL != nil ? "--endpoint-url" : "--save-dir")")
        }
    }

    /// The account's configuration for the inventory: saved files, or the user's own AWS CLI.
    static func snapshot(
        _ inv: Inventory, fromDir: String?, region: String?, profile: String?, endpointURL: String?, clientGroups: [String] = [],
        saving: ([String: Data]) throws -> Void = { _ in }
    ) async throws -> AWSSnapshot {
        if let fromDir { return try AWSSnapshot.load(directory: fromDir) }
        progressLine("reading instances, security groups, subnets and network ACLs with the AWS CLI ...")
        let cli = AWSCLI(region: region, profile: profile, endpointURL: endpointURL)
        let addresses = inv.nodes.map(\.address)
        let fetched = try await Task.detached { () throws(InputError) -> AWSCLI.Fetched in
            try cli.snapshot(addresses: addresses, clientGroups: clientGroups)
        }.value
        try saving(fetched.documents)
        return fetched.snapshot
    }

    /// `--published` and `--clients`, each value checked; one needs the other.
    func publishedPorts() throws(InputError) -> (ports: [PublishedPort], clients: [AWSClients]) {
        if published.isEmpty && clients.isEmpty { return ([], []) }
        if published.isEmpty {
            throw InputError(source: "--clients", "needs --published PORT/PROTO (the published ports the clients reach, 8080/tcp)")
        }
        // One list, as `check --published` takes it (the option may be repeated here).
        let ports = try PublishedTarget.parsePorts(published.joined(separator: ","), source: "--published")
        if clients.isEmpty {
            throw InputError(source: "--published", "needs --clients CIDR|sg-ID (who reaches the published ports: a load balancer's group or CIDRs)")
        }
        return (ports, try AWSClients.parse(clients))
    }

    func run() async throws {
        let started = Date()
        let (ports, clientList) = try publishedPorts()
        let inv = try Inventory.parse(try readInputFile(inventory, what: "inventory"), source: inventory)
        let prof = try loadProfile(path: swarmProfile, dataPathPort: dataPathPort)
        let clientGroups = clientList.compactMap { c -> String? in
            if case let .group(g) = c { return g }
            return nil
        }
        let snapshot = try await Self.snapshot(
            inv, fromDir: fromDir, region: region, profile: profile, endpointURL: endpointURL, clientGroups: clientGroups
        ) { documents in
            if let saveDir { try save(documents, to: saveDir) }
        }
        let audit = AWSAudit.evaluate(
            inventory: inv, profile: prof, snapshot: snapshot, published: ports, clients: clientList,
            style: AWSCommandStyle(region: region, profile: profile))
        let startedAt = ISO8601DateFormatter().string(from: started)
        let durationMs = Int(Date().timeIntervalSince(started) * 1000)
        // Published ports count in the summary and the exit code; the matrices stay node by node.
        let results = audit.results(startedAt: startedAt, durationMs: durationMs)
        let matrices = audit.results(startedAt: startedAt, durationMs: durationMs, includingPublished: false)

        try output.emit(
            json: AWSAuditReport.json(results: JSONReport.render(results), audit: audit),
            report: markdown(matrices, results, audit)
        ) { color in terminal(matrices, results, audit, color: color) }
        if results.exitCode != 0 { throw ExitCode(results.exitCode) }
    }

    private func source() -> String {
        if let fromDir { return "saved AWS data in \(fromDir)" }
        var s = "the AWS CLI"
        if let region { s += ", region \(region)" }
        if let profile { s += ", profile \(profile)" }
        return s
    }

    /// `check`'s terminal report (of the paths between nodes) with the audit's header, then the AWS resources, the
    /// published ports and remediation, then the verdict line of every check, published ports included.
    private func terminal(_ r: Results, _ all: Results, _ a: AWSAuditResult, color: Bool) -> String {
        func lines(_ r: Results) -> [String] {
            var lines = TerminalReport.render(r, color: color).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            return lines
        }
        var body = lines(r)
        if !body.isEmpty { body.removeLast() }
        let verdict = lines(all).last ?? ""
        if !body.isEmpty {
            let published = a.published.isEmpty ? "" : " and \(a.published.count) published-port checks"
            body[0] =
                "swarmprobe \(r.toolVersion) aws audit: profile \(r.profile), \(a.nodes.count) nodes, \(r.checks.count) checks\(published) "
                + "from the security groups and network ACLs (\(source()); no packet sent)"
        }
        return (body + AWSAuditReport.terminal(a).split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [verdict])
            .joined(separator: "\n") + "\n"
    }

    /// The markdown report of the paths between nodes, its headline that of every check (published ports included).
    private func markdown(_ r: Results, _ all: Results, _ a: AWSAuditResult) -> String {
        var text = MarkdownReport.render(r)
        if !a.published.isEmpty, let mine = headline(text), let theirs = headline(MarkdownReport.render(all)) {
            text = text.replacingOccurrences(of: mine, with: theirs)
        }
        text = text.replacingOccurrences(of: "# swarmprobe connectivity report\n", with: "# swarmprobe AWS audit report\n")
        let sourceLine = "- Source: security groups and network ACLs read from \(source()); no packet was sent"
        text = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("- Probe timeout: ") ? sourceLine : String($0) }
            .joined(separator: "\n")
        return text + AWSAuditReport.markdown(a)
    }

    /// The report's first bold line: the verdict and the counts.
    private func headline(_ markdown: String) -> String? {
        markdown.split(separator: "\n").first { $0.hasPrefix("**") }.map { String($0) + "\n" }
    }

    private func save(_ documents: [String: Data], to dir: String) throws(InputError) {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (name, data) in documents {
                try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
            }
        } catch {
            throw InputError(source: dir, "--save-dir: cannot write the AWS data (\(error.localizedDescription))")
        }
    }
}
