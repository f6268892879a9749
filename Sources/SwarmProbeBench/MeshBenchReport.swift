import Foundation
import SwarmProbeProcess

/// The markdown and JSON `swarmprobe-bench mesh` prints.
struct MeshBenchReport: Codable {
    struct Machine: Codable {
        var cores: Int
        var kernel: String
        var swift: String
        var build: String

        static func current() -> Machine {
            var u = utsname()
            uname(&u)
            let kernel = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            #if DEBUG
                let build = "debug"
            #else
                let build = "release"
            #endif
            return Machine(cores: ProcessInfo.processInfo.activeProcessorCount, kernel: "Linux \(kernel)", swift: swiftVersion(), build: build)
        }

        /// `swift --version` of the toolchain on PATH (what built this, on the project's machines), else the compiler's floor.
        static func swiftVersion() -> String {
            var env = ProcessInfo.processInfo.environment
            env["PATH"] = (env["PATH"].map { $0 + ":" } ?? "") + "/opt/swift/usr/bin:/usr/local/bin:/usr/bin"
            if let r = try? Program.capture(["/usr/bin/env", "swift", "--version"], environment: env, timeout: 20), r.status == 0,
                let line = (r.stdout + r.stderr).split(separator: "\n").first(where: { $0.contains("Swift version") }),
                let range = line.range(of: #"Swift version [0-9.]+"#, options: .regularExpression)
            {
                return String(line[range].dropFirst("Swift version ".count))
            }
            #if compiler(>=6.3)
                return "6.3 or later"
            #else
                return "6.x"
            #endif
        }
    }

    var schema = "swarmprobe.bench-mesh/v1"
    var command: String
    var machine: Machine
    var sizes: [Int]
    var timeout: String?
    var runs: Int
    var fraction: Double
    var seed: UInt64
    var peers: Bool
    var pinNeighbours: Bool
    var configurations: [MeshConfiguration] = []

    init(
        command: String, machine: Machine, sizes: [Int], timeout: String?, runs: Int, fraction: Double, seed: UInt64, peers: Bool,
        pinNeighbours: Bool
    ) {
        self.pinNeighbours = pinNeighbours
        self.command = command
        self.machine = machine
        self.sizes = sizes
        self.timeout = timeout
        self.runs = runs
        self.fraction = fraction
        self.seed = seed
        self.peers = peers
    }

    static func isLabAddress(_ text: String) -> Bool {
        let p = text.split(separator: ".").compactMap { Int($0) }
        return p.count == 4 && p[0] == 198 && (p[1] == 18 || p[1] == 19)
    }

    func jsonText() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(self), as: UTF8.self) + "\n"
    }

    func headerMarkdown() -> String {
        """
        ## swarmprobe-bench mesh

        Command: `\(command)`

        Machine: \(machine.cores) cores, \(machine.kernel), Swift \(machine.swift), \(machine.build) build. \
        Probe timeout: \(timeout.map { "`--timeout \($0)` given to check" } ?? "check's default (none given)"); \
        \(runs) run(s) per configuration, median shown, accuracy of the worst run. \
        \(pinNeighbours ? "Neighbour (ARP) entries pinned in every namespace. " : "ARP left to the kernel (--no-pin-neighbours). ")Faulted labs: \
        \(Int((fraction * 100).rounded())) % of the directed checks faulted (seed \(seed)), rotating network drop / \
        silent host-firewall drop / host-firewall reject, and from 8 nodes on one agent not started.

        ### Full-mesh check: scaling

        Targets: wall <= 1.5 x timeout + 0.5 s; agent private memory <= 12 MiB idle (fresh, and left alone after the \
        checks), <= 32 MiB at the peak of a check, and from 20 checks on, no more than 0.5 MiB added by the second half \
        of them (the 32-node check is the target; smaller labs shown alike). *wall*: the `swarmprobe check` process; *hello / probes / logs*: \
        how long each phase took, from the results' `phases_ms` (the rest of the wall time is process start, \
        verdicts and writing); *coord CPU* user+sys \
        and *coord RSS* its peak (VmHWM, read every 5 ms); *agents CPU*: all agents' utime+stime during the check; agent memory from \
        /proc/PID/smaps_rollup: a fresh agent's RSS / PSS / private (the most of any agent), the peak private during \
        the check (the idle figure plus the peak rise of RssAnon, sampled every 20 ms; max over runs / median run), \
        private once left alone after the last check; *packets*: sent by all nodes during the check (bridge-port \
        counters); *accuracy*: checks with exactly the expected verdict and `where`.

        """
    }

    static let scalingHeader = """
        | nodes | lab | checks | faults | wall (ms) | timeout (ms) | wall / timeout | wall target | hello / probes / logs (ms) | coord CPU (ms) | coord RSS (MiB) | agents CPU (ms) | agent fresh RSS / PSS / private (MiB) | agent peak private max / med (MiB) | agent settled private (MiB) | memory target | packets | accuracy |
        |------:|:----|-------:|-------:|----------:|-------------:|---------------:|:------------|----------:|---------------:|----------------:|----------------:|------------:|------------:|------------:|:-----:|--------:|:---------|
        """

    func targetsMarkdown() -> String {
        var s = "### Targets\n\n"
        let wallFails = configurations.filter { !$0.wallPass }
        s +=
            "- wall <= 1.5 x timeout + 0.5 s: "
            + (wallFails.isEmpty
                ? "pass on every lab"
                : "FAIL on " + wallFails.map { "\($0.nodes) \($0.kind) (\(Int($0.wallMs)) ms > \(Int($0.wallTargetMs)))" }.joined(separator: ", "))
            + "\n"
        let largest = configurations.filter { $0.nodes == (sizes.max() ?? 0) }
        if let first = largest.first {
            let f1 = { (x: Double) in String(format: "%.1f", x) }
            func judged(_ value: Double, _ target: Double) -> String { "\(f1(value)) MiB (<= \(f1(target)): \(value <= target ? "pass" : "FAIL"))" }
            let fresh = largest.map { $0.fresh(\.privateKiB) }.max() ?? 0
            let peak = largest.map { $0.peak(\.privateKiB).max }.max() ?? 0
            s += "- agent private memory at \(first.nodes) nodes (worst lab): fresh \(judged(fresh, MeshConfiguration.idlePrivateTargetMiB))"
            if let settled = largest.compactMap({ $0.settled(\.privateKiB) }).max() {
                s +=
                    ", left alone \(String(format: "%g", Double(first.settleMs ?? 0) / 1000)) s after the last check "
                    + judged(settled, MeshConfiguration.idlePrivateTargetMiB)
            }
            if let between = largest.compactMap({ $0.between(\.privateKiB) }).max() {
                s += "; between back-to-back checks (the last 15 s of logs still kept) \(f1(between)) MiB"
            }
            s +=
                "\n- agent private memory at \(first.nodes) nodes (worst lab), peak of a check: \(judged(peak, MeshConfiguration.peakPrivateTargetMiB))\n"
            if let growth = largest.compactMap(\.privateGrowth).max() {
                s +=
                    "- agent private memory added by the second half of \(first.runs.count) checks (median agent, between checks): "
                    + judged(growth, MeshConfiguration.growthTargetMiB) + "\n"
            }
            let rss = largest.map { $0.fresh(\.rssKiB) }.max() ?? 0, pss = largest.map { $0.fresh(\.pssKiB) }.max() ?? 0
            s +=
                "- for comparison, a fresh agent's RSS \(f1(rss)) MiB and PSS \(f1(pss)) MiB: most of RSS is the binary's clean pages, shared with the page cache\n"
        }
        let inexact = configurations.filter { $0.worstExact != $0.checks }
        s +=
            "- swarmprobe accuracy 100 %: "
            + (inexact.isEmpty
                ? "pass on every lab"
                : "FAIL on " + inexact.map { "\($0.nodes) \($0.kind) (\($0.checks - $0.worstExact) wrong)" }.joined(separator: ", ")) + "\n"
        for c in configurations where !c.peers.isEmpty {
            guard let own = c.peers.first else { continue }
            for p in c.peers.dropFirst() where p.tool.hasPrefix("nmap") {
                let speed = p.wallMs / max(1, own.wallMs)
                let ok = speed >= 10 && own.matrix.exact == own.matrix.total
                s +=
                    "- \(c.nodes) nodes \(c.kind), swarmprobe >= 10x faster than \(p.tool) with full accuracy: \(ok ? "pass" : "FAIL") (\(String(format: "%.1f", speed))x, accuracy \(String(format: "%.1f", own.accuracy * 100)) %)\n"
            }
        }
        return s
    }

    func peersMarkdown() -> String {
        var s = ""
        for c in configurations where !c.peers.isEmpty {
            let own = c.peers[0]
            s += "\n### Peers on the \(c.kind) \(c.nodes)-node lab (\(c.checks) checks, same lab, same run)\n\n"
            s +=
                "Truth classes from the lab's fault plan: \(c.faults) faults (\(c.networkDrops) network drops, \(c.hostDrops) silent host-firewall drops, \(c.hostRejects) host-firewall rejects)"
            s += c.agentsDown.isEmpty ? ".\n\n" : ", agent not started on \(c.agentsDown.joined(separator: ", ")).\n\n"
            s += "| tool | per node | wall (ms) | wall / swarmprobe wall | packets | accuracy | notes |\n|:--|:--|--:|--:|--:|--:|:--|\n"
            for p in c.peers {
                var notes: [String] = []
                if let n = p.note { notes.append(n) }
                if p.failures > 0 { notes.append("\(p.failures) node(s) exited non-zero") }
                if p.timedOut > 0 { notes.append("\(p.timedOut) node(s) killed at the peer timeout") }
                s +=
                    "| \(p.tool) | `\(p.perNode)` | \(Int(p.wallMs.rounded())) | \(String(format: "%.1f", p.wallMs / max(1, own.wallMs))) | \(p.packetsSent) | "
                    + "\(p.matrix.exact)/\(p.matrix.total) (\(String(format: "%.1f", p.accuracy * 100)) %) | \(notes.joined(separator: "; ")) |\n"
            }
            for p in c.peers {
                s += "\n#### \(p.tool), \(c.nodes) nodes: truth (rows) x answer (columns)\n\n" + p.matrix.markdown()
            }
        }
        if !s.isEmpty {
            s +=
                "\nAnswer mapping: nmap open -> open, filtered -> blocked (layer unknown), closed -> closed/refused, open|filtered -> undecided; "
                + "nc exit 0 -> open (`nc -u -z` also exits 0 on silence), refused -> closed/refused, timeout -> blocked (layer unknown); "
                + "swarmprobe blocked/return-path or /unknown -> blocked (layer unknown), inconclusive -> undecided. Bold: the exact class.\n"
        }
        return s
    }

    func wrongVerdictsMarkdown() -> String {
        let all = configurations.flatMap(\.wrong)
        var s = "\n### swarmprobe verdicts that differ from the ground truth\n\n"
        if all.isEmpty { return s + "None.\n" }
        s += "| lab | run | from | to | kind | expected | got | detail |\n|:--|--:|:--|:--|:--|:--|:--|:--|\n"
        for w in all.prefix(200) {
            s +=
                "| \(w.scenario) | \(w.run) | \(w.from) | \(w.to) | \(w.kind) | \(w.expected) | \(w.got) | \(w.detail.replacingOccurrences(of: "|", with: "\\|")) |\n"
        }
        if all.count > 200 { s += "\n(\(all.count - 200) more in --json)\n" }
        return s
    }
}
