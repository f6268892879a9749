import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// A real Docker swarm on a namespace lab: one dockerd per node namespace,
/// `swarm init` on the first manager, the others joined with their advertise address, a busybox
/// image imported from a tar (no registry), and an attachable overlay network.
///
/// Everything lives under `<lab directory>/docker/<node>`: data root, exec root, socket, pidfile,
/// `daemon.json`, and the daemon's log `dockerd.log`. `destroy()` removes containers, leaves the
/// swarm, stops every daemon by its pidfile (SIGTERM, then SIGKILL), kills what is left of its
/// containerd and shims, unmounts what is left under the node's directory, and then destroys the
/// namespace lab. It is idempotent, runs on every failed build, and from `deinit`.
public final class DockerSwarmLab: @unchecked Sendable {
    // Immutable after init except `containers`, `daemons` and `destroyed`, guarded by `lock`.
    public let lab: Lab
    /// `<lab directory>/docker`.
    public let directory: URL
    /// The attachable overlay network every `runContainer` attaches to.
    public let overlayNetwork = "spov1"
    /// The image `docker import` made from busybox-static.
    public let image = "spbusybox:lab"
    /// The manager the swarm was initialised on.
    public let firstManager: String

    private let lock = NSLock()
    private var containers: [String: String] = [:]  // container name -> node name
    private var daemons: [String: ChildProcess] = [:]  // node name -> the dockerd process we started
    private var destroyed = false
    private let debug: Bool

    public var nodes: [LabNode] { lab.nodes }
    public func node(_ name: String) -> LabNode { lab.node(name) }

    /// Why a Docker lab cannot be built here, or nil when it can.
    public static func canBuild() -> String? {
        if let why = Lab.canBuild() { return why }
        for tool in ["dockerd", "docker", "containerd", "runc", "nsenter", "unshare", "busybox"] where (try? Program.path(tool)) == nil {
            return "\(tool) is not installed (apt-get install -y docker.io busybox-static)"
        }
        return nil
    }

    /// Builds the swarm. `nodes`: at least one manager; the first manager runs `swarm init`.
    /// `debug`: start every dockerd with `--debug`.
    public init(nodes specs: [(name: String, role: Role)], debug: Bool = false, readyTimeout: TimeInterval = 60) throws {
        guard let first = specs.first(where: { $0.role == .manager }) else {
            throw ProgramError(command: ["DockerSwarmLab"], status: -1, message: "a swarm needs at least one manager")
        }
        firstManager = first.name
        self.debug = debug
        lab = try Lab(nodes: specs)
        directory = lab.directory.appendingPathComponent("docker")
        DockerLabRegistry.shared.add(self)
        do {
            try build(readyTimeout: readyTimeout)
        } catch {
            destroy()
            throw error
        }
    }

    // MARK: - Paths

    /// `<lab directory>/docker/<node>`.
    public func nodeDirectory(_ node: String) -> URL { directory.appendingPathComponent(node) }
    private func path(_ node: String, _ leaf: String) -> String { nodeDirectory(node).appendingPathComponent(leaf).path }
    public func socketPath(_ node: String) -> String { path(node, "docker.sock") }
    /// `unix:///...docker.sock` of the node's daemon (a DOCKER_HOST value).
    public func dockerHost(_ node: String) -> String { "unix://" + socketPath(node) }
    public func dockerdLogPath(_ node: String) -> String { path(node, "dockerd.log") }
    /// Everything the node's dockerd (and the containerd it started) wrote so far.
    public func dockerdLog(_ node: String) -> String {
        (try? String(contentsOfFile: dockerdLogPath(node), encoding: .utf8)) ?? ""
    }
    /// The pid in the node's pidfile, or of the process we started while it has not written one.
    public func dockerdPID(_ node: String) -> Int32? {
        if let text = try? String(contentsOfFile: path(node, "docker.pid"), encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        {
            return pid
        }
        return lock.withLock { daemons[node].flatMap { $0.isRunning ? $0.pid : nil } }
    }

    // MARK: - Build

    private func build(readyTimeout: TimeInterval) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for n in nodes { try startDaemon(n) }
        // While the daemons come up: the image tarball.
        let tar = try makeBusyboxTar()
        try DockerSwarmLab.parallel(nodes.map { n in { try self.waitReady(n.name, timeout: readyTimeout) } })
        let manager = node(firstManager)
        _ = try docker(firstManager, ["swarm", "init", "--advertise-addr", manager.address.description])
        let workerToken = try docker(firstManager, ["swarm", "join-token", "-q", "worker"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let others = nodes.filter { $0.name != firstManager }
        let managerToken =
            others.contains { $0.role == .manager }
            ? try docker(firstManager, ["swarm", "join-token", "-q", "manager"]).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        let join: @Sendable (LabNode) throws -> Void = { n in
            _ = try self.docker(
                n.name,
                [
                    "swarm", "join", "--advertise-addr", n.address.description,
                    "--token", n.role == .manager ? managerToken : workerToken, "\(manager.address):2377",
                ],
                timeout: 60)
        }
        // Managers join one at a time (each is a raft membership change); workers all at once, and alongside
        // them every node imports the image and the first manager makes the overlay.
        var jobs: [@Sendable () throws -> Void] = [
            {
                for m in others where m.role == .manager { try join(m) }
            }
        ]
        jobs += others.filter { $0.role == .worker }.map { w in { try join(w) } }
        jobs += nodes.map { n in { _ = try self.docker(n.name, ["import", tar, self.image]) } }
        jobs.append {
            _ = try self.docker(self.firstManager, ["network", "create", "-d", "overlay", "--attachable", self.overlayNetwork])
        }
        try DockerSwarmLab.parallel(jobs)
        try waitAllNodesReady(timeout: readyTimeout)
    }

    private func startDaemon(_ n: LabNode) throws {
        let dir = nodeDirectory(n.name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Our own daemon.json: nothing from /etc/docker applies, and the 20.10 trust key goes here
        // instead of /etc/docker/key.json.
        try #"{ "deprecated-key-path": "\#(path(n.name, "key.json"))" }"#.write(
            toFile: path(n.name, "daemon.json"), atomically: true, encoding: .utf8)
        let log = dockerdLogPath(n.name)
        // nsenter (not `ip netns exec`: that remounts /sys and dockerd then fails with "Devices cgroup
        // isn't mounted"); a UTS namespace of its own so each node has its own hostname, which is
        // what swarm calls the node. Neither forks: the process we start becomes dockerd.
        var args = [
            try Program.path("nsenter"), "--net=/run/netns/\(n.namespace)", "--",
            try Program.path("unshare"), "--uts", "--",
            "/bin/sh", "-c", "hostname \"$0\" && exec \"$@\"", n.name,
            try Program.path("dockerd"),
            "--config-file", path(n.name, "daemon.json"),
            "--data-root", path(n.name, "root"), "--exec-root", path(n.name, "exec"),
            "-H", dockerHost(n.name), "--pidfile", path(n.name, "docker.pid"),
            "--storage-driver", "vfs", "--bridge", "none", "--iptables=false", "--ip6tables=false",
        ]
        if debug { args.append("--debug") }
        let p = try ChildProcess(args, stdout: .file(log), stderr: .file(log))
        lock.withLock { daemons[n.name] = p }
    }

    private func waitReady(_ node: String, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if FileManager.default.fileExists(atPath: socketPath(node)),
                let r = try? Program.capture(dockerCommand(["info", "--format", "{{.ID}}"]), environment: env(node), timeout: 10), r.status == 0
            {
                return
            }
            if let exit = lock.withLock({ daemons[node] })?.poll() {
                throw ProgramError(command: ["dockerd on \(node)"], status: exit.status, message: "exited: " + DockerSwarmLab.tail(dockerdLog(node)))
            }
            if Date() > deadline {
                throw ProgramError(
                    command: ["dockerd on \(node)"], status: -1,
                    message: "no answer to `docker info` after \(Int(timeout)) s: " + DockerSwarmLab.tail(dockerdLog(node)))
            }
            usleep(50_000)
        }
    }

    private func waitAllNodesReady(timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while true {
            last = try docker(firstManager, ["node", "ls", "--format", "{{.Hostname}} {{.Status}}"])
            let ready = last.split(separator: "\n").filter { $0.hasSuffix(" Ready") }.count
            if ready == nodes.count { return }
            if Date() > deadline {
                throw ProgramError(
                    command: ["docker node ls"], status: -1, message: "not all \(nodes.count) nodes Ready after \(Int(timeout)) s: \(last)")
            }
            usleep(100_000)
        }
    }

    /// A folder with /bin/busybox and a link per applet, as a tar `docker import` takes.
    private func makeBusyboxTar() throws -> String {
        let root = directory.appendingPathComponent("busybox-rootfs")
        let bin = root.appendingPathComponent("bin")
        let fm = FileManager.default
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        let busybox = try Program.path("busybox")
        try fm.copyItem(atPath: busybox, toPath: bin.appendingPathComponent("busybox").path)
        for applet in try Program.run([busybox, "--list"]).split(separator: "\n").map(String.init) where applet != "busybox" && !applet.contains("/")
        {
            try? fm.createSymbolicLink(atPath: bin.appendingPathComponent(applet).path, withDestinationPath: "busybox")
        }
        for d in ["tmp", "etc", "proc", "sys", "dev"] {
            try fm.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        let tar = directory.appendingPathComponent("busybox.tar").path
        try Program.run(["tar", "-C", root.path, "-cf", tar, "."])
        return tar
    }

    // MARK: - Using it

    private func dockerCommand(_ args: [String]) -> [String] { ["docker"] + args }
    private func env(_ node: String) -> [String: String] {
        var e = ProcessInfo.processInfo.environment
        e["DOCKER_HOST"] = dockerHost(node)
        e["DOCKER_CLI_HINTS"] = "false"
        e.removeValue(forKey: "DOCKER_CONTEXT")
        return e
    }

    /// Runs `docker args...` against `node`'s daemon; returns stdout, throws with stderr on failure.
    @discardableResult
    public func docker(_ node: String, _ args: [String], timeout: TimeInterval = 30) throws -> String {
        let command = dockerCommand(args)
        let r = try Program.capture(command, environment: env(node), timeout: timeout)
        guard r.status == 0 else {
            throw ProgramError(command: ["DOCKER_HOST=\(dockerHost(node))"] + command, status: r.status, message: r.stderr + r.stdout)
        }
        return r.stdout
    }

    /// Starts a long-running busybox `sleep` container named `name` on `node`, attached to the overlay.
    public func runContainer(node: String, name: String) throws {
        // SIGKILL as the stop signal: `sleep` as pid 1 ignores SIGTERM, and a daemon shutting down
        // would wait 10 s for it.
        try docker(
            node,
            [
                "run", "-d", "--name", name, "--hostname", name, "--network", overlayNetwork,
                "--stop-signal", "SIGKILL", image, "sleep", "1000000000",
            ], timeout: 60)
        lock.withLock { containers[name] = node }
    }

    /// The overlay address of a container started with `runContainer`.
    public func containerIP(_ name: String) throws -> String {
        guard let node = lock.withLock({ containers[name] }) else {
            throw ProgramError(command: ["containerIP"], status: -1, message: "no container \(name) in this lab")
        }
        let ip = try docker(node, ["inspect", "-f", "{{(index .NetworkSettings.Networks \"\(overlayNetwork)\").IPAddress}}", name])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard IPAddress(ip) != nil else {
            throw ProgramError(command: ["containerIP"], status: -1, message: "container \(name) has no address on \(overlayNetwork): \"\(ip)\"")
        }
        return ip
    }

    /// `docker exec NAME ping -c COUNT -W 1 [-s SIZE] IP`: did any echo come back? `size`: ICMP payload bytes.
    public func ping(fromContainer name: String, to ip: String, count: Int = 2, size: Int? = nil) -> Bool {
        guard let node = lock.withLock({ containers[name] }) else { return false }
        let r = try? Program.capture(
            dockerCommand(["exec", name, "ping", "-c", "\(count)", "-W", "1"] + (size.map { ["-s", "\($0)"] } ?? []) + [ip]),
            environment: env(node), timeout: TimeInterval(count + 10))
        return r?.status == 0
    }

    public func inject(_ fault: LabFault) throws { try lab.inject(fault) }

    // MARK: - Teardown

    /// Removes everything; safe to call more than once.
    public func destroy() {
        let already = lock.withLock { () -> Bool in
            defer { destroyed = true }
            return destroyed
        }
        if already { return }
        let started = lock.withLock { daemons }
        let live = nodes.filter { started[$0.name] != nil && dockerdPID($0.name) != nil }
        // 1. Containers (killed: SIGKILL), every node at once.
        DockerSwarmLab.parallelIgnoringErrors(
            live.map { n in
                {
                    let env = self.env(n.name)
                    if let ids = try? Program.capture(self.dockerCommand(["ps", "-aq"]), environment: env, timeout: 10), ids.status == 0 {
                        let list = ids.stdout.split(separator: "\n").map(String.init)
                        if !list.isEmpty { _ = try? Program.capture(self.dockerCommand(["rm", "-f"] + list), environment: env, timeout: 20) }
                    }
                }
            })
        // 2. Leave the swarm: workers at once while the managers still answer, then the managers.
        for role in [Role.worker, .manager] {
            DockerSwarmLab.parallelIgnoringErrors(
                live.filter { $0.role == role }.map { n in
                    {
                        _ = try? Program.capture(self.dockerCommand(["swarm", "leave", "--force"]), environment: self.env(n.name), timeout: 15)
                    }
                })
        }
        // 2. The daemons: SIGTERM all, wait, SIGKILL what is left.
        var pids: [(node: String, pid: Int32)] = []
        for n in nodes {
            if let pid = dockerdPID(n.name) { pids.append((n.name, pid)) }
        }
        for (_, pid) in pids { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        for (name, pid) in pids {
            while DockerSwarmLab.alive(pid, process: started[name]) && Date() < deadline { usleep(20_000) }
            if DockerSwarmLab.alive(pid, process: started[name]) { kill(pid, SIGKILL) }
        }
        for (_, p) in started {
            p.signal(SIGKILL)
            p.wait()
        }
        // 3. Whatever the daemons left running from this lab (containerd, shims, container processes).
        DockerSwarmLab.killProcesses(mentioning: directory.path)
        // 4. Mounts under our directory (the data root's bind mount, nsfs of network sandboxes, shm).
        DockerSwarmLab.unmountAll(under: directory.path)
        // 5. Namespaces, veths, nft tables, and the lab directory with ours in it.
        lab.destroy()
        DockerLabRegistry.shared.remove(self)
    }

    deinit { destroy() }

    private static func alive(_ pid: Int32, process: ChildProcess?) -> Bool {
        if let process, process.pid == pid { return process.isRunning }
        // Not our child: a zombie of someone else's would look alive; check its state.
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        if let close = stat.lastIndex(of: ")") {
            let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
            return state != "Z"
        }
        return false
    }

    /// SIGKILLs each process whose command line or working directory names `path` (ours only: the
    /// path holds the lab's unique id).
    static func killProcesses(mentioning path: String) {
        guard path.contains("swarmprobe-lab-") else { return }
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for e in entries {
            guard let pid = Int32(e), pid != me,
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { continue }
            let cmdline = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            if cmdline.contains(path) { kill(pid, SIGKILL) }
        }
    }

    /// Unmounts every mount point under `path`, deepest first (recursive, then lazy if busy).
    static func unmountAll(under path: String) {
        for _ in 0..<3 {
            let points = mountPoints(under: path)
            if points.isEmpty { return }
            for p in points.sorted(by: { $0.count > $1.count }) {
                if (try? Program.run(["umount", "-R", p])) == nil { Program.attempt(["umount", "-l", p]) }
            }
        }
    }

    static func mountPoints(under path: String) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var points: Set<String> = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let point = unescapeMount(String(fields[4]))
            if point == path || point.hasPrefix(prefix) { points.insert(point) }
        }
        return Array(points)
    }

    private static func unescapeMount(_ s: String) -> String {
        // mountinfo escapes space, tab, newline and backslash as \ooo.
        var out = "", chars = Array(s), i = 0
        while i < chars.count {
            if chars[i] == "\\", i + 3 < chars.count, let v = UInt8(String(chars[(i + 1)...(i + 3)]), radix: 8) {
                out.append(Character(UnicodeScalar(v)))
                i += 4
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        return out
    }

    // MARK: - Processes

    private static func tail(_ text: String, lines: Int = 8) -> String {
        text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Runs the jobs on threads of their own; waits for all; rethrows the first error.
    static func parallel(_ jobs: [@Sendable () throws -> Void]) throws {
        let errors = ErrorBox()
        let group = DispatchGroup()
        for job in jobs {
            group.enter()
            Thread.detachNewThread {
                do { try job() } catch { errors.add(error) }
                group.leave()
            }
        }
        group.wait()
        if let first = errors.first { throw first }
    }

    static func parallelIgnoringErrors(_ jobs: [@Sendable () -> Void]) {
        try? parallel(jobs.map { job in { job() } })
    }
}

private final class ErrorBox: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var errors: [any Error] = []
    func add(_ e: any Error) { lock.withLock { errors.append(e) } }
    var first: (any Error)? { lock.withLock { errors.first } }
}

/// Every live Docker lab of this process, so a signal handler can tear them all down
/// (`LabRegistry.shared.destroyAll()` alone would leave the daemons running). Weak: a lab
/// nobody holds any more is destroyed by its `deinit`.
public final class DockerLabRegistry: @unchecked Sendable {
    // Guarded by `lock`.
    public static let shared = DockerLabRegistry()
    private let lock = NSLock()
    private struct Weak { weak var lab: DockerSwarmLab? }
    private var labs: [ObjectIdentifier: Weak] = [:]

    func add(_ lab: DockerSwarmLab) { lock.withLock { labs[ObjectIdentifier(lab)] = Weak(lab: lab) } }
    func remove(_ lab: DockerSwarmLab) { lock.withLock { labs[ObjectIdentifier(lab)] = nil } }

    public func destroyAll() {
        let all = lock.withLock { labs.values.compactMap(\.lab) }
        for lab in all { lab.destroy() }
    }
}
