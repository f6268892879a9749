import Foundation
import SwarmProbeCore
import SwarmProbeReport
import Testing

@Suite("Markdown report")
struct MarkdownReportTests {
    @Test func verdictIsAtTheTop() {
        let expectations: [(Fixture, String)] = [
            (.healthy, "**PASS: all 42 required paths open**"),
            (.failing, "**FAIL: "),
            (.incomplete, "**INCOMPLETE: interrupted: 2 of 12 paths undecided; 1 required path not open**"),
        ]
        for (fixture, prefix) in expectations {
            let lines = MarkdownReport.render(fixture.results).split(separator: "\n").prefix(3)
            #expect(lines.contains { $0.hasPrefix(prefix) }, "\(fixture): \(Array(lines))")
        }
    }

    @Test func failVerdictCountsRequiredPathsNotOpen() {
        let r = Fixtures.failing()
        let md = MarkdownReport.render(r)
        #expect(r.summary.status == "fail")
        #expect(md.contains("**FAIL: \(r.summary.requiredNotOpen) of \(r.checks.count { $0.required }) required paths not open**"))
    }

    @Test func hostFirewallFindingNamesTargetAddressAndPort() throws {
        let md = MarkdownReport.render(Fixtures.failing())
        let finding = try #require(section(of: md, heading: "Blocked by the target's own firewall: 2377/tcp"))
        #expect(finding.contains("To mgr-1 (198.18.1.11), from mgr-2, wrk-1"))
        #expect(
            finding.contains("**Fix:** Add an accept rule on mgr-1 (198.18.1.11) for inbound TCP 2377 from mgr-2 (198.18.1.12), wrk-1 (198.18.1.13)"))
        #expect(finding.contains("`nft insert rule inet filter input ip saddr { 198.18.1.12, 198.18.1.13 } tcp dport 2377 accept`"))
        #expect(finding.contains("`ufw allow from 198.18.1.12 to any port 2377 proto tcp`"))
    }

    @Test func networkFindingSaysWhichInboundRuleOnWhichNode() throws {
        let md = MarkdownReport.render(Fixtures.failing())
        let finding = try #require(section(of: md, heading: "Blocked in the network: 4789/udp"))
        #expect(finding.contains("Traffic to wrk-1 on 4789/udp from mgr-1, mgr-2 never reaches wrk-1's network interface."))
        #expect(
            finding.contains(
                "**Fix:** Allow inbound UDP 4789 to wrk-1 (198.18.1.13) from mgr-1 (198.18.1.11), mgr-2 (198.18.1.12) in the security group / network ACL / cloud firewall"
            ))
    }

    @Test func returnPathUnknownAgentAndSourceFindings() throws {
        let md = MarkdownReport.render(Fixtures.failing())
        let returnPath = try #require(section(of: md, heading: "Blocked on the return path: 4789/udp"))
        #expect(returnPath.contains("the answers from mgr-1 back to wrk-1 never arrive"))
        #expect(returnPath.contains("ephemeral ports 1024-65535"))
        let unknown = try #require(section(of: md, heading: "Blocked, place unknown: 4789/udp"))
        #expect(unknown.contains("A capture tap on mgr-2"))
        let auth = try #require(section(of: md, heading: "Authentication failed: wrk-3 (198.18.1.15)"))
        #expect(auth.contains("The agent on wrk-3 (198.18.1.15) refused the coordinator's authentication"))
        let down = try #require(section(of: md, heading: "Agent down: wrk-2 (198.18.1.14)"))
        #expect(down.contains("**Fix:** Start the agent on wrk-2"))
        #expect(down.contains("198.18.1.14:7950"))
        let source = try #require(section(of: md, heading: "Unexpected source address: wrk-1 (198.18.1.13)"))
        #expect(source.contains("from 10.0.7.13"))
        #expect(source.contains("moby#53004"))
    }

    @Test func optionalPathsAreInformationNotFindings() throws {
        let md = MarkdownReport.render(Fixtures.failing())
        let findings = try #require(section(of: md, heading: "Findings", level: "## "))
        // The closed 2377/tcp to the worker wrk-1 is not required: only the manager mgr-2 is a finding.
        let closed = try #require(section(of: findings, heading: "Closed: 2377/tcp"))
        #expect(closed.contains("To mgr-2 (198.18.1.12), from mgr-1, wrk-1"))
        #expect(!closed.contains("To wrk-1"))
        let info = try #require(section(of: md, heading: "Not required (information)", level: "## "))
        #expect(info.contains("- 2377/tcp (cluster-management), closed: mgr-1 -> wrk-1, mgr-2 -> wrk-1"))
    }

    @Test func openChecksAreCountedNotListedWhenMany() {
        let md = MarkdownReport.render(Fixtures.large())
        #expect(md.contains("56 open checks (56 on 4789/udp), not listed here"))
        #expect(!md.contains("<details>"))
        let few = MarkdownReport.render(Fixtures.healthy())
        #expect(few.contains("<details><summary>48 open checks</summary>"))
    }

    /// A 150-node run (22,350 checks) renders in well under the limit.
    @Test(.timeLimit(.minutes(1))) func largeRunsRenderQuickly() {
        let r = Fixtures.large(nodes: 150)
        #expect(MarkdownReport.render(r).contains("22,350 open checks (22,350 on 4789/udp), not listed here"))
        #expect(TerminalReport.render(r, color: true).contains("PASS: all 22,350 required paths open"))
    }

    /// An interrupted check's headline counts the paths it left undecided apart from those found not open,
    /// in every report, grouped or not; the JSON summary counts them too.
    @Test func interruptedHeadlineSaysUndecidedNotNotOpen() throws {
        let r = Fixtures.incomplete()
        /// The headline of each report (the markdown one adds the counts after it).
        func headlines(_ checks: [CheckResult]) -> [String] {
            let x = Results(
                toolVersion: r.toolVersion, profile: r.profile, startedAt: r.startedAt, durationMs: r.durationMs, timeoutMs: r.timeoutMs,
                complete: false, nodes: r.nodes, checks: checks)
            let groups = CheckGroups(x)
            let texts = [
                MarkdownReport.render(x), TerminalReport.render(x, color: false),
                MarkdownReport.render(head: x, groups: groups), TerminalReport.render(head: x, groups: groups, color: false),
            ]
            return texts.map { text in
                String(text.split(separator: "\n").first { $0.contains("INCOMPLETE") } ?? "").replacingOccurrences(of: "**", with: "")
            }
        }
        let all = r.checks.count
        #expect(
            headlines(r.checks).allSatisfy { $0.hasPrefix("INCOMPLETE: interrupted: 2 of \(all) paths undecided; 1 required path not open") },
            "\(headlines(r.checks))")
        let noneBlocked = r.checks.filter { $0.verdict != .blocked }
        #expect(
            headlines(noneBlocked).allSatisfy {
                $0.hasPrefix("INCOMPLETE: interrupted: 2 of \(all - 1) paths undecided; every decided required path open")
            }, "\(headlines(noneBlocked))")
        let decided = r.checks.filter { $0.reason != .interrupted }
        #expect(
            headlines(decided).allSatisfy { $0.hasPrefix("INCOMPLETE: interrupted: every path decided; 1 required path not open") },
            "\(headlines(decided))")
        #expect(r.summary.undecided == 2 && r.summary.requiredUndecided == 2)
        let json = JSONReport.render(r)
        #expect(json.contains(#""undecided":2"#) && json.contains(#""required_undecided":2"#))
        // Undecided paths are listed apart, not as findings of a cause.
        let md = MarkdownReport.render(r)
        #expect(md.contains("Undecided: the check was interrupted before 2 required paths ended"))
        #expect(md.contains("wrk-1 -> wrk-2 4789/udp, wrk-2 -> wrk-1 4789/udp"))
        #expect(!md.contains("Inconclusive: 4789/udp"))
    }

    @Test func tablesEscapePipes() {
        var r = Fixtures.incomplete()
        r.checks[0].detail = "a | b"
        #expect(MarkdownReport.render(r).contains("a \\| b"))
    }

    /// The text from a heading (`### n. Title` or `## Title`) to the next heading of that level or above.
    func section(of md: String, heading: String, level: String = "### ") -> String? {
        let lines = md.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix(level) && $0.contains(heading) }) else { return nil }
        let end =
            lines[(start + 1)...].firstIndex { line in
                line.hasPrefix("## ") || (level == "### " && line.hasPrefix("### "))
            } ?? lines.endIndex
        return lines[start..<end].joined(separator: "\n")
    }
}

@Suite("Terminal report")
struct TerminalReportTests {
    @Test(arguments: Fixture.allCases)
    func colourIsOnlyAddedEscapes(_ fixture: Fixture) {
        let plain = TerminalReport.render(fixture.results, color: false)
        let coloured = TerminalReport.render(fixture.results, color: true)
        #expect(!plain.contains("\u{1B}"))
        #expect(coloured.contains("\u{1B}["))
        #expect(coloured.replacing(/\x{1B}\[[0-9;]*m/, with: "") == plain)
    }

    @Test(arguments: Fixture.allCases)
    func linesStayWithinWidth(_ fixture: Fixture) {
        for line in TerminalReport.render(fixture.results, color: false).split(separator: "\n") {
            // Only a command too long for any line may overflow, on a line of its own.
            #expect(line.count <= TerminalReport.width || line.drop { $0 == " " }.hasPrefix("`"), "\(line)")
            #expect(!line.hasSuffix(" "), "trailing space: \(line)")
        }
    }

    @Test func lastLineIsTheVerdict() {
        let r = Fixtures.failing()
        let last = TerminalReport.render(r, color: false).split(separator: "\n").last.map(String.init)
        #expect(last == "FAIL: \(r.summary.requiredNotOpen) of \(r.checks.count { $0.required }) required paths not open")
    }

    /// Long names: columns are numbered, and every cell starts under its column's label.
    @Test func matrixColumnsAlignWithLongNames() throws {
        let r = Fixtures.healthy()
        let lines = TerminalReport.render(r, color: false).split(separator: "\n").map(String.init)
        let headerIndex = try #require(lines.firstIndex { $0.hasPrefix("  from \\ to") })
        let header = Array(lines[headerIndex])
        #expect(String(header).hasSuffix("1      2      3      4"))
        let starts = header.indices.filter { $0 > 0 && header[$0] != " " && header[$0 - 1] == " " }.suffix(r.nodes.count)
        for row in lines[(headerIndex + 1)...(headerIndex + r.nodes.count)] {
            let chars = Array(row)
            for s in starts {
                #expect(s < chars.count && chars[s] != " " && chars[s - 1] == " ", "\(row)")
            }
        }
        #expect(lines.contains("  1 swarm-manager-eu-west-1a  -      ok     ok     ok"))
    }

    @Test func symbolsOfTheFailingRun() {
        let out = TerminalReport.render(Fixtures.failing(), color: false)
        // 4789/udp row of mgr-1: ?? to mgr-2, NET to wrk-1, dn to the two broken agents.
        #expect(out.contains("  mgr-1      -      ??     NET    dn     dn"))
        // 2377/tcp row of mgr-1: closed to mgr-2 (required), closed and agent-down to workers (not required).
        #expect(out.contains("  mgr-1      -      cl     (cl)   (dn)   (dn)"))
    }
}

@Suite("JSON report")
struct JSONReportTests {
    @Test(arguments: Fixture.allCases)
    func roundTrips(_ fixture: Fixture) throws {
        let r = fixture.results
        let json = JSONReport.render(r)
        #expect(json.hasSuffix("}\n"))
        let decoded = try JSONDecoder().decode(Results.self, from: Data(json.utf8))
        #expect(decoded == r)
    }

    @Test func schemaNullPortAndNullWhere() {
        let json = JSONReport.render(Fixtures.failing())
        #expect(json.contains(#""schema" : "swarmprobe.results/v1""#))
        #expect(json.contains(#""port":null"#))
        #expect(json.contains(#""protocol":"esp""#))
        #expect(json.contains(#""where":null"#))
        #expect(json.contains(#""where":"host-firewall""#))
    }

    /// The streamed document is not byte-identical to the one Foundation's encoder wrote before
    /// (key order, one check per line), but it decodes to the same `Results`.
    @Test(arguments: Fixture.allCases)
    func decodesLikeTheEncodersDocument(_ fixture: Fixture) throws {
        let r = fixture.results
        let old = try JSONDocument.encoder(pretty: true).encode(r)
        let new = Data(JSONReport.render(r).utf8)
        #expect(try JSONDecoder().decode(Results.self, from: new) == JSONDecoder().decode(Results.self, from: old))
    }

    /// Small parts first, then one check per line, so a line-oriented tool can stream the checks.
    @Test func checksComeLastOnePerLine() throws {
        let r = Fixtures.failing()
        let lines = JSONReport.render(r).split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex(of: #"  "checks" : ["#))
        #expect(lines[..<start].contains { $0.hasPrefix(#"  "summary" : {"#) })
        #expect(lines[..<start].contains { $0.hasPrefix(#"  "findings" : ["#) })
        let checkLines = lines[(start + 1)...].prefix(r.checks.count)
        #expect(checkLines.count == r.checks.count)
        for (line, check) in zip(checkLines, r.checks) {
            let text = line.trimmingCharacters(in: .whitespaces)
            let object = text.hasSuffix(",") ? String(text.dropLast()) : text
            #expect(try JSONDecoder().decode(CheckResult.self, from: Data(object.utf8)) == check)
        }
        #expect(lines[start + 1 + r.checks.count] == "  ]")
    }
}

@Suite("Answers the prober missed, in the reports")
struct MissedAnswerReportTests {
    static func run() -> Results {
        var b = RunBuilder([("m1", "198.18.1.11", .manager), ("w1", "198.18.1.13", .worker), ("w2", "198.18.1.14", .worker)])
        let kinds = [Kinds.management, Kinds.gossipUDP]
        for n in b.nodes { b.listeners[n.name] = kinds.map { ListenerState(kind: $0.kindID, mode: .listening) } }
        func silent(_ missed: Int?) -> SenderEvidence {
            SenderEvidence(outcome: .timeout, attempts: 8, nonces: [], missedAnswerMs: missed)
        }
        for k in kinds {
            for a in b.nodes {
                for t in b.nodes where t.name != a.name {
                    switch (a.name, t.name, k.name) {
                    case ("w1", "m1", "gossip-udp"):  // w1's own firewall drops m1's answers
                        b.add(a.name, t.name, k, silent(-470), b.seen(t.name, k, received: 8, answered: 8, from: a.name))
                    case ("w2", "m1", "gossip-udp"):  // a stateless ACL drops them on the way back
                        b.add(a.name, t.name, k, silent(nil), b.seen(t.name, k, received: 8, answered: 8, from: a.name))
                    case ("m1", "w2", _):  // w2 answered late
                        b.add(a.name, t.name, k, silent(640), b.seen(t.name, k, received: 8, answered: 8, from: a.name))
                    default:
                        b.add(
                            a.name, t.name, k, SenderEvidence(outcome: .answered, attempts: 1, rttMicros: 400),
                            b.seen(t.name, k, received: 1, answered: 1, from: a.name))
                    }
                }
            }
        }
        return b.results(startedAt: "2026-11-27T23:00:00Z", durationMs: 900, timeoutMs: 200)
    }

    @Test("one target, answers lost on the way back to one sender and dropped by the other sender's own firewall: both fixes, each for its sender")
    func mixedReturnPath() throws {
        let md = MarkdownReport.render(Self.run())
        let ret = try #require(md.components(separatedBy: "Blocked on the return path: 7946/udp").dropFirst().first)
        #expect(ret.contains("receives the 7946/udp probes from w2 and answers, but the answers from m1 back to w2 never arrive"), "\(ret)")
        #expect(ret.contains("Decided by: m1's agent logged 8 probe(s) from w2"), "\(ret)")
        #expect(ret.contains("The answers to w1 did arrive and were dropped by their own firewall"), "\(ret)")
        #expect(ret.contains("ct state established,related accept"), "\(ret)")
        #expect(md.contains("answer captured arriving 470 ms before it gave up"), "\(md)")
    }

    @Test("late answers: open, and a note with how many and how late, in the terminal, markdown and grouped reports")
    func lateNote() {
        let r = Self.run()
        #expect(r.checks.filter { $0.from == "m1" && $0.to == "w2" }.allSatisfy { $0.verdict == .open })
        let note = "2 open checks answered only after the probe was given up (up to 640 ms late"
        #expect(MarkdownReport.render(r).contains(note + "; to w2)"))
        #expect(TerminalReport.render(r, color: false).replacingOccurrences(of: "\n    ", with: " ").contains(note))
        let g = CheckGroups(r)
        #expect(g.lateAnswers.count == 2 && g.lateAnswers.slowestMs == 640)
        #expect(MarkdownReport.render(head: r, groups: g).contains(note + "):"))
        #expect(TerminalReport.render(head: r, groups: g, color: false).replacingOccurrences(of: "\n    ", with: " ").contains(note + "):"))
    }
}
