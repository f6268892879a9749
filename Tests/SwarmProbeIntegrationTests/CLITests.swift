import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// The built binary's behaviour on bad input: one line naming file/line/field, exit code 2.
@Suite("command line", .enabled(if: FileManager.default.isExecutableFile(atPath: swarmprobeBinary()), "swarmprobe binary not built"))
final class CLITests {
    /// This test's files, removed with it.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sp-cli-\(UUID().uuidString)")

    init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(at: directory) }

    func run(_ args: [String]) throws -> ProgramOutput {
        try Program.capture([swarmprobeBinary()] + args)
    }

    func tempFile(_ contents: String) throws -> String {
        let path = directory.appendingPathComponent("\(UUID().uuidString).yaml").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("swarmprobe lists what users run and no benchmark; swarmprobe-bench has the benchmarks, with the same one-line errors")
    func benchIsApart() throws {
        let help = try run(["--help"])
        #expect(help.status == 0)
        for command in ["check", "agent", "token", "discover", "demo", "aws"] {
            #expect(help.stdout.contains("  \(command) "), "\(command) missing from: \(help.stdout)")
        }
        #expect(!help.stdout.contains("bench"), "\(help.stdout)")
        #expect(try run(["bench", "mesh"]).status == 2)

        let bench = builtBinary("swarmprobe-bench")
        let benchHelp = try Program.capture([bench, "--help"])
        for command in ["mesh", "loss", "fanout", "scale"] {
            #expect(benchHelp.stdout.contains("  \(command) "), "\(command) missing from: \(benchHelp.stdout)")
        }
        for (args, mentions) in [
            (["fanout", "--peers", "0"], "--peers"), (["fanout", "--silent", "101"], "--silent"),
            (["mesh", "--sizes", "1"], "--sizes"), (["scale", "--nodes", "3"], "--nodes"),
        ] {
            let r = try Program.capture([bench] + args)
            #expect(r.status == 2 && r.stderr.contains(mentions) && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
    }

    @Test("published ports: each bad flag is one line naming it, exit 2")
    func publishedFlags() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swarmprobe-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inventory = dir.appendingPathComponent("nodes.yaml").path
        try "nodes:\n  - {name: a, address: 198.18.0.10, role: manager}\n  - {name: b, address: 198.18.0.11, role: worker}\n"
            .write(toFile: inventory, atomically: true, encoding: .utf8)
        let token = dir.appendingPathComponent("token").path
        _ = try Program.capture([swarmprobeBinary(), "token", "-o", token])
        let check = [swarmprobeBinary(), "check", "--inventory", inventory, "--token-file", token]
        for (args, mentions) in [
            (["--published", "8080"], "--published: \"8080\" is not a published port"),
            (["--published", "8080/tcp,8080/tcp"], "--published: 8080/tcp is listed twice"),
            (["--published", "auto"], "--published auto reads the services from the Docker Engine API"),
            (["--published", "7946/tcp"], "--published: 7946/tcp is the profile's kind"),
            (["--published", "8080/tcp", "--client-name", "a b"], "--client-name"),
            (["--published", "8080/tcp", "--client-name", "a"], "--client-name: \"a\" is also a node's name"),
        ] {
            let r = try Program.capture(check + args)
            #expect(r.status == 2 && r.stderr.contains(mentions) && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
        let agent = try Program.capture([swarmprobeBinary(), "agent", "--address", "198.18.0.10", "--token-file", token, "--published-live", "x"])
        #expect(agent.status == 2 && agent.stderr.contains("--published-live") && agent.stderr.split(separator: "\n").count == 1, "\(agent.stderr)")
    }

    @Test("swarmprobe-agent: the agent's flags, the same one-line errors and exit 2")
    func leanAgentFlags() throws {
        let lean = URL(fileURLWithPath: swarmprobeBinary()).deletingLastPathComponent().appendingPathComponent("swarmprobe-agent").path
        let help = try Program.capture([lean, "--help"])
        #expect(help.status == 0 && help.stdout.contains("--address") && help.stdout.contains("--no-capture"))
        let version = try Program.capture([lean, "--version"])
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == SwarmProbeVersion.current)
        let bad = try Program.capture([lean, "--address", "1.2.3", "--token-file", "y"])
        #expect(bad.status == 2 && bad.stderr.contains("--address"))
        let missing = try Program.capture([lean, "--address", "198.18.0.10", "--token-file", "/nonexistent/token"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "swarmprobe-agent: /nonexistent/token: token: cannot read the token file (no such file)\n", "\(missing.stderr)")
    }

    @Test func versionAndHelp() throws {
        #expect(try run(["--version"]).stdout.contains("0."))
        let help = try run(["--help"])
        #expect(help.status == 0)
        for sub in ["check", "agent", "token", "demo"] { #expect(help.stdout.contains(sub)) }
    }

    @Test func tokenIsFresh() throws {
        let a = try run(["token"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let b = try run(["token"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(a.count == 64 && b.count == 64 && a != b)
    }

    @Test func missingInventoryFile() throws {
        let token = try tempFile(String(repeating: "ab", count: 32) + "\n")
        let r = try run(["check", "--inventory", "/nonexistent/inv.yaml", "--token-file", token])
        #expect(r.status == 2)
        #expect(r.stderr == "swarmprobe: /nonexistent/inv.yaml: inventory: cannot read the file (no such file)\n")
    }

    @Test func badInventoryNamesFileAndLine() throws {
        let token = try tempFile(String(repeating: "ab", count: 32) + "\n")
        let inv = try tempFile("nodes:\n  - name: m1\n    address: 10.0.0.300\n    role: manager\n")
        let r = try run(["check", "--inventory", inv, "--token-file", token])
        #expect(r.status == 2)
        #expect(r.stderr == "swarmprobe: \(inv):3: node \"m1\": address \"10.0.0.300\" is not an IPv4 or IPv6 address\n")
    }

    @Test func badTokenFile() throws {
        let token = try tempFile("not-a-token\n")
        let inv = try tempFile("nodes:\n  - name: m1\n    address: 198.18.0.10\n    role: manager\n")
        let r = try run(["check", "--inventory", inv, "--token-file", token])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("swarmprobe: \(token):1: token: expected 64 hex digits"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test(arguments: [
        (["check", "--inventory", "x", "--token-file", "y", "--timeout", "soon"], "--timeout"),
        (["check", "--inventory", "x", "--token-file", "y", "--timeout", "90s"], "--timeout"),
        (["check", "--inventory", "x", "--token-file", "y", "--attempts", "11"], "--attempts"),
        (["check", "--inventory", "x", "--token-file", "y", "--timeout", "automatic"], "--timeout"),
        (["check", "--inventory", "x", "--token-file", "y", "--timeout", "10ms"], "--timeout"),
        (["agent", "--address", "1.2.3", "--token-file", "y"], "--address"),
        (["agent", "--address", "198.18.0.1", "--token-file", "y", "--control-port", "70000"], "--control-port"),
        (["check", "--token-file", "y"], "--inventory"),
        (["frobnicate"], "frobnicate"),
    ])
    func badFlags(args: [String], mentions: String) throws {
        let r = try run(args)
        #expect(r.status == 2, "\(args): \(r.stderr)")
        #expect(r.stderr.hasPrefix("swarmprobe: ") && r.stderr.contains(mentions), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }

    @Test func badProfileNamesFileLineAndField() throws {
        let token = try tempFile(String(repeating: "ab", count: 32) + "\n")
        let inv = try tempFile("nodes:\n  - name: m1\n    address: 198.18.0.10\n    role: manager\n")
        let profile = try tempFile("name: p\nkinds:\n  - name: vxlan\n    protocol: udp\n    port: 70000\n")
        for command in ["check", "agent"] {
            let args =
                command == "check"
                ? ["check", "--inventory", inv, "--token-file", token, "--profile", profile]
                : ["agent", "--address", "198.18.0.10", "--token-file", token, "--profile", profile]
            let r = try run(args)
            #expect(r.status == 2, "\(command): \(r.stderr)")
            #expect(r.stderr == "swarmprobe: \(profile):5: kind \"vxlan\": port 70000 is out of range (1-65535)\n")
        }
    }

    @Test func badDataPathPort() throws {
        let token = try tempFile(String(repeating: "ab", count: 32) + "\n")
        let inv = try tempFile("nodes:\n  - name: m1\n    address: 198.18.0.10\n    role: manager\n")
        let r = try run(["check", "--inventory", inv, "--token-file", token, "--data-path-port", "7946"])
        #expect(r.status == 2)
        #expect(r.stderr == "swarmprobe: --data-path-port: 7946/udp is already the profile's kind \"gossip-udp\"\n")
    }

    @Test func loopbackDemo() throws {
        let r = try run(["demo", "--loopback", "--timeout", "500ms"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("PASS"))
    }
}
