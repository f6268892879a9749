import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// `check --ssh`: before `docker swarm init`, an agent on every node over the user's own SSH, for one check.
///
/// Per node, at once: one connection (ControlMaster) asks what the agent needs and makes a private directory;
/// the agent goes there (stripped and compressed once, here); it starts on the node's address with a token made
/// for this run, read from the session's stdin (never a command line or a file). The session stays open for
/// the check: when it ends, for whatever reason (`stop`, Ctrl-C, this process killed, the network), the agent
/// sees its stdin end, stops and removes its nftables table, and the shell around it removes the directory.
public final class SSHDeployment: AgentDeployment, @unchecked Sendable {
    public let token: ClusterToken
    private let tokenLine: String
    private let inventory: Inventory
    private let options: [String]
    private let agentArguments: [String]
    private let profile: String?
    /// This check's private directory here: connection sockets, session logs, the compressed agent.
    private let directory: String
    private let payload: String
    private let architecture: String
    // `remote` is guarded by `lock`; the rest is set in init.
    private let lock = NSLock()
    private var remote: [String: Remote] = [:]

    /// What is on one node: its directory, and the agent's session once it runs.
    private struct Remote {
        var ssh: SSHNode
        var host: RemoteHost
        var session: ChildProcess?
        var log: String
    }

    /// `agentBinary`: the `swarmprobe-agent` to run, of this swarmprobe's version. `profile`, `dataPathPort` and
    /// `published`: the check's, which the agents must share.
    /// The `swarmprobe-agent` beside the running program: what `--agent-binary` defaults to.
    public static var defaultAgentBinary: String { AgentBinary.besideThisProgram }

    public init(
        inventory: Inventory, agentBinary: String, sshOptions: [String], profile: String?, dataPathPort: Int?, published: [PublishedTarget] = []
    ) throws(InputError) {
        try AgentBinary.checkVersion(agentBinary)
        architecture = try AgentBinary.architecture(agentBinary)
        self.inventory = inventory
        options = sshOptions
        self.profile = profile
        var args: [String] = []
        if let dataPathPort { args += ["--data-path-port", String(dataPathPort)] }
        args += PublishedTarget.agentArguments(published)
        agentArguments = args
        tokenLine = ClusterToken.generate()
        token = try ClusterToken.parse(tokenLine, source: "the run's token")
        Self.removeStaleDirectories()
        var template = Array((NSTemporaryDirectory() + "/swarmprobe-ssh.\(getpid()).XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw InputError(source: "--ssh", "cannot make a private directory in \(NSTemporaryDirectory())")
        }
        directory = String(cString: made)
        payload = directory + "/swarmprobe-agent.gz"
        do {
            try AgentBinary.compress(agentBinary, to: payload, scratch: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Removes what checks killed outright (SIGKILL) left here: private directories whose process is gone.
    /// (Their nodes cleaned up by themselves when the sessions ended.)
    private static func removeStaleDirectories() {
        let tmp = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix("swarmprobe-ssh.") {
            let parts = name.split(separator: ".")
            guard parts.count == 3, let pid = Int32(parts[1]), kill(pid, 0) != 0 && errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: tmp + "/" + name)
        }
    }

    public func start(progress: @escaping @Sendable (DeployEvent) -> Void) async -> [String: String] {
        await withTaskGroup(of: (String, String?).self) { group in
            for (i, node) in inventory.nodes.enumerated() {
                let ssh = SSHNode(node: node, target: node.sshTarget, controlPath: "\(directory)/cm\(i)", options: options)
                group.addTask { (node.name, await self.deploy(ssh, progress: progress)) }
            }
            var failed: [String: String] = [:]
            for await (name, failure) in group {
                if let failure { failed[name] = failure }
            }
            return failed
        }
    }

    /// Brings one agent up; returns why it could not, in one line.
    private func deploy(_ ssh: SSHNode, progress: @escaping @Sendable (DeployEvent) -> Void) async -> String? {
        let name = ssh.node.name
        progress(DeployEvent(name, .connecting, ssh.target.description))
        let host: RemoteHost
        switch await ssh.run(RemoteHost.probe, timeout: 60) {
        case let .failure(f):
            return fail(name, f.description, progress)
        case let .success(report):
            guard let h = RemoteHost(report: report) else {
                return fail(name, "the node's shell answered something else than expected: \(report.prefix(120))", progress)
            }
            host = h
        }
        lock.withLock { remote[name] = Remote(ssh: ssh, host: host, session: nil, log: "\(directory)/\(name).log") }
        if let problem = host.problem(localArchitecture: architecture) { return fail(name, problem, progress) }
        if Task.isCancelled { return fail(name, "interrupted", progress) }

        progress(DeployEvent(name, .uploading))
        let dir = Program.shellQuoted(host.directory)
        if case let .failure(f) = await ssh.run("gunzip -c > \(dir)/swarmprobe-agent && chmod 0700 \(dir)/swarmprobe-agent", stdinFile: payload) {
            return fail(name, "uploading the agent: \(f)", progress)
        }
        if let profile, case let .failure(f) = await ssh.run("cat > \(dir)/profile.yaml", stdinFile: profile) {
            return fail(name, "uploading the profile: \(f)", progress)
        }
        if Task.isCancelled { return fail(name, "interrupted", progress) }

        var agent = [
            "\(host.directory)/swarmprobe-agent", "--address", ssh.node.address.description, "--control-port", String(ssh.node.control.port),
            "--token-file", "-", "--exit-on-stdin-eof",
        ]
        if profile != nil { agent += ["--profile", "\(host.directory)/profile.yaml"] }
        agent += agentArguments
        // The shell around the agent removes the directory when the agent ends, however it ends.
        let start = "trap \(Program.shellQuoted("rm -rf \(dir)")) EXIT; \(host.asRoot)\(agent.map(Program.shellQuoted).joined(separator: " "))"
        let log = lock.withLock { remote[name]!.log }
        let session: ChildProcess
        do {
            session = try ChildProcess(ssh.command(start), stdin: .pipe, stdout: .file(log), stderr: .file(log))
            try session.input?.write(contentsOf: Data((tokenLine + "\n").utf8))
        } catch {
            return fail(name, "starting the agent: \(error)", progress)
        }
        lock.withLock { remote[name]?.session = session }
        if let failure = await waitReady(
            session, log: log, dialed: ssh.node.control.host == ssh.node.address.description ? ssh.node.address : nil)
        {
            return fail(name, failure, progress)
        }
        progress(DeployEvent(name, .started))
        return nil
    }

    /// What the agent logs when its address is on none of the host's interfaces.
    static let addressNotHeld = "is on none of this host's interfaces"

    /// Waits for the agent's ready line; returns why it did not come.
    /// `dialed`: the agent's address when the coordinator reaches it there (no `control` of its own in the inventory).
    private func waitReady(_ session: ChildProcess, log: String, dialed: IPAddress?) async -> String? {
        await blocking {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if text.contains("swarmprobe agent ready") {
                    // Its address is not the node's: the coordinator, which dials that address, would find nobody there.
                    guard let address = dialed, text.contains(Self.addressNotHeld) else { return nil }
                    return
                        "its address \(address) is on none of the node's interfaces (the agent binds nothing there): correct the inventory's address"
                }
                if let exit = session.poll() {
                    let last = text.split(whereSeparator: \.isNewline).last.map(String.init) ?? "exit \(exit.status)"
                    return exit.status == 255 ? "ssh: \(last)" : "the agent did not start: \(last)"
                }
                usleep(50_000)
            }
            return "the agent did not say it was ready within 30 s"
        }
    }

    private func fail(_ name: String, _ why: String, _ progress: @escaping @Sendable (DeployEvent) -> Void) -> String {
        progress(DeployEvent(name, .failed, why))
        return why
    }

    public func stop(progress: @escaping @Sendable (DeployEvent) -> Void) async {
        let all = lock.withLock { remote }
        await withTaskGroup(of: Void.self) { group in
            for (name, r) in all {
                group.addTask {
                    progress(DeployEvent(name, .stopping))
                    if let session = r.session {
                        // The agent stops when its stdin ends; a session that does not end is cut.
                        try? session.input?.close()
                        await blocking {
                            let deadline = Date().addingTimeInterval(10)
                            while session.isRunning && Date() < deadline { usleep(20_000) }
                            session.terminate(grace: 1)
                        }
                    }
                    // Whatever the agent left (it removes its table itself; a crashed one does not).
                    let port = r.ssh.node.control.port
                    let dir = Program.shellQuoted(r.host.directory)
                    let cleanup = "\(r.host.asRoot)nft delete table inet swarmprobe_tap_\(port) 2>/dev/null; rm -rf \(dir); test ! -e \(dir)"
                    switch await r.ssh.run(cleanup, timeout: 30) {
                    case .success: progress(DeployEvent(name, .cleaned))
                    case let .failure(f): progress(DeployEvent(name, .failed, "cleaning up: \(f)"))
                    }
                    await r.ssh.closeConnection()
                }
            }
        }
        lock.withLock { remote = [:] }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
