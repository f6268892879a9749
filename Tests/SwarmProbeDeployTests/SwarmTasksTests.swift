import SwarmProbeCore
import Testing

@testable import SwarmProbeCoordinator
@testable import SwarmProbeDeploy

@Suite("check --swarm: each node's task, as the manager lists it")
struct SwarmTasksTests {
    let nodes = [
        Self.node("n1", "m1", state: "ready", availability: "active"), Self.node("n2", "w1", state: "ready", availability: "active"),
        Self.node("n3", "w2", state: "ready", availability: "drain"), Self.node("n4", "w3", state: "down", availability: "active"),
        Self.node("n5", "w4", state: "ready", availability: "active"), Self.node("n6", "w5", state: "ready", availability: "active"),
    ]

    /// A node as discovery describes it; only what the task states read matters.
    static func node(_ id: String, _ hostname: String, state: String, availability: String) -> DockerDiscovery.DiscoveredNode {
        DockerDiscovery.DiscoveredNode(
            node: Node(name: hostname, address: .v4(198, 18, 1, 1), role: .worker), id: id, hostname: hostname, state: state,
            availability: availability, leader: false, reachability: nil, engineVersion: nil)
    }

    @Test("running, rejected with Docker's reason (the newest task speaks), drained, down, not yet scheduled, on its way")
    func states() throws {
        let body = """
            [{"ID":"t1","NodeID":"n1","Version":{"Index":10},"Status":{"State":"running","Message":"started"}},
             {"ID":"t2","NodeID":"n2","Version":{"Index":11},"Status":{"State":"running","Message":"started"}},
             {"ID":"t3","NodeID":"n2","Version":{"Index":12},"Status":{"State":"rejected","Message":"preparing","Err":"No such image: swarmprobe-agent:0.2.0"}},
             {"ID":"t6","NodeID":"n6","Version":{"Index":13},"Status":{"State":"preparing","Message":"preparing"}}]
            """
        let s = try SwarmTaskState.of(tasks: Array(body.utf8), nodes: nodes)
        #expect(s["n1"] == .running)
        #expect(s["n2"] == .failed("the agent's task rejected: No such image: swarmprobe-agent:0.2.0", task: "t3"))
        #expect(
            s["n3"]
                == .failed(
                    "the node's availability is drain, so swarm runs no task there (`docker node update --availability active w2` to check it)",
                    task: nil))
        #expect(s["n4"] == .failed("the node is down, so swarm runs no task there", task: nil))
        #expect(s["n5"] == .waiting("no task scheduled yet"))
        #expect(s["n6"] == .waiting("preparing"))
        #expect(throws: (any Error).self) { try SwarmTaskState.of(tasks: Array("{}".utf8), nodes: nodes) }
    }

    @Test("a task's last log line, framed (no TTY) or not")
    func lastLine() {
        func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
            let b = Array(text.utf8)
            return [stream, 0, 0, 0, UInt8(b.count >> 24), UInt8(b.count >> 16 & 0xff), UInt8(b.count >> 8 & 0xff), UInt8(b.count & 0xff)] + b
        }
        let framed = frame(1, "starting\n") + frame(2, "swarmprobe-agent: --address: none of this host's addresses is in 10.0.0.1,10.0.0.2\n")
        #expect(SwarmTaskState.lastLogLine(framed) == "swarmprobe-agent: --address: none of this host's addresses is in 10.0.0.1,10.0.0.2")
        #expect(SwarmTaskState.lastLogLine(Array("one\ntwo\n\n".utf8)) == "two")
        #expect(SwarmTaskState.lastLogLine([]) == nil)
    }
}
