import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// One node as `check --ssh` reaches it: the user's own `ssh` (their config, agent, jump hosts, known_hosts),
/// in batch mode so nothing waits on a prompt, every command over one connection (`ControlMaster`).
struct SSHNode: Sendable {
    let node: Node
    let target: SSHTarget
    /// The connection's socket, in this check's private directory.
    let controlPath: String
    /// `--ssh-option` values, each passed as `-o`.
    let options: [String]

    /// The ssh command that runs `remote` (a shell command line) on the node. ssh keeps the first value it
    /// gets for an option: batch mode and the shared connection come before the user's options and cannot be
    /// overridden; the timeouts come after and can.
    func command(_ remote: String) -> [String] {
        var args = ["ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPath=\(controlPath)"]
        for o in options { args += ["-o", o] }
        args += ["-o", "ConnectTimeout=10", "-o", "ControlPersist=60", "-o", "ServerAliveInterval=5", "-o", "LogLevel=ERROR"]
        if let port = target.port { args += ["-p", String(port)] }
        return args + ["--", target.destination, remote]
    }

    /// Runs `remote` to its end; stdin from `stdinFile`. Returns its stdout, or the reason in one line.
    func run(_ remote: String, stdinFile: String? = nil, timeout: TimeInterval = 120) async -> Result<String, SSHFailure> {
        let cmd = command(remote)
        return await blocking {
            do {
                let out = try Program.capture(cmd, stdinFile: stdinFile, timeout: timeout)
                guard out.status == 0 else { return .failure(SSHFailure(status: out.status, stderr: out.stderr)) }
                return .success(out.stdout)
            } catch {
                return .failure(SSHFailure(status: -1, stderr: "\(error)"))
            }
        }
    }

    /// Closes the shared connection (`ssh -O exit`).
    func closeConnection() async {
        let cmd = ["ssh", "-o", "ControlPath=\(controlPath)", "-O", "exit", target.destination]
        _ = await blocking { try? Program.capture(cmd, timeout: 10) }
    }
}

/// Why an ssh command failed, as ssh or the remote command said it, on one line.
struct SSHFailure: Error, CustomStringConvertible {
    var status: Int32
    var stderr: String

    var description: String {
        let lines = stderr.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let text = lines.last ?? "exit \(status)"
        // 255 is ssh's own failure (connection, authentication); anything else is the remote command's.
        return status == 255 ? "ssh: \(text)" : text
    }
}
