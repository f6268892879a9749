import Foundation
import SwarmProbeProcess

/// Starts agent processes, waits for their ready line, and stops them.
/// Each agent's output goes to a log file (a pipe nobody drains would stall it).
final class AgentSupervisor: @unchecked Sendable {
    struct Spec {
        var name: String
        /// Run before the binary, e.g. `ip netns exec NS` (which execs, so the pid is the agent's).
        var launcher: [String]
        var arguments: [String]
    }

    // `processes` is guarded by `lock`.
    private let lock = NSLock()
    private var processes: [String: ChildProcess] = [:]
    let directory: URL

    init(directory: URL) { self.directory = directory }

    private func logURL(_ name: String) -> URL { directory.appendingPathComponent("agent-\(name).log") }

    func start(_ specs: [Spec], readyTimeout: TimeInterval = 20) throws {
        for spec in specs {
            let log = logURL(spec.name).path
            let p = try ChildProcess(spec.launcher + spec.arguments, stdout: .file(log), stderr: .file(log))
            lock.withLock { processes[spec.name] = p }
        }
        let deadline = Date().addingTimeInterval(readyTimeout)
        for spec in specs {
            while true {
                let text = log(spec.name)
                if text.contains("agent ready") { break }
                let p = lock.withLock { processes[spec.name] }
                if let exit = p?.poll() {
                    throw ProgramError(command: ["swarmprobe agent on \(spec.name)"], status: exit.status, message: text)
                }
                if Date() > deadline {
                    throw ProgramError(command: ["swarmprobe agent on \(spec.name)"], status: -1, message: "not ready after \(Int(readyTimeout)) s: \(text)")
                }
                usleep(20_000)
            }
        }
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: logURL(name), encoding: .utf8)) ?? ""
    }

    func pid(_ name: String) -> Int32? { lock.withLock { processes[name]?.pid } }

    func kill(_ name: String) {
        guard let p = lock.withLock({ processes.removeValue(forKey: name) }) else { return }
        p.signal(SIGKILL)
        p.wait()
    }

    /// SIGTERM, then SIGKILL after a grace period.
    func stopAll(grace: TimeInterval = 3) {
        let all = lock.withLock { () -> [ChildProcess] in
            defer { processes.removeAll() }
            return Array(processes.values)
        }
        for p in all { p.signal(SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        for p in all {
            while p.isRunning && Date() < deadline { usleep(10_000) }
            p.signal(SIGKILL)
            p.wait()
        }
    }
}

/// Agents on loopback addresses (127.0.0.x) without namespaces: what the demo runs without root.
public final class LoopbackLab: @unchecked Sendable {
    // Immutable after init; the supervisor guards its own state.
    public let nodes: [(name: String, role: Role, address: IPAddress)]
    public let directory: URL
    private let agents: AgentSupervisor

    public init(nodes specs: [(name: String, role: Role)]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swarmprobe-loopback-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        agents = AgentSupervisor(directory: directory)
        nodes = specs.enumerated().map { i, s in (s.name, s.role, IPAddress.v4(127, 0, 0, UInt8(11 + i))) }
    }

    public func startAgents(binary: String, tokenFile: String, extraArguments: [String] = []) throws {
        try agents.start(nodes.map { node in
            AgentSupervisor.Spec(name: node.name, launcher: [],
                                 arguments: [binary, "agent", "--address", node.address.description, "--token-file", tokenFile] + extraArguments)
        })
    }

    public func agentLog(_ name: String) -> String { agents.log(name) }
    public func agentPID(_ name: String) -> Int32? { agents.pid(name) }

    public func inventoryYAML() -> String {
        var s = "# swarmprobe loopback demo: agents on 127.0.0.x\nnodes:\n"
        for n in nodes { s += "  - name: \(n.name)\n    address: \(n.address)\n    role: \(n.role.rawValue)\n" }
        return s
    }

    public func write(_ name: String, _ contents: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    public func destroy() {
        agents.stopAll()
        try? FileManager.default.removeItem(at: directory)
    }
}

import SwarmProbeCore
