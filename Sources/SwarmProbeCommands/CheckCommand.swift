import ArgumentParser
import Foundation
import Logging
import SwarmProbeAWS
import SwarmProbeAgent
import SwarmProbeAgentCLI
import SwarmProbeCoordinator
import SwarmProbeCore
import SwarmProbeDeploy
import SwarmProbeReport

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Have every agent probe every other node on every traffic kind, and report.",
        discussion: """
            Prints a matrix per traffic kind and the findings. Exit code: 0 every required path open, \
            1 a required path is not open (or the check was interrupted), 2 bad input.
            """
    )

    @Option(help: ArgumentHelp("Inventory YAML: `nodes:` with name, address, role, optional control.", valueName: "file"))
    var inventory: String?

    @Flag(help: "Discover the nodes from the local Docker Engine API (run on a manager) instead of an inventory.")
    var docker = false

    @Option(
        help: ArgumentHelp(
            "With --docker: the manager's Docker API (unix:///path, tcp://host:port; default $DOCKER_HOST or the local socket).", valueName: "url"))
    var dockerHost: String?

    @Option(help: ArgumentHelp("File holding the cluster token (not with --ssh or --swarm, which make one for the run).", valueName: "file"))
    var tokenFile: String?

    @Flag(help: "Put an agent on every node over SSH for this check, and take it off again afterwards (before `docker swarm init`).")
    var ssh = false

    @Option(
        name: .customLong("ssh-option"),
        help: ArgumentHelp("With --ssh: an ssh `-o` option (repeatable), e.g. ProxyJump=bastion.", valueName: "option"))
    var sshOptions: [String] = []

    @Option(help: ArgumentHelp("With --ssh: the swarmprobe-agent to upload (default: the one beside swarmprobe).", valueName: "path"))
    var agentBinary: String?

    @Flag(help: "On a live swarm: run the agents as a global service for this check, and remove it afterwards (on a manager, or with --docker-host).")
    var swarm = false

    @Option(help: ArgumentHelp("With --swarm: the agent image every node has (see scripts/image.sh).", valueName: "ref"))
    var image: String = "swarmprobe-agent:\(SwarmProbeVersion.current)"

    @Option(help: ArgumentHelp("Profile YAML (default: the built-in probes/swarm.yaml).", valueName: "file"))
    var profile: String?

    @Option(help: ArgumentHelp("The VXLAN port the swarm was created with (`docker swarm init --data-path-port`).", valueName: "port"))
    var dataPathPort: Int?

    @Option(
        help: ArgumentHelp(
            "How long a probe may go unanswered: `auto` (per path, 4 x the measured round trip, at least 16 ms per peer within 200-500 ms (500 ms from a node without a capture tap), at most 5 s) or a duration (2s, 1500ms).",
            valueName: "auto|duration"))
    var timeout: TimeoutArgument = TimeoutArgument(.auto)

    @Option(
        help: ArgumentHelp(
            "Tries per probe (UDP/ESP datagrams, TCP connections) spread over the timeout, stopping at the first answer (1-10).", valueName: "n"))
    var attempts: Int = ProbeTiming.defaultAttempts

    @Option(
        help: ArgumentHelp(
            "Also probe published ports on every node from this host, standing for the clients and the load balancer: PORT/PROTO,... before the service exists (the agents listen on them: start them with the same --published), or `auto` for the live services' ports (read anyway with --docker or --swarm).",
            valueName: "ports|auto"))
    var published: String?

    @Option(help: ArgumentHelp("How the reports name this host when it probes published ports (default: its host name).", valueName: "name"))
    var clientName: String?

    @Option(
        help: ArgumentHelp(
            "The overlay networks' MTU as containers see it (Docker's default: 1450, or 1424 when encrypted; either needs 1500-byte packets): every data path must carry it plus VXLAN's 50 bytes (and ESP's 26 when the profile is encrypted). Not given: 1500-byte packets, or with --docker or --swarm what the overlay networks need. `off`: no path MTU measurement.",
            valueName: "bytes|off"))
    var overlayMTU: String?

    @OptionGroup var output: OutputOptions

    @Flag(help: "Also audit the AWS security groups and network ACLs of the nodes, and put the rule behind each finding beside it.")
    var aws = false

    @Option(help: ArgumentHelp("With --aws: the AWS region.", valueName: "region"))
    var awsRegion: String?

    @Option(help: ArgumentHelp("With --aws: the AWS CLI profile.", valueName: "name"))
    var awsProfile: String?

    @Option(help: ArgumentHelp("With --aws: the EC2 endpoint (for a test endpoint).", valueName: "url"))
    var awsEndpointUrl: String?

    @Option(
        help: ArgumentHelp(
            "With --aws and published ports: whom the rules must admit them from, CIDR or sg-ID (the load balancer's group; default: this host's address).",
            valueName: "cidr|sg-id,..."))
    var clients: String?

    @Option(
        help: ArgumentHelp(
            "With --aws: read saved `aws ec2 describe-*` JSON from here instead (see `swarmprobe aws audit --help`).", valueName: "dir"))
    var awsFromDir: String?

    func validate() throws {
        if swarm {
            if inventory != nil || ssh { throw ValidationError("--swarm discovers the nodes from the swarm: leave out --inventory and --ssh") }
            if tokenFile != nil { throw ValidationError("--token-file: a --swarm check makes a token for the run; leave it out") }
        } else if image != "swarmprobe-agent:\(SwarmProbeVersion.current)" {
            throw ValidationError("--image needs --swarm")
        }
        guard swarm || (inventory != nil) != (docker || dockerHost != nil) else {
            throw ValidationError(
                inventory == nil
                    ? "--inventory: give an inventory file, or --docker to discover the nodes"
                    : "--inventory and --docker: give one or the other")
        }
        if ssh && docker || ssh && dockerHost != nil {
            throw ValidationError("--ssh and --docker: give one or the other (--ssh needs an inventory)")
        }
        if ssh && tokenFile != nil {
            throw ValidationError("--token-file: an SSH check makes a token for the run; leave it out")
        }
        if !ssh && !swarm && tokenFile == nil {
            throw ValidationError("--token-file: give the file holding the cluster token the agents were started with (or --ssh, --swarm)")
        }
        if !ssh && (!sshOptions.isEmpty || agentBinary != nil) {
            throw ValidationError("--ssh-option and --agent-binary need --ssh")
        }
        for o in sshOptions where !(o.contains("=") || o.contains(" ")) || o.hasPrefix("-") || o.contains(where: \.isNewline) {
            throw ValidationError("--ssh-option: \"\(o)\" must be Name=value or \"Name value\", as ssh -o takes it")
        }
        if !aws && (awsRegion != nil || awsProfile != nil || awsEndpointUrl != nil || awsFromDir != nil || clients != nil) {
            throw ValidationError("--aws-region, --aws-profile, --aws-endpoint-url, --aws-from-dir and --clients need --aws")
        }
        if let clients {
            if published == nil && !(docker || dockerHost != nil || swarm) {
                throw ValidationError("--clients: there are no published ports to check (add --published)")
            }
            do { _ = try AWSClients.parse([clients]) } catch { throw ValidationError(error.description) }
        }
        if let published {
            if published == "auto" {
                if !(docker || dockerHost != nil || swarm) {
                    throw ValidationError("--published auto reads the services from the Docker Engine API: add --docker or --swarm")
                }
            } else {
                do { _ = try PublishedTarget.parsePorts(published, source: "--published") } catch { throw ValidationError(error.description) }
            }
        }
        if let clientName, !Inventory.isValidName(clientName) {
            throw ValidationError("--client-name: \"\(clientName)\" must be 1-63 letters, digits, '-', '_' or '.'")
        }
        try timeout.validate(flag: "--timeout")
        guard RunRequest.attemptsRange.contains(attempts) else {
            throw ValidationError(
                "--attempts: \(attempts) is outside \(RunRequest.attemptsRange.lowerBound) to \(RunRequest.attemptsRange.upperBound)")
        }
    }

    func run() async throws {
        let inv: Inventory
        var discovery: DockerDiscovery.Discovery?
        if let inventory {
            inv = try Inventory.parse(try readInputFile(inventory, what: "inventory"), source: inventory)
        } else {
            progressLine("asking the Docker Engine API for the swarm's nodes ...")
            discovery = try await DockerDiscovery.discoverDetails(dockerHost: dockerHost)
            inv = discovery!.inventory
        }
        let prof = try loadProfile(path: profile, dataPathPort: dataPathPort)
        let targets = try await publishedTargets(discovery, profile: prof)
        // A live swarm's own ranges, for the routes that would overlap them.
        let subnets: MeshSubnets
        if let discovery { subnets = try await SwarmSubnets.read(discovery.endpoint) } else { subnets = .docker }
        let deployment: (any AgentDeployment)?
        if ssh {
            deployment = try SSHDeployment(
                inventory: inv, agentBinary: agentBinary ?? SSHDeployment.defaultAgentBinary, sshOptions: sshOptions,
                profile: profile, dataPathPort: dataPathPort, published: targets)
        } else if swarm, let discovery {
            try await SwarmDeployment.checkEngine(discovery.endpoint)
            let d = try SwarmDeployment(
                endpoint: discovery.endpoint, discovery: discovery, image: image, profile: profile, dataPathPort: dataPathPort,
                published: targets)
            progressLine("starting the agents as the global service \(d.run) (image \(image)) ...")
            deployment = d
        } else {
            deployment = nil
        }
        let token = try deployment?.token ?? ClusterToken.load(path: tokenFile ?? "")
        let vantage = try targets.isEmpty ? nil : makeVantage(inv, token: token)
        var options = CheckOptions(timeout: timeout.policy, attempts: attempts)
        options.pathMTUNeeded = try await pathMTUNeeded(discovery, profile: prof)
        let progress = Self.progress(options)

        // Ctrl-C or SIGTERM: stop waiting, ask the agents for what they have so far (a few seconds at most),
        // decide from that, mark the rest undecided; a second one stops asking at once. Then, always, take
        // down what was deployed.
        let interrupt = CheckInterrupt()
        let task = Task { () -> (Coordinator, Bool) in
            let started = ContinuousClock.now
            let failed = await deployment?.start(progress: Self.deployProgress) ?? [:]
            if deployment != nil {
                progressLine("agents started on \(inv.nodes.count - failed.count) of \(inv.nodes.count) nodes in \(Self.seconds(since: started))")
            }
            // With agents deployed, each node's line says when its agent probes too.
            let deployed = deployment == nil ? [] : inv.nodes.map(\.name).filter { failed[$0] == nil }
            let coordinator = Coordinator(
                inventory: inv, profile: prof, token: token, options: options,
                unavailable: failed.mapValues { AgentHealth(.down, $0) }, meshSubnets: subnets, published: targets, vantage: vantage
            ) { event in
                progress(event)
                if case .probing = event { for name in deployed { Self.deployProgress(DeployEvent(name, .probing)) } }
            }
            interrupt.watch(coordinator)
            return (coordinator, await coordinator.gather())
        }
        let signals = SignalCancellation { interrupt.signal(task) }
        let (coordinator, complete) = await task.value
        if let deployment {
            progressLine("stopping the agents and cleaning up ...")
            let stopping = ContinuousClock.now
            await deployment.stop(progress: Self.deployProgress)
            progressLine("cleaned up in \(Self.seconds(since: stopping))")
        }
        signals.stop()
        // Agents of another version cannot be asked anything: say so once each, where the user looks first.
        for n in coordinator.resultsHead(complete: complete).nodes where n.agent.status == .incompatible {
            printError("swarmprobe: node \(n.name): \(n.agent.detail ?? "its agent speaks another protocol version")")
        }

        // Many nodes (a million checks at 500): decide them as a stream, never all held (not with --aws,
        // whose annotations need every check at hand).
        if inv.nodes.count > GroupedReport.nodeLimit && !aws {
            let exit = try emitStreamed(coordinator, complete: complete)
            if !complete { printError("swarmprobe: check interrupted; the results written are incomplete") }
            if exit != 0 { throw ExitCode(exit) }
            return
        }
        var results = coordinator.results(complete: complete)

        // --aws: the configuration's view beside the packets' (verdicts stay the probes').
        var audit: AWSAuditResult?
        var publishedRule: (_ node: String, _ port: KindID) -> (reason: String, remedy: String)? = { _, _ in nil }
        if aws {
            let snapshot = try await AWSAuditCommand.snapshot(
                inv, fromDir: awsFromDir, region: awsRegion, profile: awsProfile,
                endpointURL: awsEndpointUrl)
            let style = AWSCommandStyle(region: awsRegion, profile: awsProfile)
            let a = AWSAudit.evaluate(inventory: inv, profile: prof, snapshot: snapshot, style: style)
            let s = AWSCombine.annotate(&results, with: a)
            progressLine(
                "aws: \(s.explained) blocked paths explained by a rule, \(s.outsideAWS) blocked outside AWS, \(s.contradictions) contradictions")
            audit = a
            // A published port that never reached a node: the rule that keeps it out, for the clients given or this host.
            if let mesh = results.routingMesh {
                let from = try clients.map { try AWSClients.parse([$0]) } ?? [.cidr(CIDR(host: mesh.clientAddress))]
                publishedRule = { node, port in
                    guard let n = inv.node(named: node) else { return nil }
                    for c in from {
                        let d = AWSAudit.publishedPort(port, on: n, from: c, snapshot: snapshot, cluster: inv.nodes, style: style)
                        if d.verdict == .blocked { return (d.detail, d.remediation.joined(separator: "; ")) }
                    }
                    return nil
                }
            }
        }
        results.nodeFindings += RoutingMeshExplanation.findings(
            results, dataPath: prof.kinds.first(where: \.dataPath)?.kindID, meshSubnets: subnets, aws: publishedRule)

        try output.emit(
            json: audit.map { AWSAuditReport.json(results: JSONReport.render(results), audit: $0) } ?? JSONReport.render(results),
            report: MarkdownReport.render(results) + (audit.map(AWSAuditReport.markdown) ?? "")
        ) { color in
            TerminalReport.render(results, color: color) + (audit.map(AWSAuditReport.terminal) ?? "")
        }
        if !results.complete { printError("swarmprobe: check interrupted; the results written are incomplete") }
        if results.exitCode != 0 { throw ExitCode(results.exitCode) }
    }
}

extension CheckCommand {
    /// The packet size every data path must carry: from `--overlay-mtu`, else the live overlay networks', else
    /// Docker's default; nil for `--overlay-mtu off`.
    func pathMTUNeeded(_ discovery: DockerDiscovery.Discovery?, profile: Profile) async throws -> Int? {
        let encrypted = profile.enabledKinds.contains { $0.proto == .esp }
        switch overlayMTU {
        case "off"?:
            return nil
        case let text?:
            guard let mtu = Int(text) else { throw InputError(source: "--overlay-mtu", "expected a number of bytes or `off`, got \"\(text)\"") }
            let needed = PathMTU.needed(overlayMTU: mtu, encrypted: encrypted)
            guard (PathMTU.floor...PathMTU.largestProbe).contains(needed) else {
                throw InputError(
                    source: "--overlay-mtu",
                    "\(mtu) needs \(needed)-byte packets on the data path, outside the \(PathMTU.floor)...\(PathMTU.largestProbe) this check can measure"
                )
            }
            return needed
        case nil:
            guard let discovery else { return OverlayNetworks.defaultOption }
            let needed = try await OverlayNetworks.neededPacketSize(discovery.endpoint)
            return min(max(needed, PathMTU.floor), PathMTU.largestProbe)
        }
    }

    /// The published ports to probe: `--published`'s, and with the Engine API at hand the live services' (which
    /// replace a `--published` port of the same number).
    func publishedTargets(_ discovery: DockerDiscovery.Discovery?, profile: Profile) async throws -> [PublishedTarget] {
        var targets: [PublishedTarget] = []
        if let published, published != "auto" {
            let ports = try PublishedTarget.parsePorts(published, source: "--published")
            _ = try profile.withPublished(ports)  // a swarm port is not a published one: say so now
            targets = ports.map { PublishedTarget(port: $0) }
        }
        if let discovery {
            let live = try await PublishedServices.read(discovery.endpoint, nodes: discovery.nodes)
            targets.removeAll { t in live.contains { $0.port == t.port } }
            targets += live
            if !live.isEmpty { progressLine("services publish \(live.map { "\($0.port) (\($0.service ?? "?"))" }.joined(separator: ", "))") }
        }
        return targets
    }

    /// This host as the published ports' prober: its source address toward the first node, and its name.
    func makeVantage(_ inventory: Inventory, token: ClusterToken) throws -> Vantage {
        guard let first = inventory.nodes.first, let address = SourceAddress.toward(first.address) else {
            throw InputError(
                source: "--published", "this host has no route to \(inventory.nodes.first?.address.description ?? "the nodes") to probe from")
        }
        var name = clientName ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "client"
        if !Inventory.isValidName(name) { name = "client" }
        if inventory.node(named: name) != nil {
            if clientName != nil { throw InputError(source: "--client-name", "\"\(name)\" is also a node's name; pick another") }
            name += "-client"
        }
        let prober = VantageProber(address: address, token: token)
        return Vantage(name: name, address: address) { await prober.run($0) }
    }

    /// The check's progress lines, on a terminal.
    static func progress(_ options: CheckOptions) -> @Sendable (CheckProgress) -> Void {
        { event in
            switch event {
            case let .contacting(n): progressLine("contacting \(n) agents ...")
            case let .contacted(up, of): progressLine("\(up) of \(of) agents answered")
            case let .probing(paths, ms):
                let policy = options.timeout == .auto ? "timeout auto, at most" : "timeout"
                progressLine("probing \(paths) paths at once (\(policy) \(Double(ms) / 1000) s, \(options.attempts) tries) ...")
            case .probed: break
            case .collecting: progressLine("collecting what each agent received ...")
            case let .salvaging(n):
                progressLine("interrupted: asking \(n) agents for what they have so far (interrupt again to stop now) ...")
            }
        }
    }

    /// `1.25 s`: how long since `start`, for progress lines.
    static func seconds(since start: ContinuousClock.Instant) -> String {
        let d = ContinuousClock.now - start
        return String(format: "%.2f s", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    /// One line per node and step of a deployment, on a terminal; a node that fails says why whatever stderr is.
    @Sendable static func deployProgress(_ event: DeployEvent) {
        if event.step == .failed {
            printError("swarmprobe: \(event)")
        } else {
            progressLine("  \(event)")
        }
    }

    /// The outputs of a check of many nodes: a first pass over the decided checks counts and groups
    /// them, a second streams them into the JSON; the reports are the grouped ones. Returns the exit code.
    func emitStreamed(_ coordinator: Coordinator, complete: Bool) throws -> Int32 {
        var head = coordinator.resultsHead(complete: complete)
        var groups = CheckGroups(nodes: head.nodes, nodeFindings: head.nodeFindings)
        // Both passes decide on every core; grouping and writing take the blocks in plan order.
        var smallPaths: [CheckResult] = []
        coordinator.forEachBlock(complete: complete, nonces: false, produce: Merge.keepChecks) {
            for c in $0 {
                groups.add(c)
                if c.pathMTU?.tooSmall == true { smallPaths.append(c) }
            }
        }
        groups.finish()
        let mtuFindings = PathMTUFindings.findings(smallPaths)
        head.nodeFindings += mtuFindings
        groups.nodeFindings += mtuFindings
        // The published ports' checks are few (one per node and port) and kept whole: explain them from those.
        // (Their data path to the tasks is not looked up at this size.)
        var published = head
        published.checks = groups.published
        let explained = RoutingMeshExplanation.findings(published, dataPath: nil)
        head.nodeFindings += explained
        groups.nodeFindings += explained
        if let json = output.json {
            let fd = json == "-" ? STDOUT_FILENO : open(json, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else {
                throw InputError(source: json, "--json: cannot write the file (\(String(cString: strerror(errno))))")
            }
            defer { if fd != STDOUT_FILENO { close(fd) } }
            let out = JSONOutput(fd: fd)
            JSONReport.write(head, groups: groups, to: out) { emit in
                coordinator.forEachBlock(complete: complete, produce: JSONReport.checkBlock, consume: emit)
            }
            out.flush()
            if out.error != 0 {
                throw InputError(source: json, "--json: cannot write the file (\(String(cString: strerror(out.error))))")
            }
        }
        if let report = output.report {
            try writeOutput(MarkdownReport.render(head: head, groups: groups), to: report, what: "--report")
        }
        if output.terminalWanted {
            print(TerminalReport.render(head: head, groups: groups, color: colorOnStdout(noColor: output.noColor)), terminator: "")
        }
        return groups.summary(complete: complete).exitCode
    }
}
