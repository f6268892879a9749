import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// OpenSSH on a lab's nodes: one `sshd` per node namespace, a host key, a user key the servers accept, and a
/// known_hosts file naming every node, so `check --ssh` logs in as it would to real machines.
public final class LabSSH: @unchecked Sendable {
    /// The key the servers accept (`IdentityFile`).
    public let identityFile: String
    /// Every node's address with the host key (`UserKnownHostsFile`).
    public let knownHosts: String
    private let directory: String
    private let hostKey: String
    private let lock = NSLock()
    // Guarded by `lock`: each node's server.
    private var servers: [String: ChildProcess] = [:]

    /// Why SSH labs cannot run here, or nil.
    public static func unavailable() -> String? {
        for path in ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"] where !FileManager.default.isExecutableFile(atPath: path) {
            return "\(path) is missing (apt-get install -y openssh-server openssh-client)"
        }
        return nil
    }

    /// The `ssh -o` options that log in with the lab's key and trust only the lab's host key.
    public var sshOptions: [String] {
        [
            "IdentityFile=\(identityFile)", "IdentitiesOnly=yes", "UserKnownHostsFile=\(knownHosts)", "GlobalKnownHostsFile=/dev/null",
            "StrictHostKeyChecking=yes",
        ]
    }

    init(directory: String) throws {
        self.directory = directory
        identityFile = directory + "/id_ed25519"
        hostKey = directory + "/host_ed25519"
        knownHosts = directory + "/known_hosts"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // sshd's privilege separation directory.
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        for key in [identityFile, hostKey] {
            try Program.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "swarmprobe-lab", "-f", key])
        }
        // A key the servers do not accept, for a node that refuses ours.
        try Program.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "swarmprobe-lab-other", "-f", directory + "/other_ed25519"])
    }

    /// Starts `sshd` in `node`'s namespace on its address. `acceptKey: false` authorizes another key than ours.
    func start(_ node: LabNode, acceptKey: Bool = true) throws {
        let config = "\(directory)/sshd-\(node.name).conf"
        let authorized = acceptKey ? identityFile + ".pub" : directory + "/other_ed25519.pub"
        try """
        ListenAddress \(node.address)
        HostKey \(hostKey)
        PidFile \(directory)/sshd-\(node.name).pid
        AuthorizedKeysFile \(authorized)
        PermitRootLogin prohibit-password
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        StrictModes no
        UsePAM no
        LogLevel INFO

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let log = "\(directory)/sshd-\(node.name).log"
        try? FileManager.default.removeItem(atPath: log)
        let server = try ChildProcess(
            ["ip", "netns", "exec", node.namespace, "/usr/sbin/sshd", "-D", "-f", config, "-E", log], stdout: .null, stderr: .file(log + ".err"))
        lock.withLock { servers[node.name] = server }
        let deadline = Date().addingTimeInterval(10)
        while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("Server listening") {
            if let exit = server.poll() {
                throw ProgramError(command: ["sshd on \(node.name)"], status: exit.status, message: self.log(node.name))
            }
            if Date() > deadline { throw ProgramError(command: ["sshd on \(node.name)"], status: -1, message: "not listening after 10 s") }
            usleep(20_000)
        }
        let hostPublic = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let line = "\(node.address) \(hostPublic)\n"
        try lock.withLock {
            let old = (try? String(contentsOfFile: knownHosts, encoding: .utf8)) ?? ""
            if !old.contains(line) { try (old + line).write(toFile: knownHosts, atomically: true, encoding: .utf8) }
        }
    }

    /// The server's log of one node (logins, sessions, their commands' ends).
    public func log(_ node: String) -> String {
        let base = "\(directory)/sshd-\(node).log"
        return ((try? String(contentsOfFile: base, encoding: .utf8)) ?? "") + ((try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }

    /// Stops one node's server: "sshd is down".
    public func stop(_ node: String) {
        guard let server = lock.withLock({ servers.removeValue(forKey: node) }) else { return }
        server.terminate(grace: 2)
    }

    func stopAll() {
        for name in lock.withLock({ Array(servers.keys) }) { stop(name) }
    }
}

extension Lab {
    /// Starts `sshd` on every node (`refusingKey`: these accept another key than the lab's) and returns how to log
    /// in; `destroy()` stops them.
    public func startSSH(refusingKey: Set<String> = []) throws -> LabSSH {
        let ssh = try sshServers()
        for node in nodes { try ssh.start(node, acceptKey: !refusingKey.contains(node.name)) }
        return ssh
    }
}
