import Foundation
import SwarmProbeCore
import SwarmProbeProcess

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
        try agents.start(
            nodes.map { node in
                AgentSupervisor.Spec(
                    name: node.name, launcher: [],
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
