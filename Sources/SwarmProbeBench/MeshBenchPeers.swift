import Foundation
import SwarmProbeCommands
import SwarmProbeCore
import SwarmProbeLab

/// nmap and an nc loop from every node of a lab, scored against the same ground truth as the check.
extension MeshBenchCommand {
    func runPeers(
        lab: Lab, scenario: LabScenario, results: Results, swarmprobe: CheckRecord,
        children: ChildRegistry
    ) throws -> [PeerRecord] {
        let kinds = Array(Set(results.checks.map(\.kindID))).filter { $0.proto != .esp }.sorted()
        let byAddress = Dictionary(uniqueKeysWithValues: lab.nodes.map { ($0.address.description, $0.name) })
        for address in byAddress.keys where !MeshBenchReport.isLabAddress(address) {
            throw InputError(source: "bench", "refusing to scan \(address): not a lab address (198.18.0.0/15)")
        }
        func truth(_ from: String, _ to: String, _ kind: KindID) -> TruthClass {
            let (v, w) = scenario.expected(from: from, to: to, kind: kind, capture: true)
            return TruthClass(verdict: v, location: w)
        }
        var out: [PeerRecord] = []
        // swarmprobe itself, from the check the peers are compared with.
        var own = PeerRecord(
            tool: "swarmprobe check", perNode: "(one coordinator)", wallMs: swarmprobe.wallMs,
            packetsSent: swarmprobe.packetsSent, matrix: swarmprobe.matrix)
        own.note = "timeout \(swarmprobe.timeoutMs) ms"
        out.append(own)

        let timeoutMs = results.timeoutMs
        let attempts = max(1, swarmprobe.udpAttempts ?? 3)
        let tcpPorts = kinds.filter { $0.proto == .tcp }.compactMap(\.port).map(String.init).joined(separator: ",")
        let udpPorts = kinds.filter { $0.proto == .udp }.compactMap(\.port).map(String.init).joined(separator: ",")
        let portSpec = "T:\(tcpPorts),U:\(udpPorts)"
        let matched = [
            "--max-rtt-timeout", "\(timeoutMs)ms", "--initial-rtt-timeout", "\(max(1, timeoutMs / attempts))ms",
            "--max-retries", "\(attempts - 1)",
        ]
        for (tool, timing) in [("nmap (timing matched)", matched), ("nmap (defaults)", [String]())] {
            progressLine("[\(scenario.name)] \(tool) from every node ...")
            let perNode = (["nmap", "-n", "-Pn", "-sT", "-sU", "-p", portSpec] + timing + ["-oX", "-", "<other nodes>"]).joined(separator: " ")
            let (wall, runs, packets) = try concurrently(
                lab: lab, label: tool.hasSuffix("matched)") ? "nmap-matched" : "nmap-default",
                children: children
            ) { node in
                ["nmap", "-n", "-Pn", "-sT", "-sU", "-p", portSpec] + timing + ["-oX", "-"]
                    + lab.nodes.filter { $0.name != node.name }.map(\.address.description)
            }
            var matrix = ConfusionMatrix()
            var failures = 0, timedOut = 0
            for (node, run) in zip(lab.nodes, runs) {
                if run.timedOut { timedOut += 1 } else if run.status != 0 { failures += 1 }
                let nmap = NmapReport.parse(run.stdout)
                for other in lab.nodes where other.name != node.name {
                    for kind in kinds {
                        let state = nmap.state(other.address.description, kind.proto.rawValue, kind.port!)
                        matrix.add(truth: truth(node.name, other.name, kind), answer: ToolAnswer(nmapState: state))
                    }
                }
            }
            var record = PeerRecord(tool: tool, perNode: perNode, wallMs: wall, packetsSent: packets, matrix: matrix)
            record.failures = failures
            record.timedOut = timedOut
            out.append(record)
        }

        progressLine("[\(scenario.name)] nc loop from every node ...")
        let (wall, runs, packets) = try concurrently(lab: lab, label: "nc", children: children) { node in
            let targets = lab.nodes.filter { $0.name != node.name }.flatMap { other in kinds.map { (other.address.description, $0) } }
            return ["sh", "-c", NcResult.script(targets: targets.map { (address: $0.0, kind: $0.1) })]
        }
        var matrix = ConfusionMatrix()
        var timedOut = 0
        for (node, run) in zip(lab.nodes, runs) {
            if run.timedOut { timedOut += 1 }
            let answers = NcResult.parse(run.stdout)
            for other in lab.nodes where other.name != node.name {
                for kind in kinds {
                    let answer =
                        answers[NmapReport.Key(address: other.address.description, proto: kind.proto.rawValue, port: kind.port!)] ?? .undecided
                    matrix.add(truth: truth(node.name, other.name, kind), answer: answer)
                }
            }
        }
        var nc = PeerRecord(
            tool: "nc loop", perNode: "nc -z [-u] -w 1 ADDR PORT, every peer and kind in turn", wallMs: wall,
            packetsSent: packets, matrix: matrix)
        nc.timedOut = timedOut
        out.append(nc)
        _ = byAddress
        return out
    }

    /// Starts `command(node)` in every node's namespace at once, waits for all; wall time until the last is done.
    func concurrently(
        lab: Lab, label: String, children: ChildRegistry,
        _ command: (LabNode) -> [String]
    ) throws -> (wallMs: Double, runs: [MeasuredRun], packetsSent: UInt64) {
        let packets0 = try lab.portCounters()
        let t0 = Date()
        var started: [MeasuredProcess] = []
        defer { for p in started { children.remove(p.pid) } }
        for (i, node) in lab.nodes.enumerated() {
            let p = try MeasuredProcess(
                ["ip", "netns", "exec", node.namespace] + command(node), directory: lab.directory,
                label: "\(label)-\(i + 1)", timeout: Double(peerTimeout.milliseconds) / 1000)
            children.add(p.pid)
            started.append(p)
        }
        let runs = started.map { $0.wait() }
        let wall = Date().timeIntervalSince(t0) * 1000
        let packets1 = try lab.portCounters()
        let sent = packets1.reduce(UInt64(0)) { $0 + ($1.value.sentPackets &- (packets0[$1.key]?.sentPackets ?? 0)) }
        return (wall, runs, sent)
    }
}
