import Foundation
import SwarmProbeBench
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// `Fixtures/nmap-sample.xml`: real `nmap -n -Pn -sT -sU -p T:2377,7946,U:7946,4789 -oX -` output from a
/// three-namespace lab: 198.18.1.12 with a TCP listener on 2377, a firewall dropping 7946/tcp, a UDP
/// listener on 7946 and nothing on 4789/udp; 198.18.1.13 with nothing listening at all.
private func fixture(_ name: String) throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name)
    return try String(contentsOf: url, encoding: .utf8)
}

@Suite("bench mesh: nmap XML")
struct NmapXMLTests {
    @Test("every port state of the real sample, by address, protocol and port")
    func sample() throws {
        let r = NmapReport.parse(try fixture("nmap-sample.xml"))
        #expect(r.states.count == 8)
        #expect(r.state("198.18.1.12", "tcp", 2377) == "open")
        #expect(r.state("198.18.1.12", "tcp", 7946) == "filtered")
        #expect(r.state("198.18.1.12", "udp", 4789) == "closed")
        #expect(r.state("198.18.1.12", "udp", 7946) == "open|filtered")
        for (proto, port) in [("tcp", 2377), ("tcp", 7946), ("udp", 4789), ("udp", 7946)] {
            #expect(r.state("198.18.1.13", proto, port) == "closed")
        }
        #expect(r.state("198.18.1.14", "tcp", 2377) == nil)
        #expect(r.elapsed == 2.58)
        #expect(r.exit == "success")
    }

    @Test("nmap states map to answers")
    func mapping() {
        #expect(ToolAnswer(nmapState: "open") == .open)
        #expect(ToolAnswer(nmapState: "filtered") == .blockedUnknown)
        #expect(ToolAnswer(nmapState: "closed") == .closed)
        #expect(ToolAnswer(nmapState: "open|filtered") == .undecided)
        #expect(ToolAnswer(nmapState: nil) == .undecided)
    }

    @Test("the hosthint elements before the hosts and a '>' in the comment do not confuse it; truncated output gives what is complete")
    func robustness() throws {
        let xml = try fixture("nmap-sample.xml")
        #expect(xml.contains("<hosthint>") && xml.contains("-oX -"))
        let cut = String(xml[..<xml.range(of: "<host starttime=\"1795785393\" endtime=\"1795785394\">")!.lowerBound])
        let r = NmapReport.parse(cut)
        #expect(r.states.count == 4)
        #expect(r.state("198.18.1.13", "tcp", 2377) == nil)
        #expect(NmapReport.parse("").states.isEmpty)
        #expect(NmapReport.parse("<nmaprun><host><port protocol=\"tcp\" portid=\"1\">").states.isEmpty)
    }
}

@Suite("bench mesh: nc")
struct NcTests {
    @Test("exit status and message classify the answer")
    func classify() {
        #expect(NcResult.classify(status: 0, output: "Connection to 198.18.1.12 2377 port [tcp/*] succeeded!") == .open)
        #expect(NcResult.classify(status: 0, output: "") == .open)  // nc -u -z on silence
        #expect(NcResult.classify(status: 1, output: "nc: connect to 198.18.1.13 port 2377 (tcp) failed: Connection refused") == .closed)
        #expect(
            NcResult.classify(status: 1, output: "nc: connect to 198.18.1.12 port 7946 (tcp) timed out: Operation now in progress") == .blockedUnknown
        )
        #expect(NcResult.classify(status: 1, output: "") == .blockedUnknown)
        // Seen in a lab: `nc -v -z -u` to a port rejected with ICMP port unreachable exits 1 at once, printing nothing.
        #expect(NcResult.classify(status: 1, output: "", udp: true) == .closed)
        #expect(NcResult.classify(status: 0, output: "Connection to 198.18.1.12 7946 port [udp/*] succeeded!", udp: true) == .open)
    }

    @Test("the loop's lines parse back, keyed like nmap's")
    func loop() {
        let script = NcResult.script(targets: [
            (address: "198.18.1.12", kind: KindID(proto: .tcp, port: 2377)),
            (address: "198.18.1.12", kind: KindID(proto: .udp, port: 4789)),
            (address: "198.18.1.12", kind: KindID(proto: .esp, port: nil)),
        ])
        #expect(script.contains("nc -v -z -w 1 198.18.1.12 2377"))
        #expect(script.contains("nc -v -z -u -w 1 198.18.1.12 4789"))
        #expect(script.split(separator: "\n").count == 2, "ESP has no port: no nc line")
        let answers = NcResult.parse(
            """
            R 198.18.1.12 tcp 2377 0 Connection to 198.18.1.12 2377 port [tcp/*] succeeded!
            R 198.18.1.12 udp 4789 1 nc: connect to 198.18.1.12 port 4789 (udp) failed: Connection refused
            R 198.18.1.13 tcp 7946 1 nc: connect to 198.18.1.13 port 7946 (tcp) timed out: Operation now in progress
            R 198.18.1.13 udp 4789 1
            garbage line
            """)
        #expect(answers.count == 4)
        #expect(answers[.init(address: "198.18.1.13", proto: "udp", port: 4789)] == .closed)
        #expect(answers[.init(address: "198.18.1.12", proto: "tcp", port: 2377)] == .open)
        #expect(answers[.init(address: "198.18.1.12", proto: "udp", port: 4789)] == .closed)
        #expect(answers[.init(address: "198.18.1.13", proto: "tcp", port: 7946)] == .blockedUnknown)
    }
}

@Suite("bench mesh: confusion matrix")
struct ConfusionMatrixTests {
    @Test("counts, row totals, exact matches and accuracy")
    func math() {
        var m = ConfusionMatrix()
        #expect(m.accuracy == 1 && m.total == 0)
        m.add(truth: .open, answer: .open)
        m.add(truth: .open, answer: .open)
        m.add(truth: .blockedNetwork, answer: .blockedUnknown)
        m.add(truth: .blockedNetwork, answer: .blockedNetwork)
        m.add(truth: .blockedHostFirewall, answer: .closed)
        m.add(truth: .agentDown, answer: .agentDown)
        m.add(truth: .agentDown, answer: .open)
        m.add(truth: .blockedHostFirewall, answer: .undecided)
        #expect(m.total == 8)
        #expect(m.exact == 4)
        #expect(m.accuracy == 0.5)
        #expect(m.count(.open, .open) == 2)
        #expect(m.count(.blockedNetwork, .blockedUnknown) == 1)
        #expect(m.rowTotal(.blockedHostFirewall) == 2)
        #expect(m.rowTotal(.other) == 0)
        let md = m.markdown()
        #expect(md.contains("| open | **2** | 0 | 0 | 0 | 0 | 0 | 0 | 2 |"))
        #expect(md.contains("| agent-down | 1 | 0 | 0 | 0 | 0 | **1** | 0 | 2 |"))
        #expect(!md.contains("| other |"))
    }

    @Test("swarmprobe verdicts map to answers; blocked/unknown and return-path are not an exact layer")
    func verdicts() {
        #expect(ToolAnswer(verdict: .blocked, location: .network).matches(.blockedNetwork))
        #expect(ToolAnswer(verdict: .blocked, location: .hostFirewall).matches(.blockedHostFirewall))
        #expect(ToolAnswer(verdict: .blocked, location: .unknown) == .blockedUnknown)
        #expect(ToolAnswer(verdict: .blocked, location: .returnPath) == .blockedUnknown)
        #expect(ToolAnswer(verdict: .agentDown, location: nil).matches(.agentDown))
        #expect(ToolAnswer(verdict: .inconclusive, location: nil) == .undecided)
        #expect(ToolAnswer(verdict: .closed, location: nil) == .closed)
        #expect(TruthClass(verdict: .blocked, location: .returnPath) == .other)
    }
}

@Suite("bench mesh: fault plan")
struct FaultPlanTests {
    let kinds = LabScenario.defaultKinds

    @Test("exactly the fraction of all directed checks, one fault per check, deterministic per seed", arguments: [4, 8, 16, 32])
    func plan(nodes: Int) {
        let total = nodes * (nodes - 1) * kinds.count
        let a = LabScenario.faulted(nodes: nodes, managers: 2, fraction: 0.25, seed: 7)
        let b = LabScenario.faulted(nodes: nodes, managers: 2, fraction: 0.25, seed: 7)
        let c = LabScenario.faulted(nodes: nodes, managers: 2, fraction: 0.25, seed: 8)
        #expect(a.faults.count * 4 == total, "\(a.faults.count) of \(total)")
        #expect(a.faults.map(\.description) == b.faults.map(\.description))
        #expect(a.agentsDown == b.agentsDown)
        #expect(a.faults.map(\.description) != c.faults.map(\.description))
        #expect(a.agentsDown.count == (nodes >= 8 ? 1 : 0))
        // Every kind of fault is in the mix.
        #expect(a.faults.contains { if case .networkDrop = $0 { return true } else { return false } })
        #expect(a.faults.contains { if case .hostFirewall(_, _, _, false) = $0 { return true } else { return false } })
        #expect(a.faults.contains { if case .hostFirewall(_, _, _, true) = $0 { return true } else { return false } })
    }

    @Test("the ground truth: each fault's check blocked at its layer, down agents' checks agent-down, the rest open")
    func truth() {
        let s = LabScenario.faulted(nodes: 8, managers: 2, fraction: 0.25, seed: 1)
        let names = s.nodes.map(\.name)
        var faulted: [String: (Verdict, Where?)] = [:]
        for f in s.faults {
            switch f {
            case let .networkDrop(from, to, kind): faulted["\(from) \(to) \(kind)"] = (.blocked, .network)
            case let .hostFirewall(node, from?, kind, _): faulted["\(from) \(node) \(kind)"] = (.blocked, .hostFirewall)
            default: Issue.record("unexpected fault \(f)")
            }
        }
        #expect(faulted.count == s.faults.count, "no check faulted twice")
        var counts: [TruthClass: Int] = [:]
        for kind in kinds {
            for a in names {
                for b in names where b != a {
                    let (v, w) = s.expected(from: a, to: b, kind: kind, capture: true)
                    counts[TruthClass(verdict: v, location: w), default: 0] += 1
                    if s.agentsDown.contains(a) || s.agentsDown.contains(b) {
                        #expect(v == .agentDown && w == nil)
                        #expect(faulted["\(a) \(b) \(kind)"] == nil, "no fault on an agent-down check")
                    } else if let f = faulted["\(a) \(b) \(kind)"] {
                        #expect(v == f.0 && w == f.1)
                    } else {
                        #expect(v == .open && w == nil)
                    }
                }
            }
        }
        #expect(counts[.other] == nil)
        #expect(counts[.agentDown] == 2 * 7 * kinds.count)
        #expect((counts[.blockedNetwork] ?? 0) + (counts[.blockedHostFirewall] ?? 0) == 8 * 7 * kinds.count / 4)
        // Without capture, silent drops lose their layer; rejects keep it.
        let drop = s.faults.first { if case .hostFirewall(_, _, _, false) = $0 { return true } else { return false } }!
        if case let .hostFirewall(node, from?, kind, _) = drop {
            #expect(s.expected(from: from, to: node, kind: kind, capture: false) == (.blocked, .unknown))
        }
    }

    @Test("the seeded generator is SplitMix64")
    func generator() {
        var g = SplitMix64(seed: 0)
        // Reference values of SplitMix64 seeded with 0.
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}

/// The whole benchmark through the CLI on the smallest labs, peers included (root, nmap and nc).
@Suite(
    "bench mesh: CLI", .serialized,
    .enabled(
        if: labUnavailable == nil && (try? Program.path("nmap")) != nil && (try? Program.path("nc")) != nil,
        "\(labUnavailable ?? "nmap or nc missing (scripts/setup.sh --bench)")"))
struct BenchMeshCLITests {
    @Test("bench mesh --sizes 4 --runs 1: the tables, and swarmprobe 100 % right on both labs")
    func smallest() throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("bench-mesh-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: json) }
        let r = try Program.capture(
            [builtBinary("swarmprobe-bench"), "mesh", "--sizes", "4", "--runs", "1", "--timeout", "1s", "--settle", "1", "--json", json],
            timeout: 170)
        #expect(r.status == 0, "\(r.stderr)")
        for needle in [
            "Command: `", "### Full-mesh check: scaling", "| 4 | healthy | 48 |", "| 4 | faulted | 48 | 12 |",
            "### Peers on the faulted 4-node lab", "#### nmap (timing matched), 4 nodes", "#### nmap (defaults), 4 nodes",
            "#### nc loop, 4 nodes", "#### swarmprobe check, 4 nodes",
        ] {
            #expect(r.stdout.contains(needle), "missing \(needle) in:\n\(r.stdout)")
        }
        #expect(r.stdout.contains("swarmprobe accuracy 100 %: pass on every lab"), "\(r.stdout)")
        #expect(
            r.stdout.contains("agent private memory at 4 nodes (worst lab): fresh ") && r.stdout.contains(", left alone 1 s after the last check "),
            "\(r.stdout)")
        let data = try #require(FileManager.default.contents(atPath: json))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let configs = try #require(doc["configurations"] as? [[String: Any]])
        #expect(configs.count == 2)
        for c in configs {
            for run in c["runs"] as? [[String: Any]] ?? [] {
                #expect(run["exact"] as? Int == 48 && run["checks"] as? Int == 48, "\(c["scenario"] ?? "") \(run["exact"] ?? "")")
                #expect((run["timeoutMs"] as? Int) == 1000)
            }
            // Every agent's memory read again after --settle: a live agent holds at least its binary's pages, and
            // PSS lies between what it alone holds and everything it maps.
            let settled = try #require(c["settledMemory"] as? [String: [String: Int]])
            #expect(settled.count == 4, "\(settled)")
            for m in settled.values {
                let rss = m["rssKiB"] ?? 0, pss = m["pssKiB"] ?? 0, own = m["privateKiB"] ?? 0
                #expect(rss > 1024 && own > 0 && own <= pss && pss <= rss, "\(m)")
            }
            #expect(c["settleMs"] as? Int == 1000)
        }
        let peers = try #require(configs[1]["peers"] as? [[String: Any]])
        #expect(peers.map { $0["tool"] as? String ?? "" } == ["swarmprobe check", "nmap (timing matched)", "nmap (defaults)", "nc loop"])
    }
}

/// The Lab additions the benchmark uses, on a real (small) lab.
@Suite("bench mesh: lab helpers", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct BenchLabHelperTests {
    @Test("batched injection writes the same rules as one-by-one; neighbours pinned; port counters and /proc readers work")
    func helpers() throws {
        let scenario = LabScenario.faulted(nodes: 4, managers: 1, fraction: 0.25, seed: 3)
        let lab = try Lab(nodes: scenario.nodes)
        defer { lab.destroy() }
        try lab.inject(scenario.faults)
        #expect(lab.injectedFaults.count == scenario.faults.count)
        let bridge = try Program.run(["ip", "netns", "exec", lab.switchNamespace, "nft", "list", "table", "bridge", "spnet"])
        let drops = scenario.faults.count { if case .networkDrop = $0 { return true } else { return false } }
        // Network drops are elements of the switch's sets (one lookup a packet), not rules.
        let elements = scenario.faults.compactMap { fault -> String? in
            guard case let .networkDrop(from, to, kind) = fault else { return nil }
            let path = "\(lab.node(from).address) . \(lab.node(to).address)"
            return kind.proto == .esp ? path : "\(path) . \(kind.proto.rawValue) . \(kind.port!)"
        }
        #expect(elements.count == drops)
        // Whole elements: followed by the next element, the end of the set or a line break (so that
        // `a . b` does not match `a . b . tcp . 2377`, nor `.2` match `.21`).
        for e in elements {
            #expect([",", " }", "\n"].contains { bridge.contains(e + $0) }, "\(e) not in \(bridge)")
        }
        // The three lookups between nodes, and two more for the coordinator's own traffic (out and back).
        #expect(bridge.split(separator: "\n").count { $0.hasSuffix(" drop") } == 5, "\(bridge)")
        var hostRules = 0
        for n in lab.nodes {
            let t = (try? Program.run(["ip", "netns", "exec", n.namespace, "nft", "list", "table", "inet", "spfw"])) ?? ""
            hostRules += t.split(separator: "\n").count { $0.contains(" drop") || $0.contains(" reject") }
        }
        #expect(hostRules == scenario.faults.count - drops)

        try lab.pinNeighbours()
        let neigh = try Program.run(["ip", "-n", lab.nodes[0].namespace, "neigh", "show"])
        for other in lab.nodes.dropFirst() {
            #expect(neigh.split(separator: "\n").contains { $0.hasPrefix("\(other.address) ") && $0.contains("PERMANENT") }, "\(neigh)")
        }
        #expect(neigh.contains("\(lab.coordinatorAddress) "))

        let before = try lab.portCounters()
        #expect(Set(before.keys) == Set(lab.nodes.map(\.name)))
        // A SYN to a port nobody holds (answered by a reset): at least one packet sent.
        _ = try Program.capture(["ip", "netns", "exec", lab.nodes[0].namespace, "nc", "-z", "-w", "1", lab.nodes[1].address.description, "9"])
        let after = try lab.portCounters()
        #expect(after[lab.nodes[0].name]!.sentPackets >= before[lab.nodes[0].name]!.sentPackets + 1)

        #expect(ProcInfo.cpuSeconds(getpid()) != nil)
        #expect((ProcInfo.status(getpid(), "VmRSS") ?? 0) > 0)
        #expect(ProcInfo.parseStatCPU("123 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 70 30 0 0") == 100)
        let m = try MeasuredProcess.run(["sh", "-c", "echo hi; echo err >&2; exit 3"], directory: lab.directory, label: "t")
        #expect(m.status == 3 && m.stdout == "hi\n" && m.stderr == "err\n" && m.maxRSSKiB > 0 && !m.timedOut)
    }
}

@Suite("bench: memory as a process costs it")
struct ProcessMemoryTests {
    @Test("smaps_rollup: RSS, PSS, and private = clean + dirty")
    func parse() throws {
        let text = """
            55d0c0a4d000-7ffd2c3f8000 ---p 00000000 00:00 0                          [rollup]
            Rss:               34196 kB
            Pss:               14312 kB
            Pss_Dirty:          3900 kB
            Shared_Clean:      30212 kB
            Shared_Dirty:          0 kB
            Private_Clean:        84 kB
            Private_Dirty:      3900 kB
            Swap:                  0 kB
            """
        #expect(ProcessMemory.parse(text) == ProcessMemory(rssKiB: 34196, pssKiB: 14312, privateKiB: 3984))
        #expect(ProcessMemory.parse("Rss: 1 kB\nPss: 1 kB\n") == nil)
    }

    @Test("this process: what it alone maps <= its share <= everything it maps")
    func ownProcess() throws {
        let m = try #require(ProcessMemory.read(pid: getpid()))
        #expect(m.privateKiB > 0 && m.privateKiB <= m.pssKiB && m.pssKiB <= m.rssKiB, "\(m)")
    }
}
