import Foundation
import SwarmProbeCore
import SwarmProbeLab

// What `swarmprobe-bench mesh` records of each lab and check (its --json).

struct WrongVerdict: Codable {
    var scenario: String
    var run: Int
    var from: String
    var to: String
    var kind: String
    var expected: String
    var got: String
    var detail: String
}

struct CheckRecord: Codable {
    var run: Int
    var exitStatus: Int32
    var wallMs: Double
    var durationMs: Int
    var timeoutMs: Int
    var udpAttempts: Int?
    var coordinatorUserMs: Double
    var coordinatorSystemMs: Double
    var coordinatorMaxRSSKiB: Int
    /// Per agent: utime + stime during the check, ms.
    var agentCPUMs: [String: Double]
    /// Per agent: memory just before the check.
    var agentIdleMemory: [String: ProcessMemory]
    /// Per agent: its peak during the check (RSS: VmHWM, reset just before; PSS and private: the idle figure
    /// plus the peak rise of the anonymous memory, sampled every 20 ms).
    var agentPeakMemory: [String: ProcessMemory]
    /// Packets every node sent during the check (its bridge port's rx), and bytes.
    var packetsSent: UInt64
    var bytesSent: UInt64
    var checks: Int
    var exact: Int
    var matrix: ConfusionMatrix
    /// The check's own account of its phases (ends, ms from its start).
    var phasesMs: PhaseTimes?
}

struct PeerRecord: Codable {
    var tool: String
    var perNode: String
    var wallMs: Double
    var packetsSent: UInt64
    var matrix: ConfusionMatrix
    var failures = 0
    var timedOut = 0
    var note: String?
    var accuracy: Double { matrix.accuracy }
}

struct MeshConfiguration: Codable {
    var nodes: Int
    var scenario: String
    var kind: String
    var managers: Int
    var faults: Int
    var networkDrops: Int
    var hostDrops: Int
    var hostRejects: Int
    var agentsDown: [String]
    var labBuildMs: Double
    var agentsStartMs: Double
    var injectMs: Double
    var runs: [CheckRecord] = []
    var wrong: [WrongVerdict] = []
    var peers: [PeerRecord] = []
    /// How long the agents were left alone after the last check (`--settle`), and their memory then.
    var settleMs: Int?
    var settledMemory: [String: ProcessMemory]?

    init(scenario: LabScenario, labBuildMs: Double, agentsStartMs: Double, injectMs: Double) {
        nodes = scenario.nodes.count
        self.scenario = scenario.name
        kind = scenario.faults.isEmpty && scenario.agentsDown.isEmpty ? "healthy" : "faulted"
        managers = scenario.nodes.count { $0.role == .manager }
        faults = scenario.faults.count
        networkDrops = scenario.faults.count { if case .networkDrop = $0 { return true } else { return false } }
        hostDrops = scenario.faults.count { if case .hostFirewall(_, _, _, false) = $0 { return true } else { return false } }
        hostRejects = scenario.faults.count { if case .hostFirewall(_, _, _, true) = $0 { return true } else { return false } }
        agentsDown = scenario.agentsDown
        self.labBuildMs = labBuildMs
        self.agentsStartMs = agentsStartMs
        self.injectMs = injectMs
    }

    func median<T: Comparable>(_ f: (CheckRecord) -> T) -> T {
        let v = runs.map(f).sorted()
        return v[v.count / 2]
    }
    func medianOver(_ f: (CheckRecord) -> [Double]) -> (max: Double, median: Double) {
        (
            median { f($0).max() ?? 0 },
            median { r in
                let v = f(r).sorted(); return v.isEmpty ? 0 : v[v.count / 2]
            }
        )
    }

    var wallMs: Double { median(\.wallMs) }
    var timeoutMs: Int { median(\.timeoutMs) }
    var wallTargetMs: Double { 1.5 * Double(timeoutMs) + 500 }
    var wallPass: Bool { wallMs <= wallTargetMs }
    /// The most of `figure` (MiB) any agent had idle before a check, by run.
    private func idleMax(_ figure: (ProcessMemory) -> Int) -> [Double] {
        runs.map { r in Double(r.agentIdleMemory.values.map(figure).max() ?? 0) / 1024 }
    }
    /// Fresh agents: before the lab's first check.
    func fresh(_ figure: (ProcessMemory) -> Int) -> Double { idleMax(figure).first ?? 0 }
    /// Between back-to-back checks (the last one's log served milliseconds earlier), the most of any run.
    func between(_ figure: (ProcessMemory) -> Int) -> Double? { runs.count > 1 ? idleMax(figure).dropFirst().max() : nil }
    /// Left alone `settleMs` after the last check.
    func settled(_ figure: (ProcessMemory) -> Int) -> Double? { settledMemory?.values.map(figure).max().map { Double($0) / 1024 } }
    /// The most of `figure` (MiB) any agent reached during a check: max over runs, and the median run's.
    func peak(_ figure: (ProcessMemory) -> Int) -> (max: Double, median: Double) {
        medianOver { $0.agentPeakMemory.values.map { Double(figure($0)) / 1024 } }
    }
    /// What the second half of the checks added to the median agent's private memory between checks, MiB: the
    /// last tenth of the runs against the tenth in the middle. The first checks warm the agent up (caches, a
    /// replay window filling for a minute); a leak would go on adding after that. nil below 20 runs.
    var privateGrowth: Double? {
        guard runs.count >= 20 else { return nil }
        let tenth = runs.count / 10, middle = runs.count / 2 - tenth / 2
        func level(_ slice: ArraySlice<CheckRecord>) -> Double {
            let medians = slice.map { r in Double(r.agentIdleMemory.values.map(\.privateKiB).sorted()[r.agentIdleMemory.count / 2]) / 1024 }
            return medians.reduce(0, +) / Double(medians.count)
        }
        return level(runs.suffix(tenth)) - level(runs[middle..<middle + tenth])
    }
    static let idlePrivateTargetMiB = 12.0, peakPrivateTargetMiB = 32.0, growthTargetMiB = 0.5
    /// Private memory idle (fresh and settled) and at the peak, and its growth over the checks.
    var memoryPass: Bool {
        fresh(\.privateKiB) <= Self.idlePrivateTargetMiB && (settled(\.privateKiB) ?? 0) <= Self.idlePrivateTargetMiB
            && peak(\.privateKiB).max <= Self.peakPrivateTargetMiB && (privateGrowth ?? 0) <= Self.growthTargetMiB
    }
    /// The worst run's exact matches.
    var worstExact: Int { runs.map(\.exact).min() ?? 0 }
    var checks: Int { runs.first?.checks ?? 0 }

    func scalingRow() -> String {
        let f1 = { (x: Double) in String(format: "%.1f", x) }
        let cpu = median { $0.coordinatorUserMs + $0.coordinatorSystemMs }
        let agentsCPU = median { $0.agentCPUMs.values.reduce(0, +) }
        let faultText = kind == "healthy" ? "-" : "\(faults)" + (agentsDown.isEmpty ? "" : " + 1 agent down")
        // Each phase's length (hello; probes; logs), median over the runs.
        let ends = runs.compactMap(\.phasesMs)
        func med(_ f: (PhaseTimes) -> Int) -> Int { let v = ends.map(f).sorted(); return v.isEmpty ? 0 : v[v.count / 2] }
        let phases = ends.isEmpty ? "-" : "\(med { $0.hello }) / \(med { $0.probes - $0.hello }) / \(med { $0.logs - $0.probes })"
        let acc = checks == 0 ? "-" : "\(worstExact)/\(checks) (\(String(format: "%.1f", 100 * Double(worstExact) / Double(checks))) %)"
        return "| \(nodes) | \(kind) | \(checks) | \(faultText) | \(Int(wallMs.rounded())) | \(timeoutMs) | "
            + "\(String(format: "%.2f", wallMs / Double(max(1, timeoutMs)))) | \(wallPass ? "pass" : "FAIL") (<= \(Int(wallTargetMs))) | "
            + "\(phases) | \(Int(cpu.rounded())) | \(f1(Double(median(\.coordinatorMaxRSSKiB)) / 1024)) | \(Int(agentsCPU.rounded())) | "
            + "\(f1(fresh(\.rssKiB))) / \(f1(fresh(\.pssKiB))) / \(f1(fresh(\.privateKiB))) | \(f1(peak(\.privateKiB).max)) / \(f1(peak(\.privateKiB).median)) | "
            + "\(settled(\.privateKiB).map(f1) ?? "-") | \(memoryPass ? "pass" : "FAIL") | "
            + "\(median(\.packetsSent)) | \(acc) |"
    }
}
