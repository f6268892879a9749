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
            --save-dir DIR writes exactly these files from a live run.

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

    /// `--json` here also carries the top-level `aws` field.
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if fromDir != nil && (endpointURL != nil || saveDir != nil) {
            throw ValidationError("--from-dir reads saved files: it cannot be combined with \(endpointURL != nil ? "--endpoint-url" : "--save-dir")")
        }
    }

    /// The account's configuration for the inventory: saved files, or the user's own AWS CLI.
    static func snapshot(
        _ inv: Inventory, fromDir: String?, region: String?, profile: String?, endpointURL: String?,
        saving: ([String: Data]) throws -> Void = { _ in }
    ) async throws -> AWSSnapshot {
        if let fromDir { return try AWSSnapshot.load(directory: fromDir) }
        progressLine("reading instances, security groups, subnets and network ACLs with the AWS CLI ...")
        let cli = AWSCLI(region: region, profile: profile, endpointURL: endpointURL)
        let addresses = inv.nodes.map(\.address)
        let fetched = try await Task.detached { () throws(InputError) -> AWSCLI.Fetched in
            try cli.snapshot(addresses: addresses)
        }.value
        try saving(fetched.documents)
        return fetched.snapshot
    }

    func run() async throws {
        let started = Date()
        let inv = try Inventory.parse(try readInputFile(inventory, what: "inventory"), source: inventory)
        let prof = try loadProfile(path: swarmProfile, dataPathPort: dataPathPort)
        let snapshot = try await Self.snapshot(inv, fromDir: fromDir, region: region, profile: profile, endpointURL: endpointURL) { documents in
            if let saveDir { try save(documents, to: saveDir) }
        }
        let audit = AWSAudit.evaluate(
            inventory: inv, profile: prof, snapshot: snapshot,
            style: AWSCommandStyle(region: region, profile: profile))
        let startedAt = ISO8601DateFormatter().string(from: started)
        let results = audit.results(startedAt: startedAt, durationMs: Int(Date().timeIntervalSince(started) * 1000))

        try output.emit(
            json: AWSAuditReport.json(results: JSONReport.render(results), audit: audit),
            report: markdown(results, audit)
        ) { color in terminal(results, audit, color: color) }
        if results.exitCode != 0 { throw ExitCode(results.exitCode) }
    }

    private func source() -> String {
        if let fromDir { return "saved AWS data in \(fromDir)" }
        var s = "the AWS CLI"
        if let region { s += ", region \(region)" }
        if let profile { s += ", profile \(profile)" }
        return s
    }

    /// `check`'s terminal report with the audit's header, then the AWS resources and remediation before the verdict line.
    private func terminal(_ r: Results, _ a: AWSAuditResult, color: Bool) -> String {
        var lines = TerminalReport.render(r, color: color).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let verdict = lines.popLast() ?? ""
        if !lines.isEmpty {
            lines[0] =
                "swarmprobe \(r.toolVersion) aws audit: profile \(r.profile), \(a.nodes.count) nodes, \(r.checks.count) checks "
                + "from the security groups and network ACLs (\(source()); no packet sent)"
        }
        return (lines + AWSAuditReport.terminal(a).split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [verdict])
            .joined(separator: "\n") + "\n"
    }

    private func markdown(_ r: Results, _ a: AWSAuditResult) -> String {
        var text = MarkdownReport.render(r)
        text = text.replacingOccurrences(of: "# swarmprobe connectivity report\n", with: "# swarmprobe AWS audit report\n")
        let sourceLine = "- Source: security groups and network ACLs read from \(source()); no packet was sent"
        text = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("- Probe timeout: ") ? sourceLine : String($0) }
            .joined(separator: "\n")
        return text + AWSAuditReport.markdown(a)
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
