import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// A real agent under hostile input (SECURITY.md): reflection and amplification measured with spoofed
/// sources, the control endpoint's refusals, and floods of junk and slow peers while its memory is watched.
/// Every attacker is `security_attacks.py` run inside the lab's own namespaces; every address is in
/// 198.18.0.0/15; every loop is bounded in count and time. The tests print nothing; with
/// `SWARMPROBE_SECURITY_MEASURES=FILE` they append what they measured to FILE (SECURITY.md's figures).
@Suite("security: hostile input against real agents", .serialized, .enabled(if: labUnavailable == nil, "\(labUnavailable ?? "")"))
struct SecurityTests {
    static let udp7946 = KindID(proto: .udp, port: 7946)
    static let tcp7946 = KindID(proto: .tcp, port: 7946)
    static let tcp2377 = KindID(proto: .tcp, port: 2377)
    static let vxlan = KindID(proto: .udp, port: 4789)
    static let esp = KindID(proto: .esp, port: nil)
    /// The VXLAN header swarmprobe frames data-path probes with (VNI 0xFFFFF0; Vxlan.swift).
    static let vxlanHeader: [UInt8] = [0x08, 0, 0, 0, 0xFF, 0xFF, 0xF0, 0]

    // MARK: 1. Reflection and amplification

    @Test("spoofed junk and unauthenticated probes at 7946/udp, 4789/udp and ESP: the victim receives nothing")
    func reflectionJunk() throws {
        try withSecurityLab(encrypted: true) { lab, token in
            let agent = lab.node("m1"), victim = lab.node("w1")
            try secInstallCounters(lab, on: victim.namespace, peer: agent.address)
            try secInstallCounters(lab, on: agent.namespace, peer: victim.address)
            let capture = SecCapture(lab, in: victim.namespace, filter: "src host \(agent.address)", name: "victim")
            // 2,000 datagrams per target, every kind of junk: random bytes, our magic with junk after it,
            // well-formed probes and "echoes" signed with random keys, zeroed MACs, lying lengths, truncations.
            let sent = try SecAttacker(
                lab, in: lab.switchNamespace, name: "junk",
                [
                    "junk", "--src", "\(victim.address)", "--dst", "\(agent.address)", "--ports", "7946,4789", "--esp",
                    "--count", "2000", "--seconds", "20",
                ]
            ).finish(timeout: 40)
            usleep(500_000)
            let arrived = try secReadCounter(lab, on: agent.namespace, "from_peer")
            let reflected = try secReadCounter(lab, on: victim.namespace, "from_peer")
            let icmp = try secReadCounter(lab, on: victim.namespace, "from_peer_icmp")
            let sentPackets = Int(secNum(sent["packets"])), sentBytes = Int(secNum(sent["bytes"]))
            let seconds = secNum(sent["seconds"])
            secMeasure(
                "reflection/junk: attacker sent \(sentPackets) packets, \(sentBytes) B in \(String(format: "%.2f", seconds)) s "
                    + "spoofed as \(victim.address) (\(arrived.packets) arrived at the agent); the victim received from the agent "
                    + "\(reflected.packets) answers (\(reflected.bytes) B) and \(icmp.packets) kernel ICMP errors (\(icmp.bytes) B): "
                    + "ratio \(secRatio(reflected.bytes, sentBytes)) answers, \(secRatio(reflected.bytes + icmp.bytes, sentBytes)) with ICMP")
            #expect(sentPackets == 6000, "\(sent)")
            // The attack really reached the agent (else the zero below proves nothing).
            #expect(arrived.packets >= sentPackets * 9 / 10, "only \(arrived.packets) of \(sentPackets) arrived")
            #expect(
                reflected.packets == 0 && reflected.bytes == 0,
                "the agent answered unauthenticated packets: \(reflected):\n\(capture?.stop() ?? "(no tcpdump)")")
            // Linux >= 6.x answers "protocol 50 unreachable" for an ESP packet its raw socket had no room for
            // (IpInUnknownProtos): what any host without the agent does for every ESP packet. The kernel's
            // per-host ICMP limit (burst 6, then 1/s) bounds it; the agent's answers above stay at zero.
            #expect(icmp.packets <= 6 + Int(seconds.rounded(.up)) + 2, "ICMP beyond the kernel's rate limit: \(icmp)")
            withKnownIssue(
                "W4: ESP junk bursts overflow the raw socket's buffer and the kernel sends ICMP protocol-unreachable",
                isIntermittent: true
            ) {
                #expect(icmp.packets == 0, "\(icmp):\n\(capture?.stop() ?? "(no tcpdump)")")
            }
            _ = capture?.stop()
            // And the agent is still fine: a real check passes.
            let run = try runCheck(lab, token: token, extra: ["--profile", Self.encryptedProfile])
            #expect(Self.passes(run), "\(run.stderr) \(run.results.checks.filter { $0.verdict != .open }.map(\.detail))")
        }
    }

    /// A check with the encrypted profile passes but for this kernel's IPsec support (`ipsec-unsupported`: a host fact,
    /// the same with or without an attack): every path open, no other required node finding.
    static func passes(_ run: CheckRun) -> Bool {
        run.status == 0
            || (run.status == 1 && run.results.checks.allSatisfy { $0.verdict == .open }
                && run.results.nodeFindings.allSatisfy { !$0.required || $0.code == "ipsec-unsupported" })
    }

    @Test("a replayed valid probe is answered once, only to the address it names; stale and misdirected ones never")
    func reflectionReplay() throws {
        try withSecurityLab(encrypted: true) { lab, token in
            let agent = lab.node("m1"), victim = lab.node("w1"), bystander = lab.node("w2")
            let key = try ClusterToken.load(path: token).probeKey
            try secInstallCounters(lab, on: victim.namespace, peer: agent.address)
            try secInstallCounters(lab, on: bystander.namespace, peer: agent.address)
            func probe(_ kind: KindID, sender: IPAddress, target: IPAddress, age: UInt64 = 0) -> [UInt8] {
                let port = kind.port ?? 0
                let p = ProbePacket(
                    type: .probe, proto: kind.proto, targetPort: UInt16(port), replyPort: UInt16(port),
                    timeMs: nowMs() - age, nonce: randomBytes(16), runID: randomBytes(16),
                    sender: sender, target: target, padding: 64)
                let bytes = p.encode(key: key)
                return kind == Self.vxlan ? Self.vxlanHeader + bytes : bytes
            }
            // Valid probes (the real token) naming the victim as their sender: the worst case for the victim.
            // The echo goes to the victim's own agent port, whose agent must not answer it back (no ping-pong).
            let fresh = [Self.udp7946, Self.vxlan, Self.esp].map { ($0, probe($0, sender: victim.address, target: agent.address)) }
            // One naming a bystander: its echo goes there, never to the spoofed source.
            let named = (Self.udp7946, probe(Self.udp7946, sender: bystander.address, target: agent.address))
            // Valid MAC but two minutes old, and one addressed to another node: never answered, not even once.
            let stale = (Self.udp7946, probe(Self.udp7946, sender: victim.address, target: agent.address, age: 120_000))
            let misdirected = (Self.udp7946, probe(Self.udp7946, sender: victim.address, target: bystander.address))
            let all = fresh + [named, stale, misdirected]
            let file = try lab.write(
                "replay.txt", all.map { k, b in "\(k.proto.rawValue) \(k.port ?? 0) \(Hex.encode(b))" }.joined(separator: "\n") + "\n")
            let repeats = 500
            let sent = try SecAttacker(
                lab, in: lab.switchNamespace, name: "replay",
                [
                    "replay", "--src", "\(victim.address)", "--dst", "\(agent.address)", "--file", file, "--repeat", "\(repeats)",
                ]
            ).finish(timeout: 40)
            usleep(500_000)
            let toVictim = try secReadCounter(lab, on: victim.namespace, "from_peer")
            let victimBack = try secReadCounter(lab, on: victim.namespace, "to_peer")
            let toBystander = try secReadCounter(lab, on: bystander.namespace, "from_peer")
            let sentPackets = Int(secNum(sent["packets"])), sentBytes = Int(secNum(sent["bytes"]))
            // IPv4 + UDP headers around each probe (ESP: IPv4 only); an echo is the same size as its probe.
            let onceBytes = fresh.map { k, b in b.count + (k.proto == .esp ? 20 : 28) }.reduce(0, +)
            secMeasure(
                "reflection/replay: \(all.count) valid-MAC probes x \(repeats) = \(sentPackets) packets, \(sentBytes) B spoofed as "
                    + "\(victim.address); the victim received \(toVictim.packets) packets, \(toVictim.bytes) B (one echo per fresh probe: "
                    + "\(onceBytes) B), sent \(victimBack.packets) back; the bystander named in one probe received \(toBystander.packets): "
                    + "ratio \(secRatio(toVictim.bytes, sentBytes)); per replayed copy \(secRatio(toVictim.bytes, sentBytes / repeats))")
            #expect(sentPackets == all.count * repeats, "\(sent)")
            #expect(toVictim.packets == fresh.count, "each fresh probe answered exactly once: \(toVictim)")
            #expect(toVictim.bytes == onceBytes, "an echo is never larger than its probe")
            #expect(toVictim.bytes <= sentBytes / repeats, "ratio <= 1 even against a single copy of each probe")
            #expect(victimBack.packets == 0, "the victim's agent must not answer an echo: \(victimBack)")
            #expect(toBystander.packets == 1, "the echo goes to the signed sender only: \(toBystander)")
            let run = try runCheck(lab, token: token, extra: ["--profile", Self.encryptedProfile])
            #expect(Self.passes(run), "\(run.stderr) \(run.results.checks.filter { $0.verdict != .open }.map(\.detail))")
        }
    }

    @Test("a burst of distinct valid probes from one source: only the per-source budget (burst 400, 200/s) is answered")
    func rateLimit() throws {
        try withSecurityLab(encrypted: false) { lab, token in
            let agent = lab.node("m1"), victim = lab.node("w1")
            let key = try ClusterToken.load(path: token).probeKey
            try secInstallCounters(lab, on: victim.namespace, peer: agent.address)
            try secInstallCounters(lab, on: agent.namespace, peer: victim.address)
            let count = 1500
            let lines = (0..<count).map { _ in
                let p = ProbePacket(
                    type: .probe, proto: .udp, targetPort: 7946, replyPort: 7946, timeMs: nowMs(),
                    nonce: randomBytes(16), runID: randomBytes(16), sender: victim.address, target: agent.address)
                return "udp 7946 \(Hex.encode(p.encode(key: key)))"
            }
            let file = try lab.write("burst.txt", lines.joined(separator: "\n") + "\n")
            // About 3,000 a second: 15 times the sustained budget, slow enough that the agent's socket buffer
            // does not overflow first (then the kernel, not the limiter, would decide what is dropped).
            let overflowBefore = try secNstat(on: agent.namespace, "UdpRcvbufErrors")
            let sent = try SecAttacker(
                lab, in: lab.switchNamespace, name: "burst",
                [
                    "replay", "--src", "\(victim.address)", "--dst", "\(agent.address)", "--file", file, "--repeat", "1", "--pace", "3000",
                ]
            ).finish(timeout: 30)
            usleep(500_000)
            let overflow = try secNstat(on: agent.namespace, "UdpRcvbufErrors") - overflowBefore
            let arrived = try secReadCounter(lab, on: agent.namespace, "from_peer")
            let answered = try secReadCounter(lab, on: victim.namespace, "from_peer")
            let elapsed = secNum(sent["elapsed"])
            // Token bucket: 400 at once, then 200 a second; allow the agent a little longer than the sender took.
            let budget = 400 + Int((200 * (elapsed + 0.25)).rounded(.up))
            let processed = arrived.packets - overflow
            secMeasure(
                "rate limit: \(Int(secNum(sent["packets"]))) distinct valid probes from one source in \(String(format: "%.3f", elapsed)) s, "
                    + "\(arrived.packets) arrived, \(overflow) dropped by the kernel (socket buffer full), \(answered.packets) answered "
                    + "(budget 400 + 200/s x \(String(format: "%.2f", elapsed)) s = \(budget - 50) .. \(budget) at most)")
            #expect(arrived.packets >= count * 9 / 10, "only \(arrived.packets) arrived")
            #expect(answered.packets <= budget, "more than the per-source budget answered: \(answered.packets)")
            #expect(
                answered.packets >= min(processed, 400 + Int(200 * elapsed)) - 10,
                "the budget itself is answered: \(answered.packets) of \(processed) the agent read")
            // The limit is per source and after authentication: the real nodes' own check is unaffected.
            let run = try runCheck(lab, token: token)
            #expect(run.status == 0, "\(run.stderr) \(run.results.checks.filter { $0.verdict != .open }.map(\.detail))")
        }
    }

    // MARK: 2. The control endpoint

    @Test("control endpoint abuse: each bad request refused with the right status and a one-line JSON error, nothing run")
    func controlAbuse() throws {
        try withSecurityLab(encrypted: false) { lab, token in
            let agent = lab.node("m1"), w1 = lab.node("w1"), w2 = lab.node("w2")
            let key = try ClusterToken.load(path: token).controlKey
            let otherKey = ClusterToken(secret: randomBytes(32)).controlKey
            let nodes = lab.nodes.map { PeerRef(name: $0.name, address: $0.address) }
            func runBody(_ r: RunRequest) throws -> [UInt8] { WireCodec.encode(r) }
            func plan(nodes: [PeerRef] = nodes, probes: [ProbeOrder], timeoutMs: Int = 300, attempts: Int = 1) -> RunRequest {
                RunRequest(runID: Hex.encode(randomBytes(16)), nodes: nodes, probes: probes, timeoutMs: timeoutMs, attempts: attempts)
            }
            let hello = WireCodec.encode(HelloRequest())
            var specs: [SecRequest] = []
            func add(
                _ name: String, _ path: String, method: String = "POST", body: [UInt8] = [], sign: Bool = true,
                wrongToken: Bool = false, signedMethod: String? = nil, signedPath: String? = nil, signedBody: [UInt8]? = nil,
                ts: UInt64? = nil, authorization: String? = nil, expect: Int, mentions: String
            ) {
                var headers: [String: String] = [:]
                var nonce: String?
                if let authorization {
                    headers["Authorization"] = authorization
                } else if sign {
                    let k = wrongToken ? otherKey : key
                    let s = ControlAuth.sign(
                        key: k, method: signedMethod ?? method, path: signedPath ?? path,
                        body: signedBody ?? body, timeMs: ts ?? nowMs())
                    headers["Authorization"] = s.header
                    nonce = wrongToken ? nil : s.nonce
                }
                specs.append(
                    SecRequest(
                        name: name, method: method, path: path, headers: headers, body: body, expect: expect,
                        mentions: mentions, nonce: nonce))
            }
            let legit = try runBody(plan(probes: [ProbeOrder(target: w1.address, kind: Self.tcp7946)]))
            add("valid hello (the harness signs correctly)", ControlPath.hello, body: hello, expect: 200, mentions: "agent_version")
            add(
                "hello of an older coordinator (no protocol version), signed", ControlPath.hello, body: Array("{}".utf8), expect: 409,
                mentions: "upgrade the coordinator")
            add("unsigned", ControlPath.hello, body: hello, sign: false, expect: 401, mentions: "no Authorization header")
            add("unsigned run", ControlPath.run, body: legit, sign: false, expect: 401, mentions: "no Authorization header")
            add("signed with another token", ControlPath.run, body: legit, wrongToken: true, expect: 401, mentions: "signature does not match")
            add("expired timestamp (2 min old)", ControlPath.run, body: legit, ts: nowMs() - 120_000, expect: 401, mentions: "too old")
            add("timestamp 2 min in the future", ControlPath.run, body: legit, ts: nowMs() + 120_000, expect: 401, mentions: "future")
            add(
                "body changed after signing", ControlPath.run, body: legit,
                signedBody: try runBody(plan(probes: [ProbeOrder(target: w2.address, kind: Self.tcp7946)])), expect: 401, mentions: "signature")
            add(
                "signed for /v1/hello, sent to /v1/run", ControlPath.run, body: legit, signedPath: ControlPath.hello, expect: 401,
                mentions: "signature")
            add(
                "malformed header: other scheme", ControlPath.run, body: legit, authorization: "Bearer abc", expect: 401,
                mentions: "malformed Authorization")
            add(
                "malformed header: junk fields", ControlPath.run, body: legit, authorization: "SWP1 ts=x,nonce=zz,mac", expect: 401,
                mentions: "malformed Authorization")
            add(
                "malformed header: short mac", ControlPath.run, body: legit,
                authorization: "SWP1 ts=\(nowMs()),nonce=\(Hex.encode(randomBytes(16))),mac=abcd", expect: 401, mentions: "field mac")
            add("wrong path, unsigned", "/v1/admin", sign: false, expect: 401, mentions: "no Authorization header")
            add("wrong path, signed", "/v1/admin", body: hello, expect: 404, mentions: "no such endpoint")
            add("GET instead of POST, signed", ControlPath.hello, method: "GET", expect: 405, mentions: "use POST")
            add("malformed JSON, signed", ControlPath.run, body: Array(#"{"run_id": "#.utf8), expect: 400, mentions: "run request")
            add("JSON of the wrong shape, signed", ControlPath.run, body: Array(#"{"run_id": 7}"#.utf8), expect: 400, mentions: "run_id")
            add(
                "plan: target outside the signed node list", ControlPath.run,
                body: try runBody(plan(probes: [ProbeOrder(target: .v4(198, 18, 255, 254), kind: Self.tcp7946)])),
                expect: 400, mentions: "probes[0].target")
            add(
                "plan: port outside the profile (22/tcp)", ControlPath.run,
                body: try runBody(plan(probes: [ProbeOrder(target: w1.address, kind: KindID(proto: .tcp, port: 22))])),
                expect: 400, mentions: "probes[0].kind")
            add(
                "plan: the agent itself as a target", ControlPath.run,
                body: try runBody(plan(probes: [ProbeOrder(target: agent.address, kind: Self.tcp7946)])), expect: 400, mentions: "probes[0].target")
            add(
                "plan: node list without the agent", ControlPath.run,
                body: try runBody(plan(nodes: nodes.filter { $0.address != agent.address }, probes: [])), expect: 400, mentions: "nodes")
            add(
                "plan: 50 attempts", ControlPath.run,
                body: try runBody(plan(probes: [ProbeOrder(target: w1.address, kind: Self.udp7946)], attempts: 50)), expect: 400, mentions: "attempts"
            )
            add(
                "plan: 10 min timeout", ControlPath.run,
                body: try runBody(plan(probes: [ProbeOrder(target: w1.address, kind: Self.udp7946)], timeoutMs: 600_000)), expect: 400,
                mentions: "timeout_ms")
            add(
                "plan: the same probe twice", ControlPath.run,
                body: try runBody(
                    plan(probes: [ProbeOrder(target: w1.address, kind: Self.udp7946), ProbeOrder(target: w1.address, kind: Self.udp7946)])),
                expect: 400, mentions: "listed twice")
            // A valid plan (the one legitimate run of this test), then the very same request again.
            let replayed = try runBody(plan(probes: [ProbeOrder(target: w1.address, kind: Self.tcp7946)]))
            let signed = ControlAuth.sign(key: key, method: "POST", path: ControlPath.run, body: replayed, timeMs: nowMs())
            add("valid plan", ControlPath.run, body: replayed, authorization: signed.header, expect: 200, mentions: "results")
            specs[specs.count - 1].nonce = signed.nonce
            add("the same request replayed", ControlPath.run, body: replayed, authorization: signed.header, expect: 401, mentions: "already used")
            // Oversized: refused before anything is checked; the body is discarded as it arrives.
            specs.append(
                SecRequest(
                    name: "oversized body (4 MiB + 1)", method: "POST", path: ControlPath.run, headers: [:],
                    bodySize: ControlAuth.maximumBodyBytes + 1, expect: 413, mentions: "4 MiB"))
            // Unsigned and chunked: refused at the head, before a byte of the body is read.
            specs.append(
                SecRequest(
                    name: "oversized body, chunked (no length), unsigned", method: "POST", path: ControlPath.run,
                    headers: ["Transfer-Encoding": "chunked"], bodySize: ControlAuth.maximumBodyBytes + 1, expect: 401,
                    mentions: "no Authorization header"))
            specs.append(SecRequest(name: "not HTTP at all", raw: Array("\u{16}\u{03}\u{01} SWPB \r\n\r\n".utf8), expect: 400, mentions: ""))
            specs.append(
                SecRequest(
                    name: "HTTP with a broken header line", raw: Array("POST /v1/run HTTP/1.1\r\nHost x\r\n\r\n".utf8), expect: 400, mentions: ""))

            let file = try lab.write(
                "control.jsonl",
                try specs.map { String(decoding: try JSONSerialization.data(withJSONObject: $0.json), as: UTF8.self) }
                    .joined(separator: "\n") + "\n")
            let started = Date()
            let answers = try SecAttacker(
                lab, in: lab.switchNamespace, name: "control",
                [
                    "control", "--dst", "\(agent.address)", "--port", "7950", "--file", file,
                ]
            ).finishArray(timeout: 60)
            #expect(answers.count == specs.count, "every request answered: \(answers.count) of \(specs.count)")
            var table: [String] = []
            for (spec, answer) in zip(specs, answers) {
                let status = Int(secNum(answer["status"]))
                let body = Data(base64Encoded: answer["body_b64"] as? String ?? "") ?? Data()
                let text = String(decoding: body, as: UTF8.self)
                let headers = answer["headers"] as? [String: String] ?? [:]
                table.append("\(spec.name): \(status) \(text.prefix(110))")
                #expect(status == spec.expect, "\(spec.name): expected \(spec.expect), got \(status) \(text)")
                guard !spec.mentions.isEmpty else {
                    // Bytes that are not HTTP: a 400 with a one-line JSON error, then close (was W3).
                    #expect(secIsOneLineJSONError(body), "\(spec.name): \(text)")
                    continue
                }
                #expect(text.contains(spec.mentions), "\(spec.name): the answer should say \"\(spec.mentions)\": \(text)")
                if spec.expect != 200 {
                    #expect(secIsOneLineJSONError(body), "\(spec.name): not a one-line JSON error: \(text)")
                }
                // Answers to authenticated requests are signed back; refusals of unauthenticated ones are not.
                let mac = headers[ControlAuth.responseHeader.lowercased()]
                if let nonce = spec.nonce, spec.expect != 401 {
                    #expect(
                        ControlAuth.verifyResponse(key: key, requestNonce: nonce, status: status, body: Array(body), mac: mac),
                        "\(spec.name): the answer is not signed with our token")
                } else if spec.expect == 401 || spec.expect == 413 {
                    // Including signed requests that failed authentication (stale, tampered, replayed).
                    #expect(mac == nil, "\(spec.name): an unauthenticated request got a signed answer")
                }
            }
            secMeasure(
                "control abuse (\(specs.count) requests in \(String(format: "%.1f", Date().timeIntervalSince(started))) s):\n  "
                    + table.joined(separator: "\n  "))
            // Changes nothing: exactly one plan ran (the valid one), and a real check passes.
            let log = lab.agentLog("m1")
            let runs = log.components(separatedBy: " probes done in ").count - 1
            #expect(runs == 1, "the agent ran \(runs) plans; only the valid one may run:\n\(log)")
            #expect(lab.agentPID("m1").map { kill($0, 0) == 0 } == true, "the agent is alive")
            let run = try runCheck(lab, token: token)
            #expect(run.status == 0, "\(run.stderr) \(run.results.checks.filter { $0.verdict != .open }.map(\.detail))")
            #expect(run.results.checks.allSatisfy { $0.verdict == .open })
            // A coordinator holding another token: LabTests.wrongToken ("authentication failed for node w2").
        }
    }

    // MARK: 3. Floods and slow peers

    @Test("floods of junk datagrams and junk, half-open and slow TCP peers: the agent stays up, bounded, and right")
    func floods() throws {
        let scenario = LabScenario(
            name: "flood", nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)],
            faults: [
                .networkDrop(from: "w1", to: "m1", kind: Self.vxlan),
                .hostFirewall(node: "m1", from: "w2", kind: Self.tcp7946, reject: true),
            ])
        let lab = try Lab(nodes: scenario.nodes)
        defer { lab.destroy() }
        let token = try lab.write("token", ClusterToken.generate() + "\n")
        try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token)
        for f in scenario.faults { try lab.inject(f) }
        let agent = lab.node("m1")
        let pid = try #require(lab.agentPID("m1"))
        // Warm up (one check) so "before" is an agent that has already served a check.
        _ = try runCheck(lab, token: token)
        let before = try #require(SecProcStatus(pid: pid))
        try secInstallCounters(lab, on: agent.namespace, peer: lab.coordinatorAddress)
        let seconds = 14.0
        let started = Date()
        let udp = try SecAttacker(
            lab, in: lab.switchNamespace, name: "flood-udp",
            [
                "flood", "--dst", "\(agent.address)", "--src-claim", "\(lab.node("w1").address)", "--ports", "7946,4789",
                "--packets", "400000", "--seconds", "\(seconds - 2)", "--min-packets", "100000",
            ])
        let tcp = try SecAttacker(
            lab, in: lab.switchNamespace, name: "flood-tcp",
            [
                "tcp", "--dst", "\(agent.address)", "--ports", "2377,7946,7950", "--connections", "4000",
                "--concurrency", "1500", "--seconds", "\(seconds)",
            ])
        var peak = before
        var samples = 0
        let deadline = Date().addingTimeInterval(seconds + 20)
        while (udp.isRunning || tcp.isRunning) && Date() < deadline {
            if let s = SecProcStatus(pid: pid) {
                peak = peak.max(s)
                samples += 1
            }
            usleep(200_000)
        }
        let udpResult = try udp.finish(timeout: 1)
        let tcpResult = try tcp.finish(timeout: 1)
        let attackSeconds = Date().timeIntervalSince(started)
        let arrived = try secReadCounter(lab, on: agent.namespace, "from_peer")
        // Give the agent the per-connection deadlines (5 s probe listeners, 10 s control) to let go of everything.
        var after = try #require(SecProcStatus(pid: pid))
        let settle = Date().addingTimeInterval(11)
        while after.fds > before.fds + 8 && Date() < settle {
            usleep(250_000)
            after = SecProcStatus(pid: pid) ?? after
        }
        let alive = kill(pid, 0) == 0
        let checkStarted = Date()
        let run = try runCheck(lab, token: token)
        let checkSeconds = Date().timeIntervalSince(checkStarted)
        after = SecProcStatus(pid: pid) ?? after
        secMeasure(
            """
            floods on m1 for \(String(format: "%.1f", attackSeconds)) s: UDP \(Int(secNum(udpResult["packets"]))) junk datagrams \
            (\(Int(secNum(udpResult["bytes"]))) B, \(String(format: "%.1f", secNum(udpResult["seconds"]))) s) at 7946 and 4789; \
            TCP \(Int(secNum(tcpResult["connections"]))) connections (peak \(Int(secNum(tcpResult["peak_open"]))) open) at 2377, 7946, 7950; \
            \(arrived.packets) packets from the attacker reached m1
              TCP outcome by port/kind: \(secJSON(tcpResult["by_port_kind"]))
              agent RSS: before \(before.rssKiB / 1024) MiB, peak sampled \(peak.rssKiB / 1024) MiB (\(samples) samples every 200 ms), \
            peak (VmHWM) \(peak.hwmKiB / 1024) MiB, after \(after.rssKiB / 1024) MiB; fds before \(before.fds), peak \(peak.fds), after \(after.fds); \
            threads \(before.threads) -> \(peak.threads) -> \(after.threads)
              check right after: exit \(run.status), \(run.results.checks.count) checks in \(String(format: "%.1f", checkSeconds)) s
            """)
        #expect(Int(secNum(udpResult["packets"])) >= 100_000, "the flood was a flood: \(udpResult)")
        #expect(Int(secNum(tcpResult["connections"])) >= 1000, "\(tcpResult)")
        #expect(alive, "the agent died under the flood:\n\(lab.agentLog("m1"))")
        #expect(peak.hwmKiB < Self.rssBoundKiB, "peak RSS \(peak.hwmKiB / 1024) MiB over the bound \(Self.rssBoundKiB / 1024) MiB")
        #expect(after.rssKiB < Self.rssBoundKiB)
        #expect(peak.hwmKiB - before.rssKiB < Self.rssGrowthKiB, "grew \((peak.hwmKiB - before.rssKiB) / 1024) MiB under the flood")
        #expect(after.fds <= before.fds + 8, "connections left open after the flood: \(before.fds) -> \(after.fds)")
        // The flood can leave m1's taps behind (nflog's queue overflows and reports it late): an agent
        // whose taps lost packets during the check says so, and its silent drops are then blocked/unknown
        // instead of a layer guessed from incomplete capture. Anything else must match exactly.
        let lossy = Set(run.results.nodes.filter { ($0.captureLost ?? 0) > 0 }.map(\.name))
        if !lossy.isEmpty {
            secMeasure(
                "capture lost packets during the check on \(lossy.sorted()): \(run.results.nodes.compactMap { $0.captureLost.map { "\($0)" } })")
        }
        for c in run.results.checks {
            let (v, w) = scenario.expected(from: c.from, to: c.to, kind: c.kindID, capture: true)
            let excused = lossy.contains(c.to) && v == .blocked && c.verdict == .blocked && c.location == .unknown
            #expect(
                excused || (c.verdict == v && c.location == w),
                "\(c.from) -> \(c.to) \(c.kindID): expected \(v)/\(w.map(\.rawValue) ?? "-"), got \(c.verdict)/\(c.location.map(\.rawValue) ?? "-"): \(c.detail)"
            )
        }
        #expect(run.results.complete && run.status == 1)
    }

    /// The bound asserted for the agent's resident memory under floods. Measured on a debug build: 51 MiB
    /// before, 55 MiB peak (VmHWM); the bound leaves room for a busier machine.
    static let rssBoundKiB = 96 * 1024
    /// Growth allowed under the floods (measured: about 4 MiB on a debug build).
    static let rssGrowthKiB = 24 * 1024

    // MARK: Weaknesses found (known issues: the fix is described in SECURITY.md)

    @Test("128 idle connections to the control port lock the coordinator out (W1)")
    func controlSaturation() throws {
        try withSecurityLab(encrypted: false) { lab, token in
            let agent = lab.node("m1")
            // Hold 300 idle connections to 7950 only: more than the control endpoint's 128 slots.
            let hold = try SecAttacker(
                lab, in: lab.switchNamespace, name: "hold",
                [
                    "tcp", "--dst", "\(agent.address)", "--ports", "7950", "--connections", "300", "--concurrency", "300",
                    "--kinds", "half", "--seconds", "9",
                ])
            usleep(1_500_000)
            let run = try runCheck(lab, token: token)
            let node = run.results.nodes.first { $0.name == "m1" }
            let result = try hold.finish(timeout: 20)
            secMeasure(
                "control saturation: 300 idle connections to m1:7950 (\(secJSON(result["by_port_kind"]))); "
                    + "a check meanwhile: exit \(run.status), m1 agent \(node?.agent.status.rawValue ?? "?"): \(node?.agent.detail ?? "")")
            // Was W1: idle connections that never send a head are evicted for new ones, so the check gets through.
            #expect(run.status == 0 && node?.agent.isUp == true, "m1: \(node?.agent.detail ?? "")")
            // Once the idle connections are gone the agent serves again.
            let again = try runCheck(lab, token: token)
            #expect(again.status == 0, "\(again.results.nodes.map { "\($0.name): \($0.agent.detail ?? "")" })")
        }
    }

    @Test("unauthenticated bodies are buffered before the signature is checked: 100 x 4 MiB (W2)")
    func unauthenticatedBodies() throws {
        try withSecurityLab(encrypted: false) { lab, token in
            let agent = lab.node("m1")
            let pid = try #require(lab.agentPID("m1"))
            let before = try #require(SecProcStatus(pid: pid))
            let attack = try SecAttacker(
                lab, in: lab.switchNamespace, name: "bigbody",
                [
                    "bigbody", "--dst", "\(agent.address)", "--port", "7950", "--connections", "100",
                    "--size", "\(ControlAuth.maximumBodyBytes)", "--seconds", "7",
                ])
            var peak = before
            let deadline = Date().addingTimeInterval(25)
            while attack.isRunning && Date() < deadline {
                if let s = SecProcStatus(pid: pid) { peak = peak.max(s) }
                usleep(200_000)
            }
            let result = try attack.finish(timeout: 1)
            usleep(1_000_000)
            let after = SecProcStatus(pid: pid)
            secMeasure(
                "unauthenticated bodies: 100 connections x (4 MiB - 1) with a bogus signature, held: \(secJSON(result)); "
                    + "agent RSS before \(before.rssKiB / 1024) MiB, peak (VmHWM) \(peak.hwmKiB / 1024) MiB, after \((after?.rssKiB ?? 0) / 1024) MiB"
            )
            #expect(kill(pid, 0) == 0, "the agent survived")
            // Was W2: a request that cannot authenticate is refused at its head; bodies in flight share a 16 MiB budget.
            #expect(peak.hwmKiB < Self.rssBoundKiB, "peak RSS \(peak.hwmKiB / 1024) MiB")
            let run = try runCheck(lab, token: token)
            #expect(run.status == 0)
        }
    }

    // MARK: - Helpers

    static let encryptedProfile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("probes/swarm-encrypted.yaml").path

    /// Three nodes (m1 the agent under attack, w1 the victim, w2 a bystander), agents on all.
    func withSecurityLab(encrypted: Bool, _ body: (Lab, String) throws -> Void) throws {
        let lab = try Lab(nodes: [("m1", .manager), ("w1", .worker), ("w2", .worker)])
        defer { lab.destroy() }
        let token = try lab.write("token", ClusterToken.generate() + "\n")
        try lab.startAgents(
            binary: swarmprobeBinary(), tokenFile: token,
            extraArguments: encrypted ? ["--profile", Self.encryptedProfile] : [])
        try body(lab, token)
    }
}

/// One HTTP request for `security_attacks.py control`.
struct SecRequest {
    var name: String
    var method = "POST"
    var path = ControlPath.hello
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    var bodySize: Int?
    var raw: [UInt8]?
    var expect: Int
    var mentions: String
    /// Set when the request is validly signed: its answer must be signed back.
    var nonce: String?

    init(
        name: String, method: String, path: String, headers: [String: String], body: [UInt8] = [], bodySize: Int? = nil,
        expect: Int, mentions: String, nonce: String? = nil
    ) {
        self.name = name
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.bodySize = bodySize
        self.expect = expect
        self.mentions = mentions
        self.nonce = nonce
    }

    init(name: String, raw: [UInt8], expect: Int, mentions: String) {
        self.name = name
        self.raw = raw
        self.expect = expect
        self.mentions = mentions
    }

    var json: [String: Any] {
        var d: [String: Any] = ["name": name, "method": method, "path": path, "headers": headers]
        if let raw { d["raw_b64"] = Data(raw).base64EncodedString() }
        if let bodySize { d["body_size"] = bodySize } else { d["body_b64"] = Data(body).base64EncodedString() }
        return d
    }
}

/// `security_attacks.py` running in a lab namespace; its stdout and stderr go to files in the lab.
final class SecAttacker {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("security_attacks.py").path
    static let python: String =
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "python3"

    private let process: ChildProcess
    private let arguments: [String]
    let out: URL
    let err: URL

    init(_ lab: Lab, in namespace: String, name: String, _ arguments: [String]) throws {
        out = lab.directory.appendingPathComponent("attack-\(name).out")
        err = lab.directory.appendingPathComponent("attack-\(name).err")
        self.arguments = arguments
        // `ip netns exec` execs python: the pid is the attacker's own, so a timeout kills exactly it.
        process = try ChildProcess(
            ["ip", "netns", "exec", namespace, SecAttacker.python, SecAttacker.script] + arguments,
            stdout: .file(out.path), stderr: .file(err.path))
    }

    var isRunning: Bool { process.isRunning }

    /// Waits at most `timeout` seconds (then SIGKILLs this attacker by its pid) and returns what it printed.
    private func wait(timeout: TimeInterval) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        process.signal(SIGKILL)
        process.wait()
        return (try? String(contentsOf: out, encoding: .utf8)) ?? ""
    }

    private func failure(_ text: String) -> ProgramError {
        ProgramError(
            command: ["security_attacks.py"] + arguments, status: process.wait().status,
            message: ((try? String(contentsOf: err, encoding: .utf8)) ?? "") + text)
    }

    func finish(timeout: TimeInterval) throws -> [String: Any] {
        let text = wait(timeout: timeout)
        guard let line = text.split(separator: "\n").last,
            let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw failure(text) }
        return obj
    }

    func finishArray(timeout: TimeInterval) throws -> [[String: Any]] {
        let text = wait(timeout: timeout)
        guard let line = text.split(separator: "\n").last,
            let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [[String: Any]]
        else { throw failure(text) }
        return obj
    }
}

/// tcpdump in a namespace, for diagnostics: what a victim received when it should have received nothing.
final class SecCapture {
    private let process: ChildProcess
    let file: URL
    private var text: String?

    init?(_ lab: Lab, in namespace: String, filter: String, name: String) {
        guard (try? Program.path("tcpdump")) != nil else { return nil }
        file = lab.directory.appendingPathComponent("capture-\(name).pcap")
        guard let p = try? ChildProcess(["ip", "netns", "exec", namespace, "tcpdump", "-i", "any", "-nn", "-U", "-w", file.path, filter]) else {
            return nil
        }
        process = p
        usleep(700_000)  // tcpdump attaches its filter
    }

    /// Stops this tcpdump (by its own pid) and returns what it captured, decoded.
    @discardableResult
    func stop() -> String {
        if let text { return text }
        // -U wrote every packet as it came; SIGTERM, then SIGKILL (a signal the test runner ignores stays
        // ignored in its children, so never wait on one).
        process.terminate(grace: 1)
        let decoded = (try? Program.capture(["tcpdump", "-nn", "-v", "-r", file.path]))?.stdout ?? ""
        text = decoded.split(separator: "\n").prefix(40).joined(separator: "\n")
        return text!
    }
}

struct SecCounter: CustomStringConvertible {
    var packets: Int
    var bytes: Int
    var description: String { "\(packets) packets, \(bytes) B" }
}

/// Counters in `namespace` (table `inet spsec`): `from_peer` counts every packet but ICMP arriving from `peer`
/// (prerouting, before any socket or firewall), `from_peer_icmp` the ICMP, `to_peer` every packet this namespace
/// sends to it. Bytes are IP lengths.
func secInstallCounters(_ lab: Lab, on namespace: String, peer: IPAddress) throws {
    try Program.run(
        ["ip", "netns", "exec", namespace, "nft", "-f", "-"],
        input: """
            table inet spsec {
              counter from_peer {}
              counter from_peer_icmp {}
              counter to_peer {}
              chain pre {
                type filter hook prerouting priority -300; policy accept;
                ip saddr \(peer) ip protocol != icmp counter name "from_peer"
                ip saddr \(peer) ip protocol icmp counter name "from_peer_icmp"
              }
              chain out { type filter hook output priority -300; policy accept; ip daddr \(peer) counter name "to_peer"; }
            }

            """)
}

func secReadCounter(_ lab: Lab, on namespace: String, _ name: String) throws -> SecCounter {
    let text = try Program.run(["ip", "netns", "exec", namespace, "nft", "list", "counter", "inet", "spsec", name])
    let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
    func after(_ w: String) -> Int {
        guard let i = words.firstIndex(of: Substring(w)), i + 1 < words.count else { return -1 }
        return Int(words[i + 1]) ?? -1
    }
    return SecCounter(packets: after("packets"), bytes: after("bytes"))
}

/// A kernel SNMP counter of a namespace (`nstat -asz NAME`), e.g. UdpRcvbufErrors.
func secNstat(on namespace: String, _ name: String) throws -> Int {
    let text = try Program.run(["ip", "netns", "exec", namespace, "nstat", "-asz", name])
    for line in text.split(separator: "\n") {
        let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if f.count > 1, f[0] == Substring(name) { return Int(f[1]) ?? 0 }
    }
    return 0
}

/// What /proc says about a process.
struct SecProcStatus {
    var rssKiB: Int
    /// The kernel's own high-water mark of RSS: the true peak, between samples too.
    var hwmKiB: Int
    var threads: Int
    var fds: Int

    init?(pid: Int32) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int {
            for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                return parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            }
            return 0
        }
        rssKiB = field("VmRSS")
        hwmKiB = field("VmHWM")
        threads = field("Threads")
        fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    func max(_ o: SecProcStatus) -> SecProcStatus {
        var m = self
        m.rssKiB = Swift.max(rssKiB, o.rssKiB)
        m.hwmKiB = Swift.max(hwmKiB, o.hwmKiB)
        m.threads = Swift.max(threads, o.threads)
        m.fds = Swift.max(fds, o.fds)
        return m
    }
}

func secNum(_ any: Any?) -> Double {
    switch any {
    case let n as NSNumber: return n.doubleValue
    case let i as Int: return Double(i)
    case let d as Double: return d
    default: return -1
    }
}

func secRatio(_ a: Int, _ b: Int) -> String {
    b == 0 ? "n/a" : String(format: "%.4f", Double(a) / Double(b))
}

func secJSON(_ any: Any?) -> String {
    guard let any, JSONSerialization.isValidJSONObject(any),
        let data = try? JSONSerialization.data(withJSONObject: any, options: [.sortedKeys])
    else { return "\(any ?? "nil")" }
    return String(decoding: data, as: UTF8.self)
}

/// `{"error": "..."}` on one line: what every refusal must look like.
func secIsOneLineJSONError(_ body: Data) -> Bool {
    guard !body.isEmpty, !body.contains(UInt8(ascii: "\n")),
        let obj = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
    else { return false }
    return obj["error"] is String
}

/// Appends `line` to the file `SWARMPROBE_SECURITY_MEASURES` names, if it does.
func secMeasure(_ line: String) {
    guard let path = ProcessInfo.processInfo.environment["SWARMPROBE_SECURITY_MEASURES"] else { return }
    guard
        let h = FileHandle(forWritingAtPath: path)
            ?? (FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil)
    else { return }
    defer { try? h.close() }
    _ = try? h.seekToEnd()
    try? h.write(contentsOf: Data((line + "\n").utf8))
}
