import Foundation
import SwarmProbeCore
import SwarmProbeProcess
import Testing

@testable import SwarmProbeDeploy

@Suite("check --ssh: what is asked of a node, and the ssh command lines")
struct SSHDeployTests {
    @Test("the node's one-command report: parsed when it is the five lines, refused otherwise")
    func report() {
        let h = RemoteHost(report: "x86_64\n1000\nsudo\nno-libpcap\n/tmp/swarmprobe.AbC12345\n")
        #expect(h == RemoteHost(architecture: "x86_64", root: false, sudo: true, libpcap: false, directory: "/tmp/swarmprobe.AbC12345"))
        #expect(h?.asRoot == "sudo -n ")
        #expect(RemoteHost(report: "x86_64\n0\nno-sudo\nlibpcap\n/tmp/swarmprobe.x\n")?.asRoot == "")
        for bad in ["", "x86_64\n0\nsudo\nlibpcap\n", "x86_64\nroot\nsudo\nlibpcap\n/tmp/swarmprobe.x", "x86_64\n0\nsudo\nlibpcap\n/home/x"] {
            #expect(RemoteHost(report: bad) == nil, "\(bad)")
        }
    }

    @Test("what is missing, each with the command that installs or allows it; nothing when nothing is")
    func problems() {
        let ok = RemoteHost(architecture: "x86_64", root: true, sudo: false, libpcap: true, directory: "/tmp/swarmprobe.a")
        #expect(ok.problem(localArchitecture: "x86_64") == nil)
        let sudoOnly = RemoteHost(architecture: "x86_64", root: false, sudo: true, libpcap: true, directory: "/tmp/swarmprobe.a")
        #expect(sudoOnly.problem(localArchitecture: "x86_64") == nil)
        let bare = RemoteHost(architecture: "aarch64", root: false, sudo: false, libpcap: false, directory: "/tmp/swarmprobe.a")
        let p = bare.problem(localArchitecture: "x86_64") ?? ""
        #expect(p.contains("it is aarch64 and the agent binary is x86_64"))
        #expect(p.contains("apt-get install -y libpcap0.8") && p.contains("dnf install -y libpcap"))
        #expect(p.contains("sudo asks for a password"))
        #expect(!p.contains("\n"))
    }

    @Test("the probe runs in a POSIX shell and reports this machine")
    func probeHere() throws {
        let out = try Program.capture(["sh", "-c", RemoteHost.probe])
        let h = try #require(RemoteHost(report: out.stdout), "\(out.stdout)")
        defer { try? FileManager.default.removeItem(atPath: h.directory) }
        #expect(h.architecture == (try Program.run(["uname", "-m"])).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(h.root == (geteuid() == 0))
        let mode = try FileManager.default.attributesOfItem(atPath: h.directory)[.posixPermissions] as? Int
        #expect(mode == 0o700)
    }

    @Test("batch mode and the shared connection first (the user cannot undo them), the user's options, then timeouts")
    func commandLine() {
        let node = Node(name: "m1", address: IPAddress("198.18.1.11")!, role: .manager)
        let ssh = SSHNode(
            node: node, target: SSHTarget(user: "admin", host: "m1.internal", port: 2222), controlPath: "/tmp/d/cm0",
            options: ["ProxyJump=bastion", "ConnectTimeout=30"])
        let cmd = ssh.command("uname -m")
        #expect(
            cmd == [
                "ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPath=/tmp/d/cm0", "-o", "ProxyJump=bastion", "-o",
                "ConnectTimeout=30", "-o", "ConnectTimeout=10", "-o", "ControlPersist=60", "-o", "ServerAliveInterval=5", "-o", "LogLevel=ERROR",
                "-p", "2222", "--", "admin@m1.internal", "uname -m",
            ])
        let plain = SSHNode(node: node, target: node.sshTarget, controlPath: "/tmp/d/cm1", options: [])
        #expect(plain.command("true").suffix(3) == ["--", "198.18.1.11", "true"])
        #expect(!plain.command("true").contains("-p"))
    }

    @Test("an ssh failure in one line: ssh's own (exit 255) says so, the remote command's is its last line")
    func failures() {
        #expect(
            SSHFailure(status: 255, stderr: "root@198.18.1.13: Permission denied (publickey).\n").description
                == "ssh: root@198.18.1.13: Permission denied (publickey).")
        #expect(SSHFailure(status: 1, stderr: "gzip: stdin: unexpected end of file\n\n").description == "gzip: stdin: unexpected end of file")
        #expect(SSHFailure(status: 7, stderr: "").description == "exit 7")
    }

    @Test("the agent binary: its architecture from the ELF header, refused when not an executable or of another version")
    func agentBinary() throws {
        #expect(try AgentBinary.architecture("/bin/sh") == (try Program.run(["uname", "-m"])).trimmingCharacters(in: .whitespacesAndNewlines))
        let notELF = #expect(throws: InputError.self) { try AgentBinary.architecture("/etc/hostname") }
        #expect(notELF?.description == "--agent-binary: /etc/hostname is not an ELF executable")
        let other = #expect(throws: InputError.self) { try AgentBinary.checkVersion("/bin/false") }
        #expect(other?.description.contains("this swarmprobe is \(SwarmProbeVersion.current): use the agent of the same build") == true)
        let missing = #expect(throws: InputError.self) { try AgentBinary.checkVersion("/nonexistent/swarmprobe-agent") }
        #expect(missing?.description.contains("pass --agent-binary") == true)
    }

    @Test("progress lines name the node, the step and any detail")
    func events() {
        #expect(DeployEvent("w1", .connecting, "root@198.18.1.13").description == "w1: connecting (root@198.18.1.13)")
        #expect(DeployEvent("w1", .cleaned).description == "w1: cleaned")
    }
}
