import Foundation
import Testing

@testable import SwarmProbeCore

@Suite("Results and Summary")
struct ResultsTests {
    static let profile = DefaultProfile.load()
    static let encrypted: TrafficKind = {
        var k = DefaultProfile.load().kinds[4]
        k.enabled = true
        return k
    }()

    static func result(
        _ kind: TrafficKind, required: Bool = true, _ decision: Decision,
        sender: SenderEvidence? = nil, receiver: ReceiverEvidence? = nil
    ) -> CheckResult {
        CheckResult(
            from: "m1", to: "w1", kind: kind, required: required, decision: decision, detail: "what was seen",
            sender: sender, receiver: receiver)
    }

    static let open = Decision(.open, nil, .answered)
    static let blocked = Decision(.blocked, .hostFirewall, .rejectedByTargetFirewall)

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONDocument.encoder().encode(value), as: UTF8.self)
    }

    @Test("an open ESP check has \"port\":null and \"where\":null")
    func espJSON() throws {
        let text = try Self.json(Self.result(Self.encrypted, Self.open))
        #expect(text.contains(#""port":null"#))
        #expect(text.contains(#""where":null"#))
        #expect(text.contains(#""protocol":"esp""#))
        #expect(text.contains(#""verdict":"open""#))
        #expect(text.contains(#""kind":"encrypted-overlay""#))
        #expect(text.contains(#""from":"m1""#) && text.contains(#""to":"w1""#))
        #expect(text.contains(#""required":true"#))
        #expect(!text.contains("unexpected_sources"), "only present when there are some")
    }

    @Test("a blocked UDP check has its port and where")
    func blockedJSON() throws {
        let d = Decision(.blocked, .returnPath, .answerLostWrongSource, unexpectedSources: [ip("192.168.1.5")])
        let r = Self.result(
            Self.profile.kinds[3], required: false, d,
            sender: SenderEvidence(outcome: .timeout, attempts: 3),
            receiver: ReceiverEvidence(listener: ListenerState(kind: .udp4789, mode: .observing)))
        let text = try Self.json(r)
        #expect(text.contains(#""port":4789"#))
        #expect(text.contains(#""protocol":"udp""#))
        #expect(text.contains(#""verdict":"blocked""#))
        #expect(text.contains(#""where":"return-path""#))
        #expect(text.contains(#""reason":"answer-lost-wrong-source""#))
        #expect(text.contains(#""required":false"#))
        #expect(text.contains(#""unexpected_sources":["192.168.1.5"]"#))
        #expect(text.contains(#""outcome":"timeout""#))
        #expect(text.contains(#""mode":"observing""#))
        let back = try JSONDecoder().decode(CheckResult.self, from: Data(text.utf8))
        #expect(back == r)
        #expect(back.kindID == .udp4789)
    }

    @Test("decoding an ESP result gives back a port-less kind")
    func espRoundTrip() throws {
        let r = Self.result(Self.encrypted, Self.blocked)
        let back = try JSONDecoder().decode(CheckResult.self, from: try JSONDocument.encoder().encode(r))
        #expect(back == r)
        #expect(back.port == nil && back.kindID == .esp)
        #expect(try Self.json(r).contains(#""where":"host-firewall""#))
    }

    @Test("exit 0 and pass when every required check is open, whatever the optional ones say")
    func pass() {
        let checks = [
            Self.result(Self.profile.kinds[0], Self.open),
            Self.result(Self.profile.kinds[1], Self.open),
            Self.result(Self.profile.kinds[0], required: false, Decision(.closed, nil, .nothingListening)),
            Self.result(Self.profile.kinds[2], required: false, Self.blocked),
        ]
        let s = Summary(checks: checks, complete: true)
        #expect(s.exitCode == 0)
        #expect(s.status == "pass")
        #expect(s.requiredNotOpen == 0)
        #expect(s.checks == 4 && s.open == 2 && s.closed == 1 && s.blocked == 1 && s.agentDown == 0 && s.inconclusive == 0)
        #expect(Summary(checks: [], complete: true).exitCode == 0)
    }

    @Test("exit 1 and fail when a required check is not open", arguments: [Verdict.blocked, .closed, .agentDown, .inconclusive])
    func fail(verdict: Verdict) {
        let d = Decision(verdict, verdict == .blocked ? .network : nil, .silentBeforeTarget)
        let checks = [Self.result(Self.profile.kinds[0], Self.open), Self.result(Self.profile.kinds[1], d)]
        let s = Summary(checks: checks, complete: true)
        #expect(s.exitCode == 1)
        #expect(s.status == "fail")
        #expect(s.requiredNotOpen == 1)
    }

    @Test("exit 1 and incomplete when the check did not finish, even if all is open")
    func incomplete() {
        let s = Summary(checks: [Self.result(Self.profile.kinds[0], Self.open)], complete: false)
        #expect(s.exitCode == 1)
        #expect(s.status == "incomplete")
        let failing = Summary(checks: [Self.result(Self.profile.kinds[0], Self.blocked)], complete: false)
        #expect(failing.status == "incomplete" && failing.exitCode == 1)
    }

    @Test("the results document: schema, snake_case keys, summary")
    func document() throws {
        let node = Node(name: "m1", address: ip("10.0.0.1"), role: .manager)
        let results = Results(
            toolVersion: SwarmProbeVersion.current, profile: "swarm", startedAt: "2024-01-01T00:00:00Z",
            durationMs: 1234, timeoutMs: 1000, complete: true,
            nodes: [NodeResult(node: node, agent: .up, agentVersion: "0.1.0", clockOffsetMs: -3)],
            checks: [Self.result(Self.profile.kinds[0], Self.blocked)])
        #expect(results.exitCode == 1)
        let text = try Self.json(results)
        #expect(text.contains(#""schema":"swarmprobe.results/v1""#))
        #expect(text.contains(#""required_not_open":1"#))
        #expect(text.contains(#""exit_code":1"#))
        #expect(text.contains(#""status":"fail""#))
        #expect(text.contains(#""agent_down":0"#))
        #expect(text.contains(#""control":"10.0.0.1:7950""#))
        #expect(text.contains(#""clock_offset_ms":-3"#))
        #expect(text.contains(#""tool_version":"\#(SwarmProbeVersion.current)""#))
        #expect(try JSONDecoder().decode(Results.self, from: Data(text.utf8)) == results)
    }
}
