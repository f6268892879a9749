import Foundation
import SwarmProbeCoordinator

/// Where a global service's task stands on each node, read from `GET /tasks` and `GET /nodes`: running,
/// still on its way, or never going to run (with Docker's own reason).
public enum SwarmTaskState: Sendable, Equatable {
    case running
    case waiting(String)
    /// Why, and the task (whose log may say more).
    case failed(String, task: String?)

    /// Per node ID. A node with no task yet is waiting, unless the swarm will never schedule one there.
    public static func of(tasks body: [UInt8], nodes: [DockerDiscovery.DiscoveredNode]) throws -> [String: SwarmTaskState] {
        struct Task: Decodable {
            struct Status: Decodable {
                var State: String?
                var Message: String?
                var Err: String?
            }
            struct Version: Decodable { var Index: Int? }
            var ID: String?
            var NodeID: String?
            var Status: Status?
            var Version: Version?
        }
        let tasks = try JSONDecoder().decode([Task].self, from: Data(body))
        // The newest task per node speaks for it (a failed one may have been replaced).
        var latest: [String: Task] = [:]
        for t in tasks {
            guard let node = t.NodeID, !node.isEmpty else { continue }
            if (latest[node]?.Version?.Index ?? -1) < (t.Version?.Index ?? 0) { latest[node] = t }
        }
        var out: [String: SwarmTaskState] = [:]
        for n in nodes {
            if let t = latest[n.id] {
                let state = t.Status?.State ?? "unknown"
                let why = [t.Status?.Err, t.Status?.Message].compactMap { $0 }.first { !$0.isEmpty } ?? state
                switch state {
                case "running": out[n.id] = .running
                case "failed", "rejected", "complete", "shutdown", "orphaned", "remove":
                    out[n.id] = .failed("the agent's task \(state): \(DockerDiscovery.oneLine(why))", task: t.ID)
                default:
                    out[n.id] = .waiting(state == why ? state : "\(state): \(DockerDiscovery.oneLine(why))")
                }
            } else if n.availability == "drain" || n.availability == "pause" {
                out[n.id] = .failed(
                    "the node's availability is \(n.availability), so swarm runs no task there (`docker node update --availability active \(n.hostname)` to check it)",
                    task: nil)
            } else if n.state != "ready" {
                out[n.id] = .failed("the node is \(n.state), so swarm runs no task there", task: nil)
            } else {
                out[n.id] = .waiting("no task scheduled yet")
            }
        }
        return out
    }

    /// The last line a task wrote, from the body of `GET /tasks/ID/logs` (frames of an 8-byte header and text).
    public static func lastLogLine(_ body: [UInt8]) -> String? {
        var text: [UInt8] = []
        var i = 0
        while i + 8 <= body.count, body[i] <= 2, body[i + 1] == 0, body[i + 2] == 0, body[i + 3] == 0 {
            let size = Int(body[i + 4]) << 24 | Int(body[i + 5]) << 16 | Int(body[i + 6]) << 8 | Int(body[i + 7])
            let end = min(body.count, i + 8 + size)
            text += body[(i + 8)..<end]
            i = end
        }
        if i == 0 { text = body }  // a TTY's log is not framed
        return String(decoding: text, as: UTF8.self).split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }.map {
            DockerDiscovery.oneLine(String($0))
        }
    }
}
