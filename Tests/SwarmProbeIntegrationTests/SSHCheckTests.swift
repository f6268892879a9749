import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// Why SSH labs cannot run here, or nil.
let sshLabUnavailable: String? = labUnavailable ?? LabSSH.unavailable()

/// `check --ssh` on namespace labs with a real `sshd` per node: the agents come and go with the check.
@Suite("check --ssh", .serialized, .enabled(if: sshLabUnavailable == nil, "\(sshLabUnavailable ?? "")"))
struct SSHCheckTests {
    let udp7946 = KindID(proto: .udp, port: 7946)
    let tcp7946 = KindID(proto: .tcp, port: 7946)
    let tcp2377 = KindID(proto: .tcp, port: 2377)
    let vxlan = KindID(proto: .udp, port: 4789)

    @Test("faults give the verdicts hand-started agents give; one SSH connection per node; nothing left on any node")
    func faults() throws {
        let scenario = LabScenario(
            name: "ssh",
            nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker), ("w3", .worker)],
            faults: [
                .networkDrop(from: "w1", to: "w2", kind: vxlan),
                .hostFirewall(node: "w2", from: "m1", kind: udp7946, reject: false),
                .hostFirewall(node: "w3", from: nil, kind: tcp2377, reject: true),
                .returnPathDrop(from: "m1", to: "w1", kind: udp7946),
                // The load balancer cannot reach a published port on w3: the SSH deploy starts the agents with it.
                .networkDrop(from: Lab.coordinator, to: "w3", kind: KindID(proto: .tcp, port: 8080)),
            ])
        try withLab(scenario, startAgents: false) { lab, _ in
            let ssh = try lab.startSSH()
            let before = RemoteLeftovers.directories()
            let run = try runSSHCheck(lab, ssh, extra: ["--published", "8080/tcp", "--client-name", Lab.coordinator])
            #expect(run.status == 1, "\(run.stderr)")
            #expect(run.results.complete)
            #expect(run.results.checks.filter { $0.published != nil }.map(\.to) == ["m1", "w1", "w2", "w3"])
            #expect(run.results.nodeFindings.filter { $0.port != nil }.map { "\($0.node) \($0.code)" } == ["w3 published-port-network"])
            #expect(run.results.nodes.allSatisfy { $0.agent.isUp && $0.taps.allSatisfy(\.active) }, "\(run.results.nodes.map(\.agent))")
            expectMatches(run.results, scenario, capture: true)
            #expect(RemoteLeftovers.find(in: lab, directoriesBefore: before).isEmpty)
            for node in lab.nodes {
                #expect(ssh.log(node.name).components(separatedBy: "Accepted publickey").count - 1 == 1, "\(node.name): \(ssh.log(node.name))")
            }
        }
    }

    @Test("the same verdicts as the same faults with hand-started agents")
    func sameAsHandStarted() throws {
        let scenario = LabScenario(
            name: "same", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.networkDrop(from: "m1", to: "w2", kind: tcp7946), .hostFirewall(node: "w1", from: "w2", kind: vxlan, reject: false)])
        try withLab(scenario) { lab, token in
            let byHand = try runCheck(lab, token: token)
            lab.stopAgents()
            let ssh = try lab.startSSH()
            let overSSH = try runSSHCheck(lab, ssh)
            let verdicts = { (r: Results) in
                r.checks.map { "\($0.from)>\($0.to) \($0.kindID) \($0.verdict) \($0.location?.rawValue ?? "-")" }.sorted()
            }
            #expect(verdicts(byHand.results) == verdicts(overSSH.results))
            #expect(byHand.status == overSSH.status)
        }
    }

    @Test("Ctrl-C mid-check: the check stops, says it is incomplete, and takes every agent off its node")
    func interrupted() throws {
        try interruptedCheck(signal: SIGINT) { lab, _, before, check in
            let exit = check.wait()
            #expect(exit.status == 1)
            #expect(RemoteLeftovers.find(in: lab, directoriesBefore: before).isEmpty)
        }
    }

    @Test("the coordinator killed (SIGKILL): each agent sees its session end and stops; nothing is left")
    func coordinatorKilled() throws {
        try interruptedCheck(signal: SIGKILL) { lab, ssh, before, check in
            check.wait()
            // The agents stop when their SSH sessions end; give them a moment.
            var left = RemoteLeftovers.find(in: lab, directoriesBefore: before)
            let deadline = Date().addingTimeInterval(20)
            while left.contains(where: { !$0.hasPrefix("directory /tmp/swarmprobe-ssh.") }) && Date() < deadline {
                usleep(200_000)
                left = RemoteLeftovers.find(in: lab, directoriesBefore: before)
            }
            // Only the coordinator's own directory here stays (a killed process cleans nothing); the next
            // check removes it.
            #expect(left.count == 1 && left[0].hasPrefix("directory /tmp/swarmprobe-ssh."), "\(left)")
            let run = try runSSHCheck(lab, ssh)
            #expect(run.status == 1)
            #expect(RemoteLeftovers.find(in: lab, directoriesBefore: before).isEmpty)
        }
    }

    /// Starts a slow SSH check, waits until every node runs an agent, sends `signal` to the coordinator.
    private func interruptedCheck(signal: Int32, then: (Lab, LabSSH, Set<String>, ChildProcess) throws -> Void) throws {
        // Nodes here share one file system: their directories, and the coordinator's, are told apart by name.
        let scenario = LabScenario(
            name: "cut", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [.networkDrop(from: "w1", to: "w2", kind: udp7946)])
        try withLab(scenario, startAgents: false) { lab, _ in
            let ssh = try lab.startSSH()
            let before = RemoteLeftovers.directories()
            let (check, _) = try startSSHCheck(lab, ssh, timeout: "10s")
            defer { check.terminate(grace: 1) }
            let deadline = Date().addingTimeInterval(60)
            while RemoteLeftovers.agents(in: lab).count < lab.nodes.count && Date() < deadline && check.isRunning { usleep(100_000) }
            #expect(RemoteLeftovers.agents(in: lab).count == lab.nodes.count, "the agents did not all start")
            // While it runs: the token is on no command line, and the directory holds only the agent.
            for (node, pid) in RemoteLeftovers.agents(in: lab) {
                let argv = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.split(separator: "\0").map(String.init) ?? []
                #expect(argv.contains("--token-file") && argv.contains("-"), "\(node): \(argv)")
            }
            for dir in RemoteLeftovers.directories().subtracting(before) where !dir.hasPrefix("/tmp/swarmprobe-ssh.") {
                let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                #expect(files == ["swarmprobe-agent"], "\(dir): \(files)")
                let mode = (try? FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int) ?? -1
                #expect(mode == 0o700, "\(dir) mode \(String(mode, radix: 8))")
            }
            usleep(500_000)
            check.signal(signal)
            try then(lab, ssh, before, check)
        }
    }

    @Test("a node whose sshd is down and one that refuses the key: agent-down with one line each, the rest checked")
    func unreachableNodes() throws {
        let scenario = LabScenario.healthy(nodes: 4, managers: 1)
        try withLab(scenario, startAgents: false) { lab, _ in
            let names = lab.nodes.map(\.name)
            let (down, refusing) = (names[2], names[3])
            let ssh = try lab.startSSH(refusingKey: [refusing])
            ssh.stop(down)
            let before = RemoteLeftovers.directories()
            let run = try runSSHCheck(lab, ssh)
            #expect(run.status == 1)
            let byName = Dictionary(uniqueKeysWithValues: run.results.nodes.map { ($0.name, $0.agent) })
            #expect(byName[down]?.status == .down && byName[down]?.detail?.contains("Connection refused") == true, "\(byName[down].debugDescription)")
            #expect(
                byName[refusing]?.status == .down && byName[refusing]?.detail?.contains("Permission denied") == true,
                "\(byName[refusing].debugDescription)")
            for n in [down, refusing] {
                #expect(run.stderr.split(separator: "\n").filter { $0.contains(n) && $0.contains("failed") }.count == 1, "\(run.stderr)")
                #expect(byName[n]?.detail?.contains("\n") == false)
            }
            let reachable = Set(names).subtracting([down, refusing])
            let between = run.results.checks.filter { reachable.contains($0.from) && reachable.contains($0.to) }
            #expect(!between.isEmpty && between.allSatisfy { $0.verdict == .open }, "\(between.map(\.detail))")
            let toDown = run.results.checks.filter { $0.to == down || $0.from == down }
            #expect(toDown.allSatisfy { $0.verdict == .agentDown }, "\(toDown.map(\.detail))")
            #expect(RemoteLeftovers.find(in: lab, directoriesBefore: before).isEmpty)
        }
    }
}

/// What an SSH check may leave on the lab's nodes, which share this machine's file system.
enum RemoteLeftovers {
    /// The agents' private directories on the nodes, and the checks' here, now present.
    static func directories() -> Set<String> {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        return Set(all.filter { $0.hasPrefix("swarmprobe.") || $0.hasPrefix("swarmprobe-ssh.") }.map { "/tmp/" + $0 })
    }

    /// Each node's running `swarmprobe-agent`, by node name.
    static func agents(in lab: Lab) -> [(String, Int32)] {
        lab.nodes.flatMap { node -> [(String, Int32)] in
            Lab.processes(in: node.namespace).filter { pid in
                let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
                return comm.hasPrefix("swarmprobe-agen")
            }.map { (node.name, $0) }
        }
    }

    /// Every agent, directory and tap table an SSH check left, one line each.
    static func find(in lab: Lab, directoriesBefore: Set<String>) -> [String] {
        var left = agents(in: lab).map { "\($0.0): agent process \($0.1)" }
        left += directories().subtracting(directoriesBefore).sorted().map { "directory \($0)" }
        for node in lab.nodes {
            let tables = (try? Program.run(["ip", "netns", "exec", node.namespace, "nft", "list", "tables"])) ?? ""
            left += tables.split(whereSeparator: \.isNewline).filter { $0.contains("swarmprobe") }.map { "\(node.name): \($0)" }
        }
        return left
    }
}

/// Runs `swarmprobe check --ssh` in the lab's switch namespace and parses what it wrote.
func runSSHCheck(_ lab: Lab, _ ssh: LabSSH, timeout: String = "1000ms", extra: [String] = []) throws -> CheckRun {
    let (check, files) = try startSSHCheck(lab, ssh, timeout: timeout, extra: extra)
    let exit = check.wait()
    let stderr = (try? String(contentsOfFile: files.stderr, encoding: .utf8)) ?? ""
    guard let data = FileManager.default.contents(atPath: files.json) else {
        throw ProgramError(command: ["swarmprobe", "check", "--ssh"], status: exit.status, message: stderr)
    }
    let results = try JSONDecoder().decode(Results.self, from: data)
    let md = (try? String(contentsOfFile: files.report, encoding: .utf8)) ?? ""
    return CheckRun(status: exit.status, stdout: "", stderr: stderr, results: results, markdown: md)
}

/// Starts `swarmprobe check --ssh` in the lab's switch namespace without waiting for it.
func startSSHCheck(
    _ lab: Lab, _ ssh: LabSSH, timeout: String, extra: [String] = []
) throws -> (ChildProcess, (json: String, report: String, stderr: String)) {
    let inventory = try lab.write("inventory-ssh.yaml", lab.inventoryYAML(sshUser: "root"))
    let name = UUID().uuidString
    let files = (
        json: lab.directory.appendingPathComponent("\(name).json").path, report: lab.directory.appendingPathComponent("\(name).md").path,
        stderr: lab.directory.appendingPathComponent("\(name).err").path
    )
    let check = try ChildProcess(
        [
            "ip", "netns", "exec", lab.switchNamespace, swarmprobeBinary(), "check", "--ssh", "--inventory", inventory,
            "--timeout", timeout, "--json", files.json, "--report", files.report, "--quiet",
        ] + ssh.sshOptions.flatMap { ["--ssh-option", $0] } + extra, stdout: .null, stderr: .file(files.stderr))
    return (check, files)
}
