import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// deploy/swarmprobe-stack.yml on the real three-dockerd swarm lab: deployed as its header says, checked with
/// `check --docker`, its restart policy tried, and removed with nothing left.
@Suite("deploy: stack file", .serialized, .enabled(if: dockerLabUnavailable == nil, "\(dockerLabUnavailable ?? "")"))
struct StackDeployTests {
    let udp7946 = KindID(proto: .udp, port: 7946)

    @Test("docker stack deploy: an agent per node with its taps, every path open, a fault found, restarted when killed, removed by stack rm")
    func stack() throws {
        let healthy = LabScenario(name: "stack", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)], faults: [])
        let fault = LabFault.hostFirewall(node: "w1", from: "m1", kind: udp7946, reject: false)
        let swarm = try DockerSwarmLab(nodes: healthy.nodes)
        defer { swarm.destroy() }
        let lab = swarm.lab
        let stack = "sp" + String(UInt32.random(in: 0...UInt32.max), radix: 16)

        let tag = "swarmprobe-agent:stack-\(UInt32.random(in: 0...UInt32.max))"
        try buildAgentImage(swarm, tag: tag)
        let token = lab.directory.appendingPathComponent("swarmprobe.token").path
        try Program.run([swarmprobeBinary(), "token", "-o", token])

        // As the header says; a missing variable stops the deploy before anything is created.
        let variables = [
            "SWARMPROBE_SUBNET": "\(lab.coordinatorAddress)/\(Lab.prefixLength)", "SWARMPROBE_IMAGE": tag, "SWARMPROBE_TOKEN_FILE": token,
        ]
        let file = repositoryRoot() + "/deploy/swarmprobe-stack.yml"
        let unset = try stackCommand(swarm, ["deploy", "-c", file, stack], variables.filter { $0.key != "SWARMPROBE_SUBNET" })
        #expect(unset.status != 0 && unset.stderr.contains("SWARMPROBE_SUBNET"), "\(unset.stderr)")
        #expect(try swarm.docker("m1", ["service", "ls", "-q"]).isEmpty)
        defer { _ = try? stackCommand(swarm, ["rm", stack], [:]) }
        let deployed = try stackCommand(swarm, ["deploy", "-c", file, stack], variables)
        #expect(deployed.status == 0, "\(deployed.stderr)")
        let service = try swarm.docker(
            "m1", ["service", "inspect", "\(stack)_agent", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.CapabilityAdd}}"])
        #expect(service.contains("CAP_NET_ADMIN") && service.contains("CAP_NET_RAW"), "cap_add did not reach the service: \(service)")
        try waitForAgents(swarm, stack: stack, count: 3)

        func expectVerdicts(_ run: CheckRun, _ scenario: LabScenario) {
            #expect(run.results.complete)
            for node in run.results.nodes {
                #expect(node.agent.isUp && !node.taps.isEmpty && node.taps.allSatisfy(\.active), "\(node.name): \(node.agent) \(node.taps)")
            }
            expectSwarmVerdicts(run.results, scenario, lab)
        }
        let first = try runDockerCheck(swarm, token: token)
        #expect(first.status == 0, "\(first.stderr)")
        expectVerdicts(first, healthy)

        // restart_policy on-failure: an agent killed outright comes back.
        let w1 = try #require(RemoteLeftovers.agents(in: lab).first { $0.0 == "w1" }?.1)
        kill(w1, SIGKILL)
        try waitForAgents(swarm, stack: stack, count: 4)
        #expect(RemoteLeftovers.agents(in: lab).contains { $0.0 == "w1" && $0.1 != w1 })

        // One fault: told apart from a network drop only by the nflog tap, which needs NET_ADMIN.
        try lab.inject(fault)
        let faulted = try runDockerCheck(swarm, token: token)
        #expect(faulted.status == 1, "\(faulted.stderr)")
        expectVerdicts(faulted, LabScenario(name: "stack-fault", nodes: healthy.nodes, faults: [fault]))

        let removed = try stackCommand(swarm, ["rm", stack], [:])
        #expect(removed.status == 0, "\(removed.stderr)")
        var left = leftovers(swarm, stack: stack)
        let deadline = Date().addingTimeInterval(60)
        while !left.isEmpty && Date() < deadline {
            usleep(500_000)
            left = leftovers(swarm, stack: stack)
        }
        #expect(left.isEmpty, "\(left)")
    }

    /// `docker stack ARGS` against the first manager, with the deploy-time variables.
    func stackCommand(_ swarm: DockerSwarmLab, _ args: [String], _ variables: [String: String]) throws -> ProgramOutput {
        try dockerCommand(swarm, ["stack"] + args, variables)
    }

    /// `docker ARGS` against the first manager, with `variables` in its environment; whatever its status.
    func dockerCommand(_ swarm: DockerSwarmLab, _ args: [String], _ variables: [String: String]) throws -> ProgramOutput {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWARMPROBE_") && $0.key != "DOCKER_CONTEXT" }
        env["DOCKER_HOST"] = swarm.dockerHost(swarm.firstManager)
        env["DOCKER_CLI_HINTS"] = "false"
        env.merge(variables) { $1 }
        return try Program.capture(["docker"] + args, environment: env, timeout: 60)
    }

    /// Until the service's tasks have said "agent ready" `count` times (restarts count again).
    func waitForAgents(_ swarm: DockerSwarmLab, stack: String, count: Int, timeout: TimeInterval = 120) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var logs = ""
        while Date() < deadline {
            // The agents write to stderr, which `docker service logs` passes on as its own stderr.
            let out = try dockerCommand(swarm, ["service", "logs", "--raw", "\(stack)_agent"], [:])
            logs = out.stdout + out.stderr
            if logs.components(separatedBy: "swarmprobe agent ready").count - 1 >= count { return }
            usleep(500_000)
        }
        let tasks = (try? swarm.docker("m1", ["service", "ps", "--no-trunc", "\(stack)_agent"])) ?? ""
        throw ProgramError(
            command: ["docker stack deploy"], status: -1, message: "not \(count) agents ready after \(Int(timeout)) s: \(tasks) \(logs)")
    }

    /// `swarmprobe check --docker` against the manager, from the switch namespace, with the stack's token.
    func runDockerCheck(_ swarm: DockerSwarmLab, token: String) throws -> CheckRun {
        let lab = swarm.lab
        let json = lab.directory.appendingPathComponent("stack-\(UUID().uuidString).json").path
        let r = try lab.runInSwitch(
            binary: swarmprobeBinary(),
            ["check", "--docker", "--docker-host", swarm.dockerHost("m1"), "--token-file", token, "--timeout", "1500ms", "--json", json, "--quiet"])
        guard let data = FileManager.default.contents(atPath: json) else {
            throw ProgramError(command: ["swarmprobe", "check", "--docker"], status: r.status, message: r.stderr)
        }
        return CheckRun(
            status: r.status, stdout: r.stdout, stderr: r.stderr, results: try JSONDecoder().decode(Results.self, from: data), markdown: "")
    }

    /// The stack's services and secrets, containers, agent processes and tap tables still on the lab.
    func leftovers(_ swarm: DockerSwarmLab, stack: String) -> [String] {
        var left: [String] = []
        for kind in ["service", "secret"] {
            let names = (try? swarm.docker("m1", [kind, "ls", "--format", "{{.Name}}"])) ?? "cannot list \(kind)s"
            left += names.split(whereSeparator: \.isNewline).filter { $0.hasPrefix(stack) }.map { "\(kind) \($0)" }
        }
        for node in swarm.nodes {
            let ids = (try? swarm.docker(node.name, ["ps", "-aq"])) ?? "cannot list containers"
            left += ids.split(whereSeparator: \.isNewline).map { "\(node.name): container \($0)" }
        }
        return left + RemoteLeftovers.find(in: swarm.lab, directoriesBefore: RemoteLeftovers.directories())
    }
}

/// deploy/swarmprobe-agent.service: `systemd-analyze verify` and `security`, then its ExecStart line, read from the
/// unit, run as the unit runs it (not root; the unit's ambient capabilities, bounding set and no-new-privs) on two lab
/// nodes under strace. A check against them must find every path open with every tap active, and what the agents and
/// their nft did must pass the unit's seccomp filter, address families and read-only file system.
@Suite("deploy: systemd unit", .serialized, .enabled(if: systemdUnitUnavailable == nil, "\(systemdUnitUnavailable ?? "")"))
struct SystemdUnitTests {
    let unitPath = repositoryRoot() + "/deploy/swarmprobe-agent.service"

    @Test("systemd-analyze verify finds nothing; the exposure stays low")
    func verify() throws {
        let unit = try SystemdUnit(path: unitPath)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swarmprobe-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // The unit as installed would name the agent where it is installed: here, the one this build made.
        let copy = dir.appendingPathComponent("swarmprobe-agent.service").path
        try unit.replacingExecutable(with: builtBinary("swarmprobe-agent")).write(toFile: copy, atomically: true, encoding: .utf8)
        let verified = try Program.capture(["systemd-analyze", "verify", "--man=no", copy], timeout: 60)
        #expect(
            verified.status == 0 && (verified.stdout + verified.stderr).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
            "exit \(verified.status): \(verified.stdout)\(verified.stderr)")
        // 2.5 of 10 ("OK"): root would be 9.6.
        let security = try Program.capture(["systemd-analyze", "security", "--offline=yes", "--threshold=25", "--no-pager", copy], timeout: 60)
        #expect(security.status == 0, "\(security.stdout.split(separator: "\n").last ?? "") \(security.stderr)")
    }

    @Test("ExecStart as the unit runs it: not root, two capabilities, taps active, every path open; nothing its sandbox forbids")
    func runAsUnit() throws {
        let unit = try SystemdUnit(path: unitPath)
        let scenario = LabScenario.healthy(nodes: 2)
        let lab = try Lab(nodes: scenario.nodes)
        defer { lab.destroy() }
        let dir = lab.directory.appendingPathComponent("unit")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let nobody: UInt32 = 65534

        // /etc/swarmprobe/agent.env: one line for every node, the lab's subnet.
        let envFile = dir.appendingPathComponent("agent.env").path
        try "SWARMPROBE_ADDRESS=\(lab.coordinatorAddress)/\(Lab.prefixLength)\n".write(toFile: envFile, atomically: true, encoding: .utf8)
        // LoadCredential=: systemd copies the root-only token into a directory of the service's user.
        let credential = try #require(unit.values("LoadCredential").first?.split(separator: ":").first.map(String.init))
        let credentials = dir.appendingPathComponent("credentials").path
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: false)
        let token = credentials + "/" + credential
        try Program.run([swarmprobeBinary(), "token", "-o", token])
        try Program.run(["chown", "-R", "\(nobody):\(nobody)", credentials])
        try Program.run(["chmod", "0500", credentials])
        try Program.run(["chmod", "0400", token])

        var environment = try SystemdUnit.environmentFile(envFile)
        environment["CREDENTIALS_DIRECTORY"] = credentials
        var command = try unit.execStart(environment: environment, specifiers: ["d": credentials])
        command[0] = builtBinary("swarmprobe-agent")
        let setpriv = try unit.setprivArguments(uid: nobody)

        var agents: [(node: LabNode, process: ChildProcess, log: String, trace: String)] = []
        defer {
            for a in agents where a.process.isRunning { _ = a.process.terminate(grace: 1) }
        }
        for node in lab.nodes {
            let log = dir.appendingPathComponent("agent-\(node.name).log").path
            let trace = dir.appendingPathComponent("trace-\(node.name).txt").path
            _ = FileManager.default.createFile(atPath: trace, contents: nil)
            try Program.run(["chown", "\(nobody):\(nobody)", trace])
            // systemd's environment for a service: its own PATH, the credentials directory, nothing inherited.
            let p = try ChildProcess(
                ["ip", "netns", "exec", node.namespace, "setpriv"] + setpriv + ["strace", "-f", "-qq", "-o", trace] + command,
                stdout: .file(log), stderr: .file(log),
                environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "CREDENTIALS_DIRECTORY": credentials])
            agents.append((node, p, log, trace))
        }
        let deadline = Date().addingTimeInterval(30)
        for a in agents {
            func text() -> String { (try? String(contentsOfFile: a.log, encoding: .utf8)) ?? "" }
            while !text().contains("swarmprobe agent ready on \(a.node.address)") {
                if a.process.poll() != nil || Date() > deadline {
                    Issue.record("\(a.node.name): the agent did not come up: \(text())")
                    return
                }
                usleep(50_000)
            }
        }
        for (name, pid) in RemoteLeftovers.agents(in: lab) {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let field = { (key: String) in
                status.split(separator: "\n").first { $0.hasPrefix(key + ":") }.map {
                    String($0.dropFirst(key.count + 1)).trimmingCharacters(in: .whitespaces)
                }
            }
            #expect(field("Uid")?.hasPrefix("\(nobody)\t") == true, "\(name): \(field("Uid") ?? "?")")
            #expect(field("CapEff") == "0000000000003000", "\(name): CapEff \(field("CapEff") ?? "?") (NET_ADMIN and NET_RAW alone)")
        }

        let run = try runCheck(lab, token: token, timeout: "1500ms")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            run.results.nodes.allSatisfy { $0.agent.isUp && !$0.taps.isEmpty && $0.taps.allSatisfy(\.active) }, "\(run.results.nodes.map(\.taps))")
        expectMatches(run.results, scenario, capture: true)

        // KillSignal: SIGTERM; the agent takes its nftables table with it.
        for (_, pid) in RemoteLeftovers.agents(in: lab) { kill(pid, SIGTERM) }
        // strace exits with the agent's status (SIGTERM to strace itself would detach it instead).
        let stopBy = Date().addingTimeInterval(15)
        for a in agents {
            while a.process.isRunning && Date() < stopBy { usleep(20_000) }
            #expect(
                a.process.poll()?.status == 0, "\(a.node.name): \(a.process.poll().map { "exit \($0.status)" } ?? "still running 15 s after SIGTERM")"
            )
        }
        #expect(RemoteLeftovers.find(in: lab, directoriesBefore: RemoteLeftovers.directories()).isEmpty)

        // What the kernel would have refused under the unit's sandbox (each would break the agent there).
        let sandbox = try unit.sandbox()
        for a in agents {
            let trace = try Trace(path: a.trace)
            #expect(
                !trace.syscalls.isEmpty && trace.families.contains("AF_PACKET") && trace.families.contains("AF_NETLINK"),
                "\(a.node.name): trace too thin")
            let refused = trace.syscalls.filter { !sandbox.allows(syscall: $0) }
            #expect(refused.isEmpty, "\(a.node.name): SystemCallFilter= refuses \(refused.sorted())")
            let families = trace.families.subtracting(sandbox.addressFamilies)
            #expect(families.isEmpty, "\(a.node.name): RestrictAddressFamilies= lacks \(families.sorted())")
            #expect(trace.writableExecutable.isEmpty, "\(a.node.name): MemoryDenyWriteExecute= refuses \(trace.writableExecutable)")
            let outside = trace.writtenPaths.filter { !($0.hasPrefix("/tmp/") || $0 == "/dev/null") }
            #expect(outside.isEmpty, "\(a.node.name): ProtectSystem=strict makes these read-only: \(outside.sorted())")
        }
    }
}

/// Why the unit's tests cannot run here, or nil when they can.
let systemdUnitUnavailable: String? = {
    if let why = labUnavailable { return why }
    for tool in ["systemd-analyze", "setpriv", "strace"] where (try? Program.path(tool)) == nil {
        return "\(tool) is not installed (apt-get install -y systemd util-linux strace)"
    }
    return nil
}()

/// A unit file's settings as systemd reads them: `Key=value` lines by section, comments and continuations handled.
struct SystemdUnit {
    let text: String
    /// (section, key, value) in file order.
    let settings: [(section: String, key: String, value: String)]

    init(path: String) throws {
        text = try String(contentsOfFile: path, encoding: .utf8)
        var section = "", all: [(section: String, key: String, value: String)] = [], pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = pending + raw.trimmingCharacters(in: .whitespaces)
            pending = ""
            if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
            if line.hasSuffix("\\") {
                line.removeLast()
                pending = line + " "
                continue
            }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
            } else if let eq = line.firstIndex(of: "=") {
                all.append(
                    (section, line[..<eq].trimmingCharacters(in: .whitespaces), line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        settings = all
    }

    /// Every value of `key` in [Service], in order (an empty assignment resets the list, as systemd does).
    func values(_ key: String) -> [String] {
        var out: [String] = []
        for s in settings where s.section == "Service" && s.key == key {
            if s.value.isEmpty { out.removeAll() } else { out.append(s.value) }
        }
        return out
    }

    func flag(_ key: String) -> Bool { ["yes", "true", "1", "on"].contains(values(key).last?.lowercased() ?? "") }

    /// The unit with ExecStart's program replaced (for verify, which wants it to exist).
    func replacingExecutable(with path: String) throws -> String {
        guard let exec = values("ExecStart").first, let program = exec.split(separator: " ").first else {
            throw UnitError("no ExecStart= in the unit")
        }
        return text.replacingOccurrences(of: "ExecStart=\(program) ", with: "ExecStart=\(path) ")
    }

    /// ExecStart's words as systemd expands them: `${VAR}` stays one word, `$VAR` splits on whitespace, `%x`
    /// specifiers from `specifiers` (`%%` is `%`); an unknown variable or specifier is an error.
    func execStart(environment: [String: String], specifiers: [Character: String]) throws -> [String] {
        let lines = values("ExecStart")
        guard lines.count == 1, let line = lines.first else { throw UnitError("expected one ExecStart=, found \(lines.count)") }
        var words: [String] = []
        for word in line.split(whereSeparator: \.isWhitespace).map(String.init) {
            if word.hasPrefix("$") && !word.hasPrefix("${") {
                words += (environment[String(word.dropFirst())] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
                continue
            }
            var out = "", rest = Substring(word)
            while let c = rest.first {
                rest = rest.dropFirst()
                if c == "%" {
                    guard let s = rest.first else { throw UnitError("ExecStart: a lone % in \(word)") }
                    rest = rest.dropFirst()
                    let value: String? = s == "%" ? "%" : specifiers[s]
                    guard let value else { throw UnitError("ExecStart: specifier %\(s) not known to the test") }
                    out += value
                } else if c == "$" && rest.first == "{", let close = rest.firstIndex(of: "}") {
                    let name = String(rest[rest.index(after: rest.startIndex)..<close])
                    guard let value = environment[name] else { throw UnitError("ExecStart: ${\(name)} is not in the environment file") }
                    out += value
                    rest = rest[rest.index(after: close)...]
                } else {
                    out.append(c)
                }
            }
            words.append(out)
        }
        guard !words.isEmpty, words[0].hasPrefix("/") else { throw UnitError("ExecStart: \(line) does not start with an absolute path") }
        return words
    }

    /// setpriv's options for what the unit asks: a user that is not root (DynamicUser= or User=), the
    /// ambient capabilities (inheritable too, as ambient needs), the bounding set, no-new-privs.
    func setprivArguments(uid: UInt32) throws -> [String] {
        guard flag("DynamicUser") || !(values("User").last ?? "root").hasPrefix("root") else { throw UnitError("the unit runs as root") }
        let caps = { (key: String) in
            self.values(key).flatMap { $0.split(whereSeparator: \.isWhitespace) }.map {
                "+" + $0.lowercased().replacingOccurrences(of: "cap_", with: "")
            }
        }
        let ambient = caps("AmbientCapabilities"), bounding = caps("CapabilityBoundingSet")
        var args = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"]
        if !ambient.isEmpty { args += ["--inh-caps=" + ambient.joined(separator: ","), "--ambient-caps=" + ambient.joined(separator: ",")] }
        args.append("--bounding-set=" + (["-all"] + bounding).joined(separator: ","))
        if flag("NoNewPrivileges") { args.append("--no-new-privs") }
        return args
    }

    /// The unit's seccomp filter (groups expanded by systemd-analyze) and address families.
    func sandbox() throws -> Sandbox {
        var allowed: Set<String>?, denied: Set<String> = []
        for value in values("SystemCallFilter") {
            let deny = value.hasPrefix("~")
            let names = try Set(value.dropFirst(deny ? 1 : 0).split(whereSeparator: \.isWhitespace).flatMap { try Self.expand(String($0)) })
            if deny { denied.formUnion(names) } else { allowed = (allowed ?? []).union(names) }
        }
        let families = Set(values("RestrictAddressFamilies").flatMap { $0.split(whereSeparator: \.isWhitespace).map(String.init) })
        guard !families.contains(where: { $0.hasPrefix("~") }) else { throw UnitError("RestrictAddressFamilies=~ is not handled by the test") }
        return Sandbox(allowed: allowed.map { $0.subtracting(denied) }, denied: denied, addressFamilies: families)
    }

    struct Sandbox {
        var allowed: Set<String>?
        var denied: Set<String>
        var addressFamilies: Set<String>
        func allows(syscall: String) -> Bool { allowed.map { $0.contains(syscall) } ?? !denied.contains(syscall) }
    }

    /// A syscall group's members, nested groups included, as this machine's systemd defines them.
    static func expand(_ name: String) throws -> [String] {
        guard name.hasPrefix("@") else { return [name] }
        let out = try Program.run(["systemd-analyze", "syscall-filter", "--no-pager", name])
        return try out.split(separator: "\n").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }.flatMap { try expand($0) }
    }

    /// `KEY=VALUE` lines, as EnvironmentFile= reads them (comments and blank lines skipped, quotes removed).
    static func environmentFile(_ path: String) throws -> [String: String] {
        var env: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let l = line.trimmingCharacters(in: .whitespaces)
            guard !l.isEmpty, !l.hasPrefix("#"), let eq = l.firstIndex(of: "=") else { continue }
            var value = String(l[l.index(after: eq)...])
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q { value = String(value.dropFirst().dropLast()) }
            env[String(l[..<eq])] = value
        }
        return env
    }
}

struct UnitError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What `strace -f` saw a process tree do: syscall names, socket families, W+X mappings, paths written.
struct Trace {
    var syscalls: Set<String> = []
    var families: Set<String> = []
    var writableExecutable: [String] = []
    var writtenPaths: Set<String> = []

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for line in text.split(separator: "\n") {
            // "PID  name(args) = result", or "PID  <... name resumed>...".
            let body = line.drop { $0.isNumber }.drop { $0 == " " }
            guard let open = body.firstIndex(of: "("), !body.hasPrefix("<") && !body.hasPrefix("-") && !body.hasPrefix("+") else { continue }
            let name = String(body[..<open])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            syscalls.insert(name)
            let args = body[body.index(after: open)...]
            if name == "socket", let family = args.split(separator: ",").first { families.insert(String(family)) }
            if (name == "mmap" || name == "mprotect") && args.contains("PROT_WRITE") && args.contains("PROT_EXEC") {
                writableExecutable.append(String(line))
            }
            let failed = body.contains(" = -1 ")
            let path = args.split(separator: "\"", omittingEmptySubsequences: false).dropFirst().first.map(String.init)
            switch name {
            case "openat", "open", "creat":
                if !failed, args.contains("O_WRONLY") || args.contains("O_RDWR") || args.contains("O_CREAT"), let path { writtenPaths.insert(path) }
            case "mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "chmod", "fchmodat", "truncate":
                if !failed, let path { writtenPaths.insert(path) }
            default: break
            }
        }
    }
}
